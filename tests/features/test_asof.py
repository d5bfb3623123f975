"""As-of snapshots: features from the history before D only, the capped target, the split."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from retailsage.core.errors import DataError
from retailsage.evaluation.metrics import asof_baselines, residual_life
from retailsage.features.asof import (
    ASOF_FEATURE_COLUMNS,
    PURCHASED,
    RECENCY,
    asof_training_rows,
    snapshot_dates,
    snapshot_features,
)
from retailsage.features.gap import AS_OF_DATE, CUSTOMER_ID, ORDER_DATE, TARGET, build_orders
from retailsage.features.protocols import split_asof

H = 60


def test_tiny_history_as_of_the_17th(tiny_history: pd.DataFrame) -> None:
    rows = asof_training_rows(tiny_history, [pd.Timestamp("2011-01-17")], H).set_index(CUSTOMER_ID)
    a, b = rows.loc["A1"], rows.loc["B2"]
    assert a[ORDER_DATE] == pd.Timestamp("2011-01-13") and a[RECENCY] == 4
    assert a["orders_last_30d"] == 2 and a["orders_last_90d"] == 2
    assert a["spend_last_90d"] == pytest.approx(3 + 8 + 1.5 + 5)
    assert a[TARGET] == 0 and a[PURCHASED] == 1  # A1 buys on the 17th itself
    assert b[RECENCY] == 7 and b[TARGET] == H and b[PURCHASED] == 0  # B2 never buys again
    assert a["residual_life"] == 6  # its gaps: 10 (> 4 elapsed) -> 10 - 4


def _brute_force(clean: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """One loop per customer over its orders: the definitions, written out plainly."""
    orders = build_orders(clean)
    out = {}
    for customer, group in orders.groupby(CUSTOMER_ID):
        before = group[group[ORDER_DATE] < day]
        after = group[group[ORDER_DATE] >= day]
        if before.empty:
            continue
        last = before[ORDER_DATE].max()
        days_before = (day - before[ORDER_DATE]).dt.days
        nxt = (after[ORDER_DATE].min() - day).days if len(after) else np.inf
        out[str(customer)] = {
            RECENCY: (day - last).days,
            "orders_last_30d": int((days_before <= 30).sum()),
            "orders_last_90d": int((days_before <= 90).sum()),
            "spend_last_90d": float(before.loc[days_before <= 90, "order_value"].sum()),
            TARGET: min(nxt, H),
        }
    return pd.DataFrame.from_dict(out, orient="index")


@pytest.mark.parametrize("as_of", ["2011-03-01", "2011-07-15"])
def test_vectorised_features_match_a_plain_loop(random_lines: pd.DataFrame, as_of: str) -> None:
    day = pd.Timestamp(as_of)
    rows = asof_training_rows(random_lines, [day], H).set_index(CUSTOMER_ID)
    expected = _brute_force(random_lines, day)
    assert sorted(rows.index) == sorted(expected.index) and len(rows) > 20
    for column in expected.columns:
        np.testing.assert_allclose(
            rows.loc[expected.index, column].to_numpy(np.float64),
            expected[column].to_numpy(np.float64),
            rtol=1e-9,
            err_msg=column,
        )


def test_features_never_see_lines_on_or_after_the_as_of_day(random_lines: pd.DataFrame) -> None:
    day = pd.Timestamp("2011-06-01")
    later = random_lines[random_lines["InvoiceDate"] >= day]
    shifted = later.assign(Quantity=later["Quantity"] * 7)
    changed = pd.concat([random_lines[random_lines["InvoiceDate"] < day], shifted.iloc[::2]])
    a = snapshot_features(random_lines, day)
    b = snapshot_features(changed.sort_values("InvoiceDate", kind="mergesort"), day)
    pd.testing.assert_frame_equal(a, b)
    assert (a[AS_OF_DATE] == day).all() and (a[RECENCY] >= 1).all()
    assert set(ASOF_FEATURE_COLUMNS) <= set(a.columns)


def test_rows_of_a_customer_subset_equal_the_full_run(random_lines: pd.DataFrame) -> None:
    """Sharding by customer gives the same rows (each customer depends on its own lines)."""
    days = [pd.Timestamp("2011-04-01"), pd.Timestamp("2011-08-01")]
    full = asof_training_rows(random_lines, days, H)
    some = sorted(random_lines[CUSTOMER_ID].dropna().unique())[::3]
    part = asof_training_rows(random_lines[random_lines[CUSTOMER_ID].isin(some)], days, H)
    expected = full[full[CUSTOMER_ID].isin(some)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.reset_index(drop=True), expected, check_dtype=False)


def test_snapshot_dates_step_back_and_respect_the_minimum_history() -> None:
    days = snapshot_dates(pd.Timestamp("2011-01-01"), pd.Timestamp("2011-04-01"), 14, 30)
    assert days[-1] == pd.Timestamp("2011-04-01") and days[0] >= pd.Timestamp("2011-01-31")
    assert all((b - a).days == 14 for a, b in itertools.pairwise(days))
    with pytest.raises(DataError, match="history"):
        snapshot_dates(pd.Timestamp("2011-01-01"), pd.Timestamp("2011-01-10"))


def test_split_asof_trains_on_settled_targets_and_scores_as_of_the_cutoff(
    random_lines: pd.DataFrame,
) -> None:
    split = split_asof(random_lines, "2011-09-01", H, every_days=14, count=10)
    cutoff = pd.Timestamp("2011-09-01")
    assert split.protocol == "asof" and split.cutoff == cutoff
    assert split.train[AS_OF_DATE].max() <= cutoff - pd.Timedelta(days=H)
    assert (split.test[AS_OF_DATE] == cutoff).all()
    assert split.train[TARGET].between(0, H).all() and split.test[TARGET].between(0, H).all()
    assert ((split.test[TARGET] < H) == (split.test[PURCHASED] == 1)).all()
    assert split.gaps is not None and (split.gaps > 0).all()


def test_residual_life_is_the_median_remaining_gap() -> None:
    gaps = np.sort(np.array([5.0, 10.0, 20.0, 40.0]))
    out = residual_life(gaps, np.array([0.0, 12.0, 30.0, 50.0]), default=60.0)
    np.testing.assert_allclose(out, [15.0 - 0.0, 30.0 - 12.0, 40.0 - 30.0, 60.0])


def test_asof_baselines_score_three_references(random_lines: pd.DataFrame) -> None:
    split = split_asof(random_lines, "2011-09-01", H, every_days=14, count=10)
    assert split.gaps is not None
    baselines = asof_baselines(split.train, split.test, split.gaps, H)
    assert set(baselines) == {"constant", "median_gap", "residual_life"}
    assert all(0 <= v["mae"] <= H for v in baselines.values())
