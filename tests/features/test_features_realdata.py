"""The feature pipeline on the full real Online Retail file (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.data.cleaning import clean_transactions, prepare_anomaly_lines
from retailsage.data.loader import load_transactions
from retailsage.features.anomaly import ANOMALY_FEATURE_COLUMNS, AnomalyFeaturizer
from retailsage.features.gap import (
    CUSTOMER_ID,
    GAP_FEATURE_COLUMNS,
    GAP_NUMERIC_COLUMNS,
    LAG_COLUMNS,
    ORDER_DATE,
    TARGET,
    gap_training_rows,
    snapshot_rows,
)
from retailsage.features.protocols import split_p1, split_p2cap
from retailsage.features.sequences import covariate_array, sequence_arrays

pytestmark = pytest.mark.realdata

# Columns that are NaN only by definition (no earlier gap, fewer than two gaps, last order).
MAY_BE_NAN = {
    "last_gap",
    "mean_gap",
    "gap_roll3_mean",
    "gap_roll3_std",
    "gap_roll5_mean",
    "gap_roll5_std",
    *LAG_COLUMNS,
}


@pytest.fixture(scope="module")
def raw(real_data_path: Path) -> pd.DataFrame:
    return load_transactions(real_data_path)


@pytest.fixture(scope="module")
def rows(raw: pd.DataFrame) -> pd.DataFrame:
    return gap_training_rows(clean_transactions(raw))


def test_gap_rows_are_sane(rows: pd.DataFrame) -> None:
    n_customers = rows[CUSTOMER_ID].nunique()
    assert 4300 <= n_customers <= 4372  # 4,372 customers before cleaning
    assert 16_000 <= len(rows) <= 18_600  # customer-days <= invoices kept
    assert rows[TARGET].isna().sum() == n_customers  # one unknown target per customer
    allowed = [name for name in GAP_FEATURE_COLUMNS if name not in MAY_BE_NAN]
    assert not rows[allowed].isna().any().any()
    first = rows["order_index"] == 0
    assert rows.loc[first, "last_gap"].isna().all()
    assert rows.loc[~first, "last_gap"].notna().all() and (rows["last_gap"].dropna() >= 1).all()
    assert (rows[TARGET].dropna() >= 1).all()
    assert rows[ORDER_DATE].max() == pd.Timestamp("2011-12-09")
    assert np.isfinite(rows[list(GAP_NUMERIC_COLUMNS)].fillna(0).to_numpy()).all()


def test_snapshot_matches_training_rows(raw: pd.DataFrame, rows: pd.DataFrame) -> None:
    clean = clean_transactions(raw)
    snapshot = snapshot_rows(clean, "2011-09-30")
    expected = rows[rows[ORDER_DATE] < pd.Timestamp("2011-09-30")].groupby(CUSTOMER_ID).tail(1)
    columns = [CUSTOMER_ID, ORDER_DATE, *GAP_FEATURE_COLUMNS]
    pd.testing.assert_frame_equal(
        snapshot[columns].reset_index(drop=True), expected[columns].reset_index(drop=True)
    )
    values, mask = sequence_arrays(snapshot, 12)
    assert values.shape == (len(snapshot), 12, 2) and mask.any(axis=1).mean() > 0.5
    assert np.isfinite(covariate_array(snapshot)).all()


def test_protocol_split_sizes(rows: pd.DataFrame) -> None:
    p1 = split_p1(rows, "2011-09-01")
    assert 6_000 <= len(p1.train) <= 10_000 and 2_000 <= len(p1.test) <= 5_000
    assert p1.train["next_order_date"].max() < pd.Timestamp("2011-09-01")
    p2 = split_p2cap(rows, "2011-09-01", horizon_days=60)
    assert p2.test[ORDER_DATE].max() <= pd.Timestamp("2011-10-10")
    assert p2.train[ORDER_DATE].max() < pd.Timestamp("2011-07-03")
    assert p2.train[TARGET].max() == 60 and p2.test[TARGET].max() == 60
    assert p2.train[TARGET].notna().all() and p2.test[TARGET].notna().all()


def test_anomaly_features_on_all_lines(raw: pd.DataFrame) -> None:
    lines = prepare_anomaly_lines(raw)
    featurizer = AnomalyFeaturizer().fit(lines)
    features = featurizer.transform(lines)
    assert features.shape == (len(lines), len(ANOMALY_FEATURE_COLUMNS))
    assert np.isfinite(features.to_numpy()).all()
    assert len(featurizer.to_dict()["items"]) >= 3_900  # 4,070 raw codes, case-normalized
    assert (features["item_id"] > 0).all()
