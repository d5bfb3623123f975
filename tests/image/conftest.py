"""Fixtures for the `image`-marked tests: a usable engine, the built image, trained model trees.

Environment knobs (all optional):
  RETAILSAGE_TEST_IMAGE   use this already-built image instead of building one.
  RETAILSAGE_BASE_IMAGE   BASE_IMAGE for the build (default: python:3.11-slim-bookworm when it is
                          present locally or docker can pull it, else the debootstrap base
                          localhost/debian-py:bookworm from scripts/make_base_image.sh).
  RETAILSAGE_PIP_SOURCE   ``wheelhouse`` (default: built on this host, offline in the build) or
                          ``index``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pandas as pd
import pytest

from retailsage.core.containers import DEBOOTSTRAP_BASE, DEFAULT_BASE, Engine, find_engine

REPO = Path(__file__).resolve().parents[2]
TEST_TAG = "localhost/retailsage:test"
BUILD_TIMEOUT_S = 1800
TRAIN_TIMEOUT_S = 600
N_ROWS = 4000
SEED = 11

# Small but real configurations: every family trains in seconds on N_ROWS lines.
FAMILY_HYPERPARAMETERS: dict[str, dict[str, str]] = {
    "xgboost": {"model_type": "xgboost", "num_round": "30", "nthread": "1"},
    "lstm": {
        "model_type": "lstm",
        "epochs": "2",
        "hidden_size": "8",
        "batch_size": "128",
        "device": "cpu",
        "eval_protocol": "p2cap",
    },
    "pca_kmeans": {"model_type": "pca_kmeans", "n_clusters": "3", "n_init": "1"},
}


@pytest.fixture(scope="session")
def engine() -> Engine:
    """docker (daemon answering) or podman; skips with the reason when neither is usable."""
    found = find_engine()
    if found is None:
        pytest.skip(
            "neither docker (no daemon answering `docker info`) nor podman (`podman info`) is "
            "usable here; install podman (apt-get install -y podman buildah runc) to run these"
        )
    return found


def _base_image(engine: Engine) -> str | None:
    """The BASE_IMAGE build-arg to use, or ``None`` for the Dockerfile's default."""
    chosen = os.environ.get("RETAILSAGE_BASE_IMAGE")
    if chosen:
        return chosen
    if engine.name == "docker" or engine.has_image(DEFAULT_BASE):
        return None
    if engine.has_image(DEBOOTSTRAP_BASE):
        return DEBOOTSTRAP_BASE
    pytest.fail(
        f"no base image: {DEFAULT_BASE} is not local and podman builds with --pull=never; "
        f"run scripts/make_base_image.sh (creates {DEBOOTSTRAP_BASE}) or set RETAILSAGE_BASE_IMAGE"
    )


@pytest.fixture(scope="session")
def image(engine: Engine) -> str:
    """The image under test: RETAILSAGE_TEST_IMAGE, or one built now by scripts/build_image.sh."""
    given = os.environ.get("RETAILSAGE_TEST_IMAGE")
    if given:
        if not engine.has_image(given):
            pytest.fail(f"RETAILSAGE_TEST_IMAGE={given} is not a local {engine.name} image")
        return given
    command = [str(REPO / "scripts" / "build_image.sh"), "--engine", engine.name, "--tag", TEST_TAG]
    if os.environ.get("RETAILSAGE_PIP_SOURCE", "wheelhouse") == "wheelhouse":
        command.append("--wheelhouse")
    base = _base_image(engine)
    if base:
        command += ["--base", base]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert result.returncode == 0, f"image build failed:\n{result.stdout[-4000:]}{result.stderr}"
    return TEST_TAG


@pytest.fixture(scope="session")
def transactions_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 4k generated transaction lines with injected anomalies and their label, as CSV."""
    from retailsage.data.synthetic import generate_transactions

    frame = generate_transactions(N_ROWS, seed=SEED, anomaly_rate=0.03, with_labels=True)
    path = tmp_path_factory.mktemp("data") / "transactions.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def clean_transactions(transactions_csv: Path) -> pd.DataFrame:
    """The generated lines, loaded and cleaned like the training job does (request material)."""
    from retailsage.data.cleaning import clean_transactions
    from retailsage.data.loader import load_transactions

    return clean_transactions(load_transactions(transactions_csv))


RunTrain = Callable[[Path], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def run_train(engine: Engine, image: str) -> RunTrain:
    """Run ``IMAGE train`` with a host tree mounted at /opt/ml; return the finished process."""

    def run(base: Path) -> subprocess.CompletedProcess[str]:
        args = engine.run_args(image, "train", mounts={base: "/opt/ml"})
        return engine(*args[:1], "--rm", *args[1:], timeout=TRAIN_TIMEOUT_S)

    return run


def build_tree(base: Path, channels: Mapping[str, list[Path]], hp: Mapping[str, str]) -> Path:
    """Lay out a SageMaker training tree at ``base`` (the train area's own helper)."""
    from retailsage.train.local import build_training_tree

    build_training_tree(base, channels, hp)
    return base


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory, transactions_csv: Path, run_train: RunTrain
) -> Iterator[dict[str, tuple[Path, subprocess.CompletedProcess[str]]]]:
    """Every family trained once inside the image: family -> (tree, finished process)."""
    results = {}
    for family, hyperparameters in FAMILY_HYPERPARAMETERS.items():
        base = build_tree(
            tmp_path_factory.mktemp(f"opt_ml_{family}"),
            {"train": [transactions_csv]},
            hyperparameters,
        )
        results[family] = (base, run_train(base))
    yield results
