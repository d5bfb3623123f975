"""The loader against every known fact of the real UCI file (../shared/data/README.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from retailsage.data.cleaning import clean_transactions, cleaning_report
from retailsage.data.loader import iter_transaction_chunks, load_transactions
from retailsage.data.schema import TRANSACTION_COLUMNS

pytestmark = pytest.mark.realdata

SHA256 = "5ee29ceb94de1fea8e924c66232dda161cb6ef34c353f52e46e95092740c4fd6"


@pytest.fixture(scope="module")
def real(real_data_path: Path) -> pd.DataFrame:
    return load_transactions(real_data_path)


def test_file_is_the_documented_copy(real_data_path: Path) -> None:
    assert hashlib.sha256(real_data_path.read_bytes()).hexdigest() == SHA256


def test_shape_and_range(real: pd.DataFrame) -> None:
    assert real.shape == (541_909, 8)
    assert tuple(real.columns) == TRANSACTION_COLUMNS
    assert real["InvoiceDate"].min() == pd.Timestamp("2010-12-01 08:26")
    assert real["InvoiceDate"].max() == pd.Timestamp("2011-12-09 12:50")


def test_distinct_counts(real: pd.DataFrame) -> None:
    assert real["CustomerID"].nunique() == 4_372
    assert real["InvoiceNo"].nunique() == 25_900
    assert real["StockCode"].nunique() == 4_070
    assert real["Country"].nunique() == 38


def test_documented_row_counts(real: pd.DataFrame) -> None:
    assert real["CustomerID"].isna().sum() == 135_080
    assert real["InvoiceNo"].str.startswith("C").sum() == 9_288
    assert (real["Quantity"] < 0).sum() == 10_624
    assert (real["UnitPrice"] == 0).sum() == 2_515
    negative = real[real["UnitPrice"] < 0]
    assert len(negative) == 2
    assert negative["InvoiceNo"].str.startswith("A").all()
    assert (negative["Description"] == "Adjust bad debt").all()
    assert real.duplicated().sum() == 5_268


def test_sums(real: pd.DataFrame) -> None:
    assert real["Quantity"].sum() == 5_176_450
    revenue = (real["Quantity"] * real["UnitPrice"]).sum()
    assert revenue == pytest.approx(9_747_747.93, abs=0.01)


def test_customer_ids_are_integer_strings(real: pd.DataFrame) -> None:
    ids = real["CustomerID"].dropna()
    assert ids.str.fullmatch(r"\d{5}").all()
    assert real["CustomerID"].iloc[0] == "17850"


def test_cleaning_counts(real: pd.DataFrame) -> None:
    assert cleaning_report(real) == {
        "rows_in": 541_909,
        "duplicates": 5_268,
        "missing_customer": 135_037,
        "cancellations": 8_872,
        "adjustments": 0,
        "non_positive_quantity": 0,
        "non_positive_price": 40,
        "rows_out": 392_692,
    }
    clean = clean_transactions(real)
    assert clean["CustomerID"].nunique() == 4_338
    assert (clean["Quantity"] > 0).all() and (clean["UnitPrice"] > 0).all()


def test_chunked_equals_whole(real_data_path: Path, real: pd.DataFrame) -> None:
    chunks = list(iter_transaction_chunks(real_data_path, chunk_rows=200_000))
    assert [len(chunk) for chunk in chunks] == [200_000, 200_000, 141_909]
    assert pd.concat(chunks, ignore_index=True).equals(real)


def test_uci_csv_export_round_trip(real: pd.DataFrame, tmp_path: Path) -> None:
    # The UCI CSV export writes US dates without zero padding ("12/1/2010 8:26") and
    # customer ids as floats ("17850.0").
    part = real.iloc[:30_000]
    export = part.assign(
        InvoiceDate=part["InvoiceDate"]
        .dt.strftime("%m/%d/%Y %H:%M")
        .astype("string")
        .str.replace(r"\b0(\d)", r"\1", regex=True),
        CustomerID=part["CustomerID"].astype("Float64"),
    )
    path = tmp_path / "Online_Retail.csv.gz"
    export.to_csv(path, index=False)
    assert export["InvoiceDate"].iloc[0] == "12/1/2010 8:26"
    assert load_transactions(path).equals(part)
