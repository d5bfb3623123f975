"""Fixtures for the train-mode tests: generated data files and a runner for entrypoint.sh."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from retailsage.train.local import ENTRYPOINT, build_training_tree

N_ROWS = 4000
SEED = 11


def job_env(base: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a training subprocess: the venv's python, one thread, the tree."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        {
            "RETAILSAGE_PYTHON": sys.executable,
            "SAGEMAKER_BASE_DIR": str(base),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def transactions_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 4k generated transaction lines with the injected-anomaly label, as CSV."""
    from retailsage.data.synthetic import generate_transactions

    frame = generate_transactions(N_ROWS, seed=SEED, anomaly_rate=0.03, with_labels=True)
    path = tmp_path_factory.mktemp("data") / "transactions.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a SageMaker-shaped tree with the given channels and hyperparameters."""

    def make(
        channels: Mapping[str, Sequence[Path]],
        hyperparameters: Mapping[str, str],
        name: str = "opt_ml",
    ) -> Path:
        base = tmp_path / name
        build_training_tree(base, channels, hyperparameters)
        return base

    return make


def run_entrypoint(
    base: Path, timeout: float = 120, extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `entrypoint.sh train` against ``base`` and capture its output."""
    return subprocess.run(
        [str(ENTRYPOINT), "train"],
        env=job_env(base, extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
