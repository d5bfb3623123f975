"""Managed-spot behaviour: SIGTERM checkpoints and stops quickly; a rerun resumes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
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


def test_train_local_twice_with_other_data_retrains_and_says_why(
    tmp_path, transactions_csv, monkeypatch, capfd
):
    from retailsage.train.local import main as train_local

    monkeypatch.setenv("RETAILSAGE_PYTHON", sys.executable)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    base = tmp_path / "local" / "opt_ml"
    args = ["--base", str(base), "--hp", "model_type=xgboost", "--hp", "num_round=6"]
    args += ["--hp", "checkpoint_every=3", "--hp", "nthread=1", "--hp", "early_stopping_rounds=0"]
    assert train_local([*args, "--data", str(transactions_csv)]) == 0
    first = capfd.readouterr()
    assert [int(s) for s in STEP.findall(first.out)] == list(range(1, 7))

    smaller = tmp_path / "smaller.csv"
    lines = transactions_csv.read_text().splitlines(keepends=True)
    smaller.write_text("".join(lines[: len(lines) * 2 // 3]))
    assert train_local([*args, "--data", str(smaller)]) == 0
    second = capfd.readouterr()
    assert [int(s) for s in STEP.findall(second.out)] == list(range(1, 7)), "0 rounds on new data"
    assert "WARNING" in second.err
    assert "written for different data or hyperparameters" in second.err
    report = json.loads((base / "output/data/report.json").read_text())
    assert report["checkpoints"]["notes"][0].startswith("ignoring 2 xgboost checkpoint(s)")

    # the same data and hyperparameters again: the finished job's checkpoint is resumed
    assert train_local([*args, "--data", str(smaller)]) == 0
    third = capfd.readouterr()
    assert STEP.findall(third.out) == []
    report = json.loads((base / "output/data/report.json").read_text())
    assert report["checkpoints"]["notes"] == [  # the holdout fit, then the refit (refit_full)
        "resuming xgboost from checkpoint xgboost-00000006.ubj (step 6)",
        "refit: resuming xgboost from checkpoint xgboost-00000006.ubj (step 6)",
    ]
