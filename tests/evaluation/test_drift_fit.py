"""The drift reference describes the rows a model was fitted on; small-batch noise is removed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retailsage.data.cleaning import clean_transactions
from retailsage.data.synthetic import generate_transactions
from retailsage.evaluation.drift import (
    IGNORED_REASON,
    MIN_BATCH_ROWS,
    build_reference,
    population_stability,
)
from retailsage.features.asof import SNAPSHOT_FEATURE_COLUMNS
from retailsage.features.protocols import split_asof
from retailsage.models.gap_common import filtered_training_rows
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig
from retailsage.train.runner import fitted_inputs


def _snapshots() -> pd.DataFrame:
    clean = clean_transactions(generate_transactions(8000, seed=3))
    return split_asof(clean, None, 60, 7, 12).train


def test_gap_reference_is_the_fitted_snapshot_rows_and_skips_ignored_month() -> None:
    train = _snapshots()
    config = XGBoostGapConfig(num_round=5, early_stopping_rounds=0, outlier_filter=True)
    model = XGBoostGap(config).fit(train)
    rows, ignored = fitted_inputs(model, train)
    expected_rows = filtered_training_rows(train, model.spec_, config)
    assert rows.index.equals(expected_rows.index) and len(rows) < len(train)  # outliers out
    assert ignored == ("month",)
    reference = build_reference(rows, model.input_columns, ignored)
    assert reference["rows"] == len(expected_rows)
    assert reference["columns"]["month"] == {"kind": "skipped", "reason": IGNORED_REASON}
    gap = reference["columns"]["days_since_last_order"]
    values = expected_rows["days_since_last_order"].to_numpy(np.float64)
    assert gap["edges"] == sorted({float(q) for q in np.quantile(values, np.arange(1, 10) / 10)})


def test_a_default_run_sized_sample_of_the_training_rows_does_not_alarm() -> None:
    train = _snapshots()
    reference = build_reference(train, SNAPSHOT_FEATURE_COLUMNS, ("month",))
    for seed in range(5):
        batch = train.sample(214, random_state=seed)
        report = population_stability(reference, batch, threshold=0.2)
        assert report.drifted == [], (seed, report.psi)
        assert all(report.psi[c] <= report.psi_raw[c] for c in report.psi)  # noise removed
    shifted = train.sample(214, random_state=0).assign(
        days_since_last_order=lambda f: f["days_since_last_order"] + 200
    )
    assert population_stability(reference, shifted, 0.2).drifted == ["days_since_last_order"]


def test_a_tiny_batch_raises_no_alarm() -> None:
    train = _snapshots()
    reference = build_reference(train, SNAPSHOT_FEATURE_COLUMNS)
    report = population_stability(reference, train.head(MIN_BATCH_ROWS - 1), 0.2)
    assert report.drifted == [] and report.psi == {}
    assert "too small" in report.skipped["days_since_last_order"]


def test_snapshot_reference_records_as_of_dates_and_the_report_the_gap() -> None:
    train = _snapshots()
    reference = build_reference(train, SNAPSHOT_FEATURE_COLUMNS, ("month",))
    last = pd.Timestamp(train["as_of_date"].max())
    assert reference["as_of"]["last"] == str(last.date())
    assert reference["as_of"]["dates"] == train["as_of_date"].nunique()
    batch = train.sample(214, random_state=1).assign(
        as_of_date=(last + pd.Timedelta(days=30)).isoformat()  # as the transform output has it
    )
    report = population_stability(reference, batch, 0.2)
    assert report.context["days_after_training"] == 30
    assert report.to_dict()["batch_as_of"] == str((last + pd.Timedelta(days=30)).date())
