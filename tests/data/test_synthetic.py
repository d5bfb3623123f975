"""The generator: exact size, determinism, schema, and the structure models rely on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.cli import main as retailsage_main
from retailsage.core.errors import UserError
from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.data.synthetic import (
    LABEL_COLUMN,
    generate_transactions,
    iter_generated_chunks,
    write_transactions,
)


@pytest.mark.parametrize("n_rows", [1, 7, 999, 12_345])
def test_exact_size_and_schema(n_rows: int) -> None:
    frame = generate_transactions(n_rows, seed=n_rows)
    assert len(frame) == n_rows
    assert tuple(frame.columns) == TRANSACTION_COLUMNS
    assert [str(t) for t in frame.dtypes] == [
        "string", "string", "string", "int64", "datetime64[ns]", "float64", "string", "string",
    ]  # fmt: skip
    assert isinstance(frame.index, pd.RangeIndex)


def test_deterministic_per_seed(small_frame: pd.DataFrame) -> None:
    again = generate_transactions(3_000, seed=11, anomaly_rate=0.02, with_labels=True)
    pd.testing.assert_frame_equal(again, small_frame)
    other = generate_transactions(3_000, seed=12, anomaly_rate=0.02, with_labels=True)
    assert not other.equals(small_frame)


def test_rows_sorted_by_invoice_in_time_order(year_frame: pd.DataFrame) -> None:
    numbers = year_frame["InvoiceNo"].str.lstrip("CA").astype("int64")
    assert numbers.is_monotonic_increasing
    normal = ~year_frame[LABEL_COLUMN]  # off-hours anomalies move single lines in time
    first = year_frame[normal].groupby(numbers[normal])["InvoiceDate"].min()
    assert first.is_monotonic_increasing
    assert year_frame["InvoiceDate"].between("2010-12-01", "2011-12-10").all()


def test_shares_resemble_the_real_data(year_frame: pd.DataFrame) -> None:
    invoice = year_frame["InvoiceNo"]
    assert 0.18 < year_frame["CustomerID"].isna().mean() < 0.26
    assert 0.012 < invoice.str.startswith("C").mean() < 0.022
    assert invoice.str.startswith("A").sum() >= 1
    assert (year_frame["UnitPrice"] == 0).any()
    assert 0.002 < year_frame.duplicated(subset=list(TRANSACTION_COLUMNS)).mean() < 0.03
    uk_share = (year_frame["Country"] == "United Kingdom").mean()
    assert 0.8 < uk_share < 0.97
    assert year_frame["StockCode"].isin(["POST", "DOT", "M"]).any()


def test_cancellations_reverse_earlier_purchases(year_frame: pd.DataFrame) -> None:
    cancelled = year_frame[year_frame["InvoiceNo"].str.startswith("C")]
    assert (cancelled["Quantity"] < 0).all()
    assert cancelled["CustomerID"].notna().all()
    purchases = year_frame[~year_frame["InvoiceNo"].str.startswith(("C", "A"))]
    bought = purchases.groupby(["CustomerID", "StockCode"])["InvoiceDate"].min()
    keys = pd.MultiIndex.from_frame(cancelled[["CustomerID", "StockCode"]])
    assert keys.isin(bought.index).all()
    first_bought = bought.reindex(keys).to_numpy()
    assert (cancelled["InvoiceDate"].to_numpy() > first_bought).all()


def test_seasonality_weekdays_and_business_hours(year_frame: pd.DataFrame) -> None:
    normal = year_frame[~year_frame[LABEL_COLUMN]]
    month = normal["InvoiceDate"].dt.month.value_counts()
    assert month[11] > 1.6 * month[2]
    assert (normal["InvoiceDate"].dt.day_of_week != 5).all()
    assert normal["InvoiceDate"].dt.hour.between(7, 20).all()


def test_customer_cadence_is_learnable(year_frame: pd.DataFrame) -> None:
    clean = clean_transactions(year_frame)
    orders = clean.groupby(["CustomerID", "InvoiceNo"])["InvoiceDate"].min().reset_index()
    orders = orders.sort_values(["CustomerID", "InvoiceDate"])
    orders["gap"] = orders.groupby("CustomerID")["InvoiceDate"].diff().dt.total_seconds() / 86400
    gaps = orders.dropna(subset=["gap"])
    counts = gaps.groupby("CustomerID")["gap"].transform("size")
    gaps = gaps[counts >= 4]
    grouped = gaps.groupby("CustomerID")["gap"]
    last = grouped.last()
    history = (grouped.sum() - last) / (grouped.size() - 1)
    assert len(last) > 50
    assert np.corrcoef(np.log1p(history), np.log1p(last))[0, 1] > 0.3


def test_injected_anomalies_are_labelled(year_frame: pd.DataFrame) -> None:
    labelled = year_frame[year_frame[LABEL_COLUMN]]
    assert len(labelled) == 600
    night = labelled["InvoiceDate"].dt.hour.between(2, 4)
    normal = year_frame[~year_frame[LABEL_COLUMN]]
    usual_price = normal.groupby("StockCode")["UnitPrice"].median()
    ratio = labelled["UnitPrice"] / labelled["StockCode"].map(usual_price).astype(float)
    odd_price = (ratio > 9) | (ratio < 0.11)
    odd_quantity = labelled["Quantity"] >= 20
    assert (night | odd_price | odd_quantity).mean() > 0.97
    assert night.sum() > 100
    assert not normal["InvoiceDate"].dt.hour.between(2, 4).any()


def test_anomalies_without_labels() -> None:
    frame = generate_transactions(2_000, seed=3, anomaly_rate=0.05)
    assert LABEL_COLUMN not in frame.columns
    assert frame["InvoiceDate"].dt.hour.between(2, 4).any()


def test_customer_base_size_is_respected() -> None:
    frame = generate_transactions(20_000, seed=2, n_customers=40)
    assert 30 <= frame["CustomerID"].nunique() <= 40
    frame = generate_transactions(5_000, seed=2, n_customers=3_000)
    assert frame["CustomerID"].nunique() <= 3_000


def test_custom_window() -> None:
    frame = generate_transactions(3_000, seed=1, start="2020-01-06", end="2020-03-31")
    assert frame["InvoiceDate"].between("2020-01-06", "2020-04-01").all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_rows": 0},
        {"n_rows": 10, "anomaly_rate": 0.9},
        {"n_rows": 10, "n_customers": 0},
        {"n_rows": 10, "start": "2011-02-01", "end": "2011-01-01"},
        {"n_rows": 10, "start": "not a date"},
    ],
)
def test_invalid_settings(kwargs: dict) -> None:
    n_rows = kwargs.pop("n_rows")
    with pytest.raises(UserError):
        generate_transactions(n_rows, **kwargs)


def test_chunked_generation_shards(tmp_path: Path) -> None:
    chunks = list(iter_generated_chunks(25_000, chunk_rows=10_000, seed=9))
    assert [len(chunk) for chunk in chunks] == [8_334, 8_333, 8_333]
    ids = [set(chunk["CustomerID"].dropna()) for chunk in chunks]
    assert not ids[0] & ids[1] and not ids[1] & ids[2]
    invoices = [set(chunk["InvoiceNo"].str.lstrip("CA")) for chunk in chunks]
    assert not invoices[0] & invoices[1] and not invoices[1] & invoices[2]
    path = write_transactions(iter(chunks), tmp_path / "big.parquet")
    pd.testing.assert_frame_equal(load_transactions(path), pd.concat(chunks, ignore_index=True))


def test_one_shard_equals_generate() -> None:
    (only,) = iter_generated_chunks(4_000, seed=4)
    pd.testing.assert_frame_equal(only, generate_transactions(4_000, seed=4))


def test_write_rejects_unknown_suffix(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="must end in"):
        write_transactions(small_frame, tmp_path / "x.json")


def _run_cli(argv: list[str]) -> int:
    """``retailsage ARGV``'s exit code (the installed command's own entry point)."""
    return retailsage_main(argv)


def test_cli_generate(tmp_path: Path) -> None:
    out = tmp_path / "out" / "tx.csv.gz"
    argv = ["generate", "--rows", "1_500", "--seed", "7", "--out", str(out)]
    code = _run_cli([*argv, "--anomaly-rate", "0.02", "--with-labels"])
    assert code == 0
    expected = generate_transactions(1_500, seed=7, anomaly_rate=0.02, with_labels=True)
    pd.testing.assert_frame_equal(load_transactions(out), expected)


def test_cli_user_error_exit_code(tmp_path: Path) -> None:
    code = _run_cli(["generate", "--rows", "10", "--out", str(tmp_path / "x.txt")])
    assert code == 2
    with pytest.raises(SystemExit):
        _run_cli(["generate", "--rows", "0", "--out", str(tmp_path / "x.csv")])
