"""Evaluation protocols P1 and P2-cap on tiny data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_frames import typed_lines

from retailsage.core.errors import DataError, HyperparameterError
from retailsage.features.gap import NEXT_ORDER_DATE, ORDER_DATE, TARGET, gap_training_rows
from retailsage.features.protocols import (
    default_cutoff,
    split_p1,
    split_p2cap,
    temporal_holdout,
)


@pytest.fixture
def rows() -> pd.DataFrame:
    """Customer X orders every 10 days in 2011-01/02; Y on 01-05 and 03-20; END = 03-31."""
    x_days = pd.date_range("2011-01-01", "2011-02-20", freq="10D")
    records = [("1", "10001", "MUG", 1, f"{day.date()} 10:00", 2.0, "X", "UK") for day in x_days]
    records += [
        ("2", "10001", "MUG", 1, "2011-01-05 10:00", 2.0, "Y", "UK"),
        ("3", "10001", "MUG", 1, "2011-03-20 10:00", 2.0, "Y", "UK"),
        ("4", "10001", "MUG", 1, "2011-03-31 10:00", 2.0, "Z", "UK"),
    ]
    return gap_training_rows(typed_lines(records))


def test_p1_trains_on_targets_known_before_the_cutoff(rows: pd.DataFrame) -> None:
    split = split_p1(rows, "2011-01-31")
    assert split.target == TARGET and split.protocol == "p1"
    assert (split.train[NEXT_ORDER_DATE] < pd.Timestamp("2011-01-31")).all()
    # X: orders 01-01, 01-11 have next orders before 01-31 (01-21's next is on the cutoff).
    assert split.train[ORDER_DATE].dt.strftime("%m-%d").tolist() == ["01-01", "01-11"]
    # Test: X's 01-31, 02-10 (02-20 is X's last order: unobserved next), nothing else.
    assert split.test[ORDER_DATE].dt.strftime("%m-%d").tolist() == ["01-31", "02-10"]
    assert split.test[TARGET].tolist() == [10.0, 10.0]


def test_p2cap_caps_targets_and_windows_dates(rows: pd.DataFrame) -> None:
    split = split_p2cap(rows, "2011-02-10", horizon_days=20)
    assert split.horizon_days == 20 and split.protocol == "p2cap"
    # Train: order_date < 02-10 - 20 d = 01-21.
    assert (split.train[ORDER_DATE] < pd.Timestamp("2011-01-21")).all()
    train = split.train.set_index(split.train[ORDER_DATE].dt.strftime("%m-%d"))
    assert train[TARGET].to_dict() == {"01-01": 10.0, "01-11": 10.0, "01-05": 20.0}
    # Test: [02-10, END - 20 d = 03-11]: X's 02-10 (gap 10) and 02-20 (no next order -> H).
    assert split.test[ORDER_DATE].dt.strftime("%m-%d").tolist() == ["02-10", "02-20"]
    assert split.test[TARGET].tolist() == [10.0, 20.0]
    assert np.isfinite(split.train[TARGET]).all() and np.isfinite(split.test[TARGET]).all()


def test_p2cap_does_not_modify_the_input(rows: pd.DataFrame) -> None:
    before = rows.copy()
    split_p2cap(rows, "2011-02-10", horizon_days=20)
    pd.testing.assert_frame_equal(rows, before)


def test_p2cap_explicit_end(rows: pd.DataFrame) -> None:
    split = split_p2cap(rows, "2011-02-10", horizon_days=20, end="2011-03-05")
    assert split.test[ORDER_DATE].dt.strftime("%m-%d").tolist() == ["02-10"]


def test_temporal_holdout_dispatch_and_default_cutoff(rows: pd.DataFrame) -> None:
    cutoff = default_cutoff(rows)
    span = rows[ORDER_DATE].max() - rows[ORDER_DATE].min()
    assert cutoff == (rows[ORDER_DATE].min() + 0.75 * span).normalize()
    p1 = temporal_holdout(rows, "p1", cutoff="2011-01-31")
    assert p1.cutoff == pd.Timestamp("2011-01-31") and len(p1.test) == 2
    p2 = temporal_holdout(rows, "p2cap", cutoff="2011-02-10", horizon_days=20)
    assert p2.horizon_days == 20 and len(p2.test) == 2


def test_protocol_errors(rows: pd.DataFrame) -> None:
    with pytest.raises(HyperparameterError, match="protocol"):
        temporal_holdout(rows, "p3")
    with pytest.raises(HyperparameterError, match="horizon"):
        split_p2cap(rows, "2011-02-10", horizon_days=0)
    with pytest.raises(DataError, match="0 train"):
        split_p1(rows, "2010-06-01")
    with pytest.raises(DataError, match="no gap rows"):
        default_cutoff(rows.iloc[:0])
