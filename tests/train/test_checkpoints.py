"""Managed-spot behaviour: SIGTERM checkpoints and stops quickly; a rerun resumes."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.features.gap import snapshot_rows
from retailsage.models.artifacts import load_model
from retailsage.models.checkpoints import list_checkpoints
from retailsage.train import runner
from retailsage.train.local import ENTRYPOINT, build_training_tree

from .conftest import job_env, run_entrypoint

LSTM = {
    "model_type": "lstm",
    "epochs": "25",
    "hidden_size": "8",
    "batch_size": "16",
    "early_stopping_epochs": "0",
    "device": "cpu",
    "seed": "3",
}
STEP = re.compile(r"^validation:mae=\S+; step=(\d+)$", re.M)


def lstm_checkpoints(base: Path) -> list[int]:
    return [step for step, _ in list_checkpoints(base / "checkpoints", "lstm", ".pt")]


def start_and_stop_after_epoch(base: Path, epoch: int) -> tuple[int, float, str]:
    """Start training, send SIGTERM once epoch ``epoch`` is reported; return (rc, secs, out)."""
    process = subprocess.Popen(
        [str(ENTRYPOINT), "train"],
        env=job_env(base),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = STEP.match(line.strip())
            if match and int(match.group(1)) >= epoch:
                break
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        lines.extend(process.stdout.readlines())
        code = process.wait(timeout=60)
        return code, time.monotonic() - signalled, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def predictions(base: Path, rows: pd.DataFrame) -> np.ndarray:
    return load_model(base / "model").predict(rows)["predicted_gap_days"].to_numpy()


def test_sigterm_checkpoints_then_a_rerun_resumes_to_the_same_model(tmp_path, transactions_csv):
    reference = tmp_path / "reference"
    build_training_tree(reference, {"train": [transactions_csv]}, LSTM)
    result = run_entrypoint(reference)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [int(s) for s in STEP.findall(result.stdout)] == list(range(1, 26))

    spot = tmp_path / "spot"
    build_training_tree(spot, {"train": [transactions_csv]}, LSTM)
    code, seconds, _ = start_and_stop_after_epoch(spot, 2)
    assert code == 143
    assert seconds < 30
    failure = (spot / "output" / "failure").read_text()
    assert failure.startswith("Stopped: the training job was stopped by SIGTERM")
    assert "Traceback" not in failure
    saved = lstm_checkpoints(spot)
    assert saved, "no checkpoint written on SIGTERM"
    stopped_at = saved[-1]
    assert 2 <= stopped_at < 25
    assert not list(spot.glob("checkpoints/*.sagemaker-ignore"))

    # A restarted spot job gets a fresh /opt/ml but the synced checkpoints.
    build_training_tree(spot, {"train": [transactions_csv]}, LSTM)
    resumed = run_entrypoint(spot)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [int(s) for s in STEP.findall(resumed.stdout)]
    assert steps == list(range(stopped_at + 1, 26))

    rows = snapshot_rows(clean_transactions(load_transactions(transactions_csv)))
    np.testing.assert_allclose(predictions(spot, rows), predictions(reference, rows), atol=1e-3)


def test_xgboost_resumes_from_a_populated_checkpoint_dir(tmp_path, transactions_csv, capsys):
    base = tmp_path / "opt_ml"
    first = {
        "model_type": "xgboost",
        "num_round": "10",
        "checkpoint_every": "5",
        "nthread": "1",
        "early_stopping_rounds": "0",
    }
    build_training_tree(base, {"train": [transactions_csv]}, first)
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 0
    saved = [s for s, _ in list_checkpoints(base / "checkpoints", "xgboost", ".ubj")]
    assert saved == [5, 10]
    capsys.readouterr()

    build_training_tree(base, {"train": [transactions_csv]}, {**first, "num_round": "16"})
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 0
    steps = [int(s) for s in STEP.findall(capsys.readouterr().out)]
    assert steps == list(range(11, 17))
    assert load_model(base / "model").booster_.num_boosted_rounds() == 16
