"""Gap features: hand-computed values, no leakage, snapshot == training row."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from feature_frames import random_clean_lines

from retailsage.core.errors import DataError
from retailsage.features.asof import SNAPSHOT_FEATURE_COLUMNS
from retailsage.features.gap import (
    AS_OF_DATE,
    CUSTOMER_ID,
    GAP_FEATURE_COLUMNS,
    LAG_COLUMNS,
    N_LAGS,
    NEXT_ORDER_DATE,
    ORDER_COLUMNS,
    ORDER_DATE,
    TARGET,
    build_orders,
    gap_training_rows,
    is_gap_feature_frame,
    snapshot_rows,
)
from retailsage.features.sequences import sequence_arrays


def test_public_column_contract() -> None:
    assert len(LAG_COLUMNS) == N_LAGS == 12
    assert LAG_COLUMNS[0] == "gap_lag_1" and LAG_COLUMNS[-1] == "gap_lag_12"
    assert GAP_FEATURE_COLUMNS[-1] == "Country"
    assert GAP_FEATURE_COLUMNS[-1 - N_LAGS : -1] == LAG_COLUMNS
    assert len(set(GAP_FEATURE_COLUMNS)) == len(GAP_FEATURE_COLUMNS)


def test_build_orders_aggregates_customer_days(tiny_history: pd.DataFrame) -> None:
    orders = build_orders(tiny_history)
    assert tuple(orders.columns) == ORDER_COLUMNS
    assert orders[CUSTOMER_ID].tolist() == ["A1"] * 4 + ["B2"]
    assert orders[ORDER_DATE].dt.strftime("%Y-%m-%d").tolist() == [
        "2011-01-03",
        "2011-01-13",
        "2011-01-17",
        "2011-02-16",
        "2011-01-10",
    ]
    # Two invoices on 2011-01-03 form one order: 2*1.5 + 4*2 + 1*1.5.
    np.testing.assert_allclose(orders["order_value"], [12.5, 5.0, 6.0, 6.0, 5.0])
    np.testing.assert_allclose(orders["order_items"], [7, 10, 3, 6, 1])
    assert orders["order_lines"].tolist() == [3, 1, 1, 1, 1]
    assert orders["Country"].tolist()[2] == "France"


def test_hand_computed_features(tiny_history: pd.DataFrame) -> None:
    rows = gap_training_rows(tiny_history)
    assert list(rows.columns) == [
        CUSTOMER_ID,
        ORDER_DATE,
        *GAP_FEATURE_COLUMNS,
        TARGET,
        NEXT_ORDER_DATE,
    ]
    a = rows[rows[CUSTOMER_ID] == "A1"].reset_index(drop=True)
    assert a["order_index"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(a["days_since_first_order"], [0, 10, 14, 44])
    np.testing.assert_array_equal(a["last_gap"], [np.nan, 10, 4, 30])
    np.testing.assert_allclose(a["mean_gap"], [np.nan, 10, 7, 44 / 3])
    np.testing.assert_array_equal(a[TARGET], [10, 4, 30, np.nan])
    assert a[NEXT_ORDER_DATE].iloc[0] == pd.Timestamp("2011-01-13")
    assert pd.isna(a[NEXT_ORDER_DATE].iloc[3])
    last = a.iloc[3]
    np.testing.assert_array_equal(last[list(LAG_COLUMNS[:4])].astype(float), [30, 4, 10, np.nan])
    assert last["gap_roll3_mean"] == pytest.approx(44 / 3)
    assert last["gap_roll3_std"] == pytest.approx(np.std([30, 4, 10], ddof=1))
    assert last["gap_roll5_mean"] == pytest.approx(44 / 3)
    assert np.isnan(a["gap_roll3_std"].iloc[1])  # one gap: no spread yet
    assert a["gap_roll3_std"].iloc[2] == pytest.approx(np.std([10, 4], ddof=1))
    np.testing.assert_allclose(a["cumulative_spend"], [12.5, 17.5, 23.5, 29.5])
    np.testing.assert_allclose(a["cumulative_items"], [7, 17, 20, 26])
    assert a["month"].tolist() == [1, 1, 1, 2]
    assert a["day_of_week"].tolist() == [0, 3, 0, 2]
    assert a["Country"].tolist() == ["United Kingdom", "United Kingdom", "France", "United Kingdom"]
    b = rows[rows[CUSTOMER_ID] == "B2"].iloc[0]
    assert b["order_index"] == 0 and np.isnan(b[TARGET]) and np.isnan(b["gap_lag_1"])


def test_lags_hold_at_most_twelve_gaps_most_recent_first() -> None:
    days = pd.date_range("2011-01-01", periods=15, freq="3D").append(
        pd.DatetimeIndex(["2011-03-01"])
    )
    lines = random_clean_lines(len(days), 1, seed=1).assign(InvoiceDate=days.as_unit("ns"))
    last = gap_training_rows(lines).iloc[-1]
    expected = np.diff(days.to_numpy()).astype("timedelta64[D]").astype(float)[::-1][:N_LAGS]
    np.testing.assert_array_equal(last[list(LAG_COLUMNS)].astype(float), expected)
    assert last["order_index"] == 15


def _perturb_after(lines: pd.DataFrame, cutoff: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Change, drop and add lines strictly after the cutoff day."""
    rng = np.random.default_rng(seed)
    later = (lines["InvoiceDate"] >= cutoff + pd.Timedelta(days=1)).to_numpy()
    keep = ~later | (rng.random(len(lines)) < 0.5)
    changed = lines.loc[keep].copy()
    scale = np.where(later[keep], 7, 1)
    changed["Quantity"] = changed["Quantity"].to_numpy() * scale
    extra = random_clean_lines(500, 60, seed=seed + 100)
    extra["InvoiceDate"] = (
        cutoff + pd.Timedelta(days=1) + (extra["InvoiceDate"] - extra["InvoiceDate"].min()) / 4
    )
    return pd.concat([changed, extra], ignore_index=True).sample(frac=1.0, random_state=seed)


@pytest.mark.parametrize("cutoff", ["2011-03-15", "2011-08-01", "2011-11-30"])
def test_future_orders_never_change_past_features(random_lines: pd.DataFrame, cutoff: str) -> None:
    day = pd.Timestamp(cutoff)
    before = gap_training_rows(random_lines)
    after = gap_training_rows(_perturb_after(random_lines, day, seed=3))
    keys = [CUSTOMER_ID, ORDER_DATE]
    old = before[before[ORDER_DATE] <= day].set_index(keys)[list(GAP_FEATURE_COLUMNS)]
    new = after[after[ORDER_DATE] <= day].set_index(keys)[list(GAP_FEATURE_COLUMNS)]
    assert len(old) > 50
    pd.testing.assert_frame_equal(old.sort_index(), new.sort_index())


@pytest.mark.parametrize("as_of", ["2011-02-01", "2011-06-30", "2011-12-31"])
def test_snapshot_equals_training_row_of_last_order(random_lines: pd.DataFrame, as_of: str) -> None:
    rows = gap_training_rows(random_lines)
    snapshot = snapshot_rows(random_lines, as_of)
    day = pd.Timestamp(as_of)
    expected = rows[rows[ORDER_DATE] < day].groupby(CUSTOMER_ID).tail(1)
    assert len(snapshot) == expected[CUSTOMER_ID].nunique() > 0
    assert (snapshot[AS_OF_DATE] == day).all()
    assert list(snapshot.columns) == [
        CUSTOMER_ID,
        AS_OF_DATE,
        ORDER_DATE,
        *SNAPSHOT_FEATURE_COLUMNS,
    ]
    recency = (day - snapshot[ORDER_DATE]).dt.days
    assert (snapshot["days_since_last_order"] == recency).all() and (recency >= 1).all()
    columns = [CUSTOMER_ID, ORDER_DATE, *GAP_FEATURE_COLUMNS]
    pd.testing.assert_frame_equal(
        snapshot[columns].reset_index(drop=True), expected[columns].reset_index(drop=True)
    )


def test_snapshot_excludes_orders_on_the_as_of_day(tiny_history: pd.DataFrame) -> None:
    snapshot = snapshot_rows(tiny_history, pd.Timestamp("2011-01-17 00:00"))
    a = snapshot[snapshot[CUSTOMER_ID] == "A1"].iloc[0]
    assert a[ORDER_DATE] < pd.Timestamp("2011-01-17") and a["order_index"] == 1
    after = snapshot_rows(tiny_history, pd.Timestamp("2011-01-18"))
    assert after[after[CUSTOMER_ID] == "A1"].iloc[0]["order_index"] == 2


def test_snapshot_default_as_of_is_day_after_last(tiny_history: pd.DataFrame) -> None:
    snapshot = snapshot_rows(tiny_history)
    assert (snapshot[AS_OF_DATE] == pd.Timestamp("2011-02-17")).all()
    assert snapshot[ORDER_DATE].tolist() == [pd.Timestamp("2011-02-16"), pd.Timestamp("2011-01-10")]


def test_snapshot_before_any_data_is_empty(tiny_history: pd.DataFrame) -> None:
    snapshot = snapshot_rows(tiny_history, "2010-01-01")
    assert snapshot.empty
    assert list(snapshot.columns) == [
        CUSTOMER_ID,
        AS_OF_DATE,
        ORDER_DATE,
        *SNAPSHOT_FEATURE_COLUMNS,
    ]


def test_snapshot_rejects_a_non_date(tiny_history: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="not a date"):
        snapshot_rows(tiny_history, "yesterday-ish")


def test_lines_without_customer_are_ignored(tiny_history: pd.DataFrame) -> None:
    anonymous = tiny_history.iloc[:2].assign(CustomerID=pd.array([pd.NA, pd.NA], "string"))
    with_anonymous = pd.concat([tiny_history, anonymous], ignore_index=True)
    pd.testing.assert_frame_equal(
        gap_training_rows(with_anonymous), gap_training_rows(tiny_history)
    )


def test_integer_customer_ids_give_the_same_rows(tiny_history: pd.DataFrame) -> None:
    numeric = tiny_history.assign(
        CustomerID=tiny_history["CustomerID"].map({"A1": 12346, "B2": 12347}).astype("Int64")
    )
    rows = gap_training_rows(numeric)
    assert rows[CUSTOMER_ID].dtype == "string"
    assert rows[CUSTOMER_ID].tolist() == ["12346"] * 4 + ["12347"]
    expected = gap_training_rows(tiny_history)
    pd.testing.assert_frame_equal(
        rows.drop(columns=CUSTOMER_ID), expected.drop(columns=CUSTOMER_ID)
    )


def test_empty_and_missing_column_inputs(tiny_history: pd.DataFrame) -> None:
    empty = gap_training_rows(tiny_history.iloc[:0])
    assert empty.empty and is_gap_feature_frame(empty)
    with pytest.raises(DataError, match="UnitPrice"):
        build_orders(tiny_history.drop(columns="UnitPrice"))


def test_is_gap_feature_frame(tiny_history: pd.DataFrame) -> None:
    assert is_gap_feature_frame(gap_training_rows(tiny_history))
    assert is_gap_feature_frame(snapshot_rows(tiny_history)[list(GAP_FEATURE_COLUMNS)])
    assert not is_gap_feature_frame(tiny_history)


def test_snapshot_rows_are_self_contained_csv_lines(random_lines: pd.DataFrame) -> None:
    snapshot = snapshot_rows(random_lines, "2011-10-01")[list(GAP_FEATURE_COLUMNS)]
    text = snapshot.to_csv(header=False, index=False, float_format="%.17g")
    lines = text.splitlines(keepends=True)
    half = len(lines) // 2
    parts = [
        pd.read_csv(io.StringIO("".join(chunk)), header=None, names=list(GAP_FEATURE_COLUMNS))
        for chunk in (lines[:half], lines[half:])
    ]
    for part, original in zip(parts, (snapshot.iloc[:half], snapshot.iloc[half:]), strict=True):
        np.testing.assert_array_equal(
            sequence_arrays(part, N_LAGS)[0], sequence_arrays(original, N_LAGS)[0]
        )
        numeric = list(GAP_FEATURE_COLUMNS[:-1])
        np.testing.assert_array_equal(
            part[numeric].to_numpy(dtype=float), original[numeric].to_numpy(dtype=float)
        )
        assert part["Country"].tolist() == original["Country"].tolist()
