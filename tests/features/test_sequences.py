"""LSTM sequence inputs: order, padding, mask, covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retailsage.core.errors import DataError, HyperparameterError
from retailsage.features.gap import gap_training_rows, snapshot_rows
from retailsage.features.sequences import (
    STEP_FEATURES,
    covariate_array,
    covariate_columns,
    sequence_arrays,
)


def test_sequences_run_oldest_to_newest_and_are_left_padded(tiny_history: pd.DataFrame) -> None:
    rows = gap_training_rows(tiny_history)
    values, mask = sequence_arrays(rows, window=4)
    assert values.dtype == np.float32 and values.shape == (5, 4, len(STEP_FEATURES))
    assert mask.dtype == np.bool_ and mask.shape == (5, 4)
    # Customer A's last order has gaps 10, 4, 30 (oldest -> newest).
    np.testing.assert_array_equal(mask[3], [False, True, True, True])
    np.testing.assert_allclose(values[3, :, 0], np.log1p([0, 10, 4, 30]), rtol=1e-6)
    np.testing.assert_allclose(values[3, :, 1], np.array([0, 10, 4, 30]) / 30.0, rtol=1e-6)
    assert not mask[0].any() and not values[0].any()  # a first order has no gap


def test_window_one_is_the_most_recent_gap(tiny_history: pd.DataFrame) -> None:
    rows = gap_training_rows(tiny_history)
    _, mask = sequence_arrays(rows, window=1)
    np.testing.assert_array_equal(mask[:, 0], rows["gap_lag_1"].notna().to_numpy())


def test_snapshot_rows_give_the_same_sequences_as_training_rows(
    random_lines: pd.DataFrame,
) -> None:
    rows = gap_training_rows(random_lines)
    last = rows.groupby("CustomerID").tail(1)
    snapshot = snapshot_rows(random_lines)
    for left, right in zip(sequence_arrays(last, 8), sequence_arrays(snapshot, 8), strict=True):
        np.testing.assert_array_equal(left, right)
    np.testing.assert_array_equal(covariate_array(last), covariate_array(snapshot))


@pytest.mark.parametrize("window", [0, 13])
def test_window_out_of_range(tiny_history: pd.DataFrame, window: int) -> None:
    with pytest.raises(HyperparameterError, match="window"):
        sequence_arrays(gap_training_rows(tiny_history), window)


def test_missing_lag_column_is_a_data_error(tiny_history: pd.DataFrame) -> None:
    rows = gap_training_rows(tiny_history).drop(columns="gap_lag_3")
    with pytest.raises(DataError, match="gap_lag_3"):
        sequence_arrays(rows, 5)


def test_covariates_are_finite_and_scaled(tiny_history: pd.DataFrame) -> None:
    rows = gap_training_rows(tiny_history)
    covariates = covariate_array(rows)
    names = covariate_columns()
    assert covariates.shape == (len(rows), len(names)) and covariates.dtype == np.float32
    assert np.isfinite(covariates).all()
    assert "Country" not in names and not any(name.startswith("gap_lag") for name in names)
    spend = covariates[:, names.index("cumulative_spend")]
    np.testing.assert_allclose(spend, np.log1p(rows["cumulative_spend"]), rtol=1e-6)
    month = covariates[:, names.index("month")]
    np.testing.assert_allclose(month, rows["month"] / 12.0, rtol=1e-6)
    assert covariates[0, names.index("mean_gap")] == 0.0  # NaN (no gap yet) -> 0
