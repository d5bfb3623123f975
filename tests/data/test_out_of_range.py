"""Issue 14 (shared coercion): int64 overflow, dates beyond 2261 and time zones, in training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.core.errors import DataError
from retailsage.data.coerce import outside_int64
from retailsage.data.dates import bounded_ns
from retailsage.data.loader import load_transactions
from retailsage.train import runner
from retailsage.train.local import build_training_tree

ROW = "536365,85123A,WHITE HANGING HEART,{quantity},{date},2.55,17850,United Kingdom\n"


def rows(n: int = 20, **bad: str) -> str:
    """``n`` good rows, then one with the given quantity/date."""
    good = "".join(ROW.format(quantity=6, date=f"2011-01-{1 + i % 28:02d} 08:26") for i in range(n))
    return good + ROW.format(
        quantity=bad.get("quantity", 6), date=bad.get("date", "2011-02-01 10:00")
    )


@pytest.mark.parametrize(
    "quantity", ["1e30", "-1e30", "99999999999999999999", "9223372036854775808"]
)
def test_out_of_int64_quantity_is_a_data_error_not_int64_min(
    write_csv: Callable[..., Path], quantity: str
) -> None:
    with pytest.raises(DataError, match=r"row 21, column Quantity: integer outside"):
        load_transactions(write_csv(rows(quantity=quantity)))


def test_int64_extremes_still_load(write_csv: Callable[..., Path]) -> None:
    loaded = load_transactions(write_csv(rows(quantity="-9223372036854775808")))
    assert loaded["Quantity"].iloc[-1] == np.iinfo(np.int64).min


@pytest.mark.parametrize("date", ["2262-04-12 00:00", "2300-01-01 10:00", "2262-01-01 00:00"])
def test_dates_beyond_2261_are_a_data_error_not_a_crash(
    write_csv: Callable[..., Path], date: str
) -> None:
    with pytest.raises(DataError, match=r"row 21, column InvoiceDate: date outside the supported"):
        load_transactions(write_csv(rows(date=date)))


def test_offsets_are_converted_to_utc(write_csv: Callable[..., Path]) -> None:
    text = ROW.format(quantity=1, date="2011-12-01T10:00:00Z") + ROW.format(
        quantity=1, date="2011-12-01T10:00:00+02:00"
    )
    loaded = load_transactions(write_csv(text))
    assert loaded["InvoiceDate"].tolist() == [
        pd.Timestamp("2011-12-01 10:00"),
        pd.Timestamp("2011-12-01 08:00"),
    ]


def test_typed_out_of_range_timestamps_are_a_data_error(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "InvoiceNo": ["1"],
            "StockCode": ["a"],
            "Description": ["x"],
            "Quantity": [1],
            "InvoiceDate": pd.Series([pd.Timestamp("2300-01-01")]).astype("datetime64[us]"),
            "UnitPrice": [1.0],
            "CustomerID": ["1"],
            "Country": ["UK"],
        }
    )
    path = tmp_path / "far.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match="date outside the supported years 1678-2261"):
        load_transactions(path)


def test_shared_helpers() -> None:
    assert outside_int64(
        np.array([1e30, -1e30, 2.0**63, -(2.0**63), np.inf, np.nan, 5.0])
    ).tolist() == [
        True,
        True,
        True,
        False,
        True,
        False,
        False,
    ]
    aware = pd.Series(pd.to_datetime(["2011-12-01T10:00:00+02:00"]))
    typed, outside = bounded_ns(aware)
    assert typed.dtype == "datetime64[ns]" and typed.iloc[0] == pd.Timestamp("2011-12-01 08:00")
    assert not outside.any()


@pytest.mark.parametrize(
    ("bad", "needle"),
    [({"quantity": "1e30"}, "integer outside"), ({"date": "2262-06-01 10:00"}, "date outside")],
)
def test_training_fails_with_a_user_error_through_the_runner(
    tmp_path: Path, bad: dict[str, str], needle: str
) -> None:
    data = tmp_path / "transactions.csv"
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    data.write_text(header + rows(**bad))
    base = tmp_path / "opt_ml"
    build_training_tree(base, {"train": [data]}, {"model_type": "xgboost", "num_round": "2"})
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 1
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("UserError: ") and needle in failure, failure
    assert "Traceback" not in failure
    assert list((base / "model").iterdir()) == []
