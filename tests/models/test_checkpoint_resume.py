"""Checkpoint resume: early-stopping state survives a restart; a changed fingerprint is ignored."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from retailsage.models.base import TrainingHooks, TrainingInterrupted
from retailsage.models.checkpoints import SUPERSEDED_DIR, list_checkpoints
from retailsage.models.lstm_gap import LSTMGap, LSTMGapConfig
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig

EARLY = XGBoostGapConfig(
    num_round=400,
    eta=0.5,
    max_depth=4,
    min_child_weight=1.0,
    min_child_fraction=0.0,
    subsample=1.0,
    colsample_bytree=1.0,
    early_stopping_rounds=4,
    nthread=1,
    recency_halflife_days=0.0,
)


class Recorder:
    """Hooks that record validation steps and can ask for a stop after a given step."""

    def __init__(self, directory: Path, fingerprint: str | None, stop_after: int | None = None):
        self.steps: list[int] = []
        self.stop_after = stop_after
        self.hooks = TrainingHooks(
            checkpoint_dir=directory,
            checkpoint_every=1,
            on_metric=self.metric,
            should_stop=lambda: self.stop_after is not None and self.last >= self.stop_after,
            fingerprint=fingerprint,
        )

    @property
    def last(self) -> int:
        return self.steps[-1] if self.steps else 0

    def metric(self, name: str, value: float, step: int) -> None:
        if name == "validation:mae":
            self.steps.append(step)


def split(gap_rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    half = len(gap_rows) * 3 // 4
    return gap_rows.iloc[:half], gap_rows.iloc[half:]


def xgb_fingerprints(directory: Path) -> list[str | None]:
    found = []
    for _, path in list_checkpoints(directory, "xgboost", ".ubj"):
        booster = xgb.Booster()
        booster.load_model(str(path))
        found.append(booster.attr("retailsage_fingerprint"))
    return found


def test_xgboost_resume_keeps_the_early_stopping_state(tmp_path, gap_rows):
    train, validation = split(gap_rows)
    reference = Recorder(tmp_path / "reference", "fp")
    full = XGBoostGap(EARLY).fit(train, validation, hooks=reference.hooks)
    stopped_at = reference.last
    best_rounds = full.booster_.num_boosted_rounds()
    assert stopped_at < EARLY.num_round, "early stopping never triggered; the test proves nothing"
    assert stopped_at == best_rounds + EARLY.early_stopping_rounds
    assert best_rounds >= 2

    # interrupted after the best round, before patience ran out
    cut = best_rounds + EARLY.early_stopping_rounds // 2
    spot = tmp_path / "spot"
    first = Recorder(spot, "fp", stop_after=cut)
    with pytest.raises(TrainingInterrupted):
        XGBoostGap(EARLY).fit(train, validation, hooks=first.hooks)
    assert first.last == cut

    resumed = Recorder(spot, "fp")
    model = XGBoostGap(EARLY).fit(train, validation, hooks=resumed.hooks)
    assert resumed.steps == list(range(cut + 1, stopped_at + 1))
    assert model.booster_.num_boosted_rounds() == best_rounds
    assert model.booster_.attr("best_iteration") == str(best_rounds - 1)
    assert model.booster_.attr("retailsage_fingerprint") is None
    np.testing.assert_allclose(model.predict(validation), full.predict(validation), rtol=1e-6)

    # a re-run after the job finished resumes the final checkpoint and trains nothing more
    again = Recorder(spot, "fp")
    rerun = XGBoostGap(EARLY).fit(train, validation, hooks=again.hooks)
    assert again.steps == []
    assert rerun.booster_.num_boosted_rounds() == best_rounds


def test_xgboost_ignores_checkpoints_of_another_fingerprint(tmp_path, gap_rows, caplog):
    train, validation = split(gap_rows)
    config = XGBoostGapConfig(num_round=6, early_stopping_rounds=0, nthread=1)
    directory = tmp_path / "ckpt"
    XGBoostGap(config).fit(train, validation, hooks=Recorder(directory, "old-data").hooks)
    assert xgb_fingerprints(directory)[-1] == "old-data"

    fresh = Recorder(directory, "new-data")
    with caplog.at_level(logging.WARNING, logger="retailsage.models.checkpoints"):
        model = XGBoostGap(config).fit(train, validation, hooks=fresh.hooks)
    assert fresh.steps == list(range(1, 7)), "the new job must train every round itself"
    assert model.booster_.num_boosted_rounds() == 6
    assert "different data or hyperparameters" in caplog.text
    assert fresh.hooks.notes and fresh.hooks.notes[0].startswith("ignoring 3 xgboost checkpoint(s)")
    assert set(xgb_fingerprints(directory)) == {"new-data"}
    superseded = list((directory / SUPERSEDED_DIR).rglob("xgboost-*.ubj"))
    assert superseded, "the old checkpoints were deleted instead of set aside"

    same = Recorder(directory, "new-data")
    XGBoostGap(config).fit(train, validation, hooks=same.hooks)
    assert same.steps == []
    assert same.hooks.notes == ["resuming xgboost from checkpoint xgboost-00000006.ubj (step 6)"]


def test_a_checkpoint_without_a_fingerprint_is_not_resumed_by_a_fingerprinted_job(
    tmp_path, gap_rows
):
    train, validation = split(gap_rows)
    config = XGBoostGapConfig(num_round=4, early_stopping_rounds=0, nthread=1)
    directory = tmp_path / "ckpt"
    XGBoostGap(config).fit(train, validation, hooks=Recorder(directory, None).hooks)
    assert xgb_fingerprints(directory)[-1] is None
    fresh = Recorder(directory, "fp")
    XGBoostGap(config).fit(train, validation, hooks=fresh.hooks)
    assert fresh.steps == [1, 2, 3, 4]


def test_lstm_ignores_checkpoints_of_another_fingerprint(tmp_path, gap_rows, caplog):
    train, validation = split(gap_rows)
    config = LSTMGapConfig(epochs=2, hidden_size=4, batch_size=64, device="cpu", num_threads=1)
    directory = tmp_path / "ckpt"
    LSTMGap(config).fit(train, validation, hooks=Recorder(directory, "old").hooks)
    assert [s for s, _ in list_checkpoints(directory, "lstm", ".pt")] == [1, 2]

    fresh = Recorder(directory, "new")
    with caplog.at_level(logging.WARNING, logger="retailsage.models.checkpoints"):
        LSTMGap(config).fit(train, validation, hooks=fresh.hooks)
    assert fresh.steps == [1, 2]
    assert "ignoring 2 lstm checkpoint(s)" in caplog.text
    assert list((directory / SUPERSEDED_DIR).rglob("lstm-*.pt"))

    same = Recorder(directory, "new")
    LSTMGap(config).fit(train, validation, hooks=same.hooks)
    assert same.steps == []
    assert same.hooks.notes[0].startswith("resuming lstm from checkpoint lstm-00000002.pt")


def test_newer_stale_checkpoints_do_not_hide_this_jobs_own(tmp_path, gap_rows):
    # e.g. an S3 checkpoint prefix that still holds another job's higher-numbered files
    train, validation = split(gap_rows)
    mine, other = tmp_path / "mine", tmp_path / "other"
    short = XGBoostGapConfig(num_round=3, early_stopping_rounds=0, nthread=1)
    XGBoostGap(short).fit(train, validation, hooks=Recorder(mine, "mine").hooks)
    longer = XGBoostGapConfig(num_round=6, early_stopping_rounds=0, nthread=1)
    XGBoostGap(longer).fit(train, validation, hooks=Recorder(other, "other").hooks)
    for path in other.glob("xgboost-*.ubj"):
        shutil.copy(path, mine / path.name)
    assert [s for s, _ in list_checkpoints(mine, "xgboost", ".ubj")] == [1, 2, 3, 4, 5, 6]

    resumed = Recorder(mine, "mine")
    five = XGBoostGapConfig(num_round=5, early_stopping_rounds=0, nthread=1)
    model = XGBoostGap(five).fit(train, validation, hooks=resumed.hooks)
    assert resumed.steps == [4, 5]
    assert model.booster_.num_boosted_rounds() == 5
    assert resumed.hooks.notes[0].startswith("ignoring 3 xgboost checkpoint(s)")
    assert (
        resumed.hooks.notes[1] == "resuming xgboost from checkpoint xgboost-00000003.ubj (step 3)"
    )
    assert set(xgb_fingerprints(mine)) == {"mine"}


def test_a_rerun_of_a_finished_sampled_fit_trains_nothing_and_saves_the_same_model(
    tmp_path, gap_rows
):
    # row and column sampling: rounds trained again after a resume would draw other samples
    # (XGBoost keeps no RNG state in a model), so the last round must always be checkpointed
    config = XGBoostGapConfig(
        num_round=7, subsample=0.8, colsample_bytree=0.5, nthread=1, recency_halflife_days=0.0
    )
    train, _ = split(gap_rows)
    first = Recorder(tmp_path, "fp")
    first.hooks.checkpoint_every = 5
    model = XGBoostGap(config).fit(train, None, hooks=first.hooks)
    assert [step for step, _ in list_checkpoints(tmp_path, "xgboost", ".ubj")] == [5, 7]
    rerun = XGBoostGap(config).fit(train, None, hooks=first.hooks)
    assert rerun.booster_.save_raw("json") == model.booster_.save_raw("json")
