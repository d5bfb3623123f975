"""``refit_full``: the saved gap model is refitted on all the data after the holdout evaluation."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.data.synthetic import generate_transactions
from retailsage.evaluation.drift import population_stability
from retailsage.features.asof import snapshot_features
from retailsage.features.gap import build_orders
from retailsage.models.artifacts import load_model
from retailsage.models.checkpoints import list_checkpoints
from retailsage.train import runner
from retailsage.train.local import build_training_tree

HORIZON = 60
XGBOOST = {"model_type": "xgboost", "num_round": "200", "nthread": "1", "checkpoint_every": "5"}
LSTM = {
    "model_type": "lstm",
    "epochs": "6",
    "early_stopping_epochs": "2",
    "hidden_size": "8",
    "batch_size": "128",
    "device": "cpu",
    "num_threads": "1",
}
MAE_LINE = re.compile(r"^validation:mae=(\S+); step=(\d+)$", re.M)


@pytest.fixture(scope="module")
def lines_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 8k generated transaction lines (enough customers for a drift check)."""
    path = tmp_path_factory.mktemp("refit") / "transactions.csv"
    generate_transactions(8000, seed=11).to_csv(path, index=False)
    return path


def train(base: Path, data: Path, hyperparameters: dict[str, str]) -> str:
    """Run one in-process training job; return its stdout (the metric lines)."""
    build_training_tree(base, {"train": [data]}, hyperparameters)
    out = io.StringIO()
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}, stdout=out) == 0
    return out.getvalue()


def read(base: Path, name: str) -> dict[str, Any]:
    """A JSON file of the job: ``model/<name>`` or ``output/data/<name>``."""
    path = base / "model" / name
    if not path.is_file():
        path = base / "output" / "data" / name
    return dict(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def xgboost_jobs(tmp_path_factory: pytest.TempPathFactory, lines_csv: Path) -> dict[str, Path]:
    """The same xgboost job with ``refit_full`` true (the default) and false."""
    root = tmp_path_factory.mktemp("xgboost-jobs")
    train(root / "refit", lines_csv, XGBOOST)
    train(root / "holdout", lines_csv, {**XGBOOST, "refit_full": "false"})
    return {"refit": root / "refit", "holdout": root / "holdout"}


def last_order_day(data: Path) -> pd.Timestamp:
    """The last order day of the data."""
    return pd.Timestamp(
        build_orders(clean_transactions(load_transactions(data)))["order_date"].max()
    )


def test_refit_trains_on_the_newest_snapshots(xgboost_jobs: dict[str, Path], lines_csv: Path):
    newest = last_order_day(lines_csv) + pd.Timedelta(days=1 - HORIZON)
    refit, holdout = xgboost_jobs["refit"], xgboost_jobs["holdout"]
    training = read(refit, "manifest.json")["training"]
    assert training["refit_full"] is True
    assert training["as_of_last"] == str(newest.date())
    assert training["snapshots"] == 30
    assert read(refit, "drift_reference.json")["as_of"]["last"] == str(newest.date())
    # refit_full=false keeps the old behaviour: the holdout model, newest snapshot cutoff - H
    assert read(holdout, "manifest.json")["training"] == {"refit_full": False}
    cutoff = pd.Timestamp(read(holdout, "report.json")["data"]["cutoff"])
    holdout_last = cutoff - pd.Timedelta(days=HORIZON)
    assert read(holdout, "drift_reference.json")["as_of"]["last"] == str(holdout_last.date())
    assert newest > holdout_last
    report = read(refit, "report.json")
    assert report["training"] == training and "refit" in report["timings_seconds"]


def test_refit_rounds_equal_the_early_stopped_count(xgboost_jobs: dict[str, Path]):
    refit, holdout = xgboost_jobs["refit"], xgboost_jobs["holdout"]
    stopped = load_model(holdout / "model").booster_.num_boosted_rounds()
    assert 1 <= stopped < int(XGBOOST["num_round"])  # early stopping cut the holdout fit
    manifest = read(refit, "manifest.json")
    assert manifest["training"]["iterations"] == stopped
    assert manifest["config"]["num_round"] == stopped
    assert manifest["config"]["early_stopping_rounds"] == 0
    assert load_model(refit / "model").booster_.num_boosted_rounds() == stopped


def test_metrics_come_from_the_holdout_model(xgboost_jobs: dict[str, Path], lines_csv: Path):
    refit, holdout = xgboost_jobs["refit"], xgboost_jobs["holdout"]
    assert read(refit, "metrics.json") == read(holdout, "metrics.json")  # gate value included
    rows = snapshot_features(
        clean_transactions(load_transactions(lines_csv)), last_order_day(lines_csv)
    )
    scored = [load_model(b / "model").predict(rows)["predicted_gap_days"] for b in (refit, holdout)]
    assert not np.allclose(scored[0], scored[1])  # a different model is deployed


def test_refit_model_drifts_less_when_scored_as_of_the_day_after_the_data(
    xgboost_jobs: dict[str, Path], lines_csv: Path
):
    clean = clean_transactions(load_transactions(lines_csv))
    batch = snapshot_features(clean, last_order_day(lines_csv) + pd.Timedelta(days=1))
    assert len(batch) >= 50
    reports = {
        name: population_stability(read(base, "drift_reference.json"), batch, 0.2)
        for name, base in xgboost_jobs.items()
    }
    assert reports["refit"].context["days_after_training"] == HORIZON
    assert reports["holdout"].context["days_after_training"] > 2 * HORIZON
    assert len(reports["refit"].drifted) < len(reports["holdout"].drifted)


def test_refit_checkpoints_apart_and_a_rerun_resumes_both_fits(
    xgboost_jobs: dict[str, Path], lines_csv: Path, tmp_path: Path
):
    base = tmp_path / "opt_ml"
    train(base, lines_csv, XGBOOST)
    iterations = read(base, "manifest.json")["training"]["iterations"]
    refit_steps = [
        s for s, _ in list_checkpoints(base / "checkpoints" / "refit", "xgboost", ".ubj")
    ]
    assert refit_steps and refit_steps[-1] <= iterations
    holdout_steps = [s for s, _ in list_checkpoints(base / "checkpoints", "xgboost", ".ubj")]
    assert holdout_steps  # the holdout fit's own checkpoints are kept beside
    first = load_model(base / "model").booster_.save_raw("json")
    train(base, lines_csv, XGBOOST)  # same data and hyperparameters: both fits resume
    notes = read(base, "report.json")["checkpoints"]["notes"]
    assert [note.startswith("refit: resuming xgboost") for note in notes] == [False, True], notes
    assert notes[0].startswith("resuming xgboost"), notes
    assert not any("ignoring" in note for note in notes), notes
    again = load_model(base / "model")
    assert again.booster_.num_boosted_rounds() == iterations
    # the finished fits end on a checkpoint, so the rerun trains no round again: same model
    assert again.booster_.save_raw("json") == first
    reference = load_model(xgboost_jobs["refit"] / "model").booster_.save_raw("json")
    assert first == reference  # the same refit as the fixture's job


def test_lstm_refit_epochs_equal_the_best_validation_epoch(lines_csv: Path, tmp_path: Path):
    out = train(tmp_path / "lstm", lines_csv, LSTM)
    maes = {int(step): float(value) for value, step in MAE_LINE.findall(out)}
    best = min(maes, key=lambda step: (maes[step], step))
    manifest = read(tmp_path / "lstm", "manifest.json")
    assert manifest["training"]["iterations"] == best
    assert manifest["config"]["epochs"] == best
    assert manifest["config"]["early_stopping_epochs"] == 0
    assert max(maes) <= int(LSTM["epochs"])
