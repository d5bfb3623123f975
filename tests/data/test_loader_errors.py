"""Malformed input raises DataError naming the file, row, column and value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retailsage.core.errors import DataError, UserError
from retailsage.data.loader import iter_transaction_chunks, load_transactions

GOOD = "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"


def test_data_error_is_a_user_error() -> None:
    assert issubclass(DataError, UserError)


def test_missing_column_names_file_and_column(write_csv) -> None:
    path = write_csv(
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,17850,United Kingdom\n",
        header="InvoiceNo,StockCode,Description,Quantity,InvoiceDate,CustomerID,Country",
    )
    with pytest.raises(DataError) as info:
        load_transactions(path)
    message = str(info.value)
    assert str(path) in message
    assert "missing column(s) UnitPrice" in message


def test_missing_column_in_parquet(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"InvoiceNo": ["1"], "Country": ["UK"]}).to_parquet(path)
    with pytest.raises(DataError, match="missing column"):
        load_transactions(path)


@pytest.mark.parametrize("chunk_rows", [None, 5])
def test_repeated_column_in_parquet_names_it(tmp_path: Path, chunk_rows: int | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "repeated.parquet"
    names = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice"]
    names += ["CustomerID", "Country", "Quantity"]
    values = ["1", "A", "X", 6, "2010-12-01 08:26", 2.5, "17850", "UK", 7]
    pq.write_table(pa.table([pa.array([v]) for v in values], names=names), path)
    with pytest.raises(DataError, match=r"column name\(s\) Quantity appear more than once"):
        if chunk_rows is None:
            load_transactions(path)
        else:
            list(iter_transaction_chunks(path, chunk_rows=chunk_rows))


def test_unparseable_date_names_row_column_value(write_csv) -> None:
    path = write_csv(GOOD * 3 + GOOD.replace("12/1/2010 8:26", "yesterday"))
    with pytest.raises(DataError) as info:
        load_transactions(path)
    message = str(info.value)
    assert str(path) in message
    assert "row 4" in message
    assert "column InvoiceDate" in message
    assert "'yesterday'" in message


def test_unparseable_quantity(write_csv) -> None:
    path = write_csv(GOOD + GOOD.replace(",6,", ",six,"))
    with pytest.raises(DataError, match=r"row 2, column Quantity: .*'six'"):
        load_transactions(path)


def test_fractional_quantity(write_csv) -> None:
    path = write_csv(GOOD + GOOD.replace(",6,", ",6.5,"))
    with pytest.raises(DataError, match=r"row 2, column Quantity: expected a whole number"):
        load_transactions(path)


def test_whole_float_quantity_is_fine(write_csv) -> None:
    path = write_csv(GOOD.replace(",6,", ", 6.0 ,"))
    assert load_transactions(path)["Quantity"].tolist() == [6]


def test_unparseable_price(write_csv) -> None:
    path = write_csv(GOOD + GOOD + GOOD.replace(",2.55,", ",£2.55,"))
    with pytest.raises(DataError, match=r"row 3, column UnitPrice: cannot parse as number"):
        load_transactions(path)


def test_missing_price(write_csv) -> None:
    path = write_csv(GOOD.replace(",2.55,", ",,"))
    with pytest.raises(DataError, match=r"row 1, column UnitPrice: missing number"):
        load_transactions(path)


def test_bad_row_number_is_absolute_across_chunks(write_csv) -> None:
    path = write_csv(GOOD * 7 + GOOD.replace("8:26", "8:99"))
    with pytest.raises(DataError, match=r"row 8, column InvoiceDate"):
        list(iter_transaction_chunks(path, chunk_rows=3))


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_transactions(path)


def test_header_only_is_empty_input(write_csv) -> None:
    path = write_csv("")
    with pytest.raises(DataError, match="no data rows"):
        load_transactions(path)


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "_SUCCESS").write_text("")
    with pytest.raises(DataError, match="no data files"):
        load_transactions(tmp_path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_transactions(tmp_path / "absent")


def test_unsupported_single_file(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("[]")
    with pytest.raises(DataError, match="unsupported file type"):
        load_transactions(path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet"):
        load_transactions(path)


def test_ragged_csv(write_csv) -> None:
    path = write_csv(GOOD + "1,2,3\n")
    with pytest.raises(DataError, match="cannot parse CSV"):
        load_transactions(path)


def test_chunk_rows_must_be_positive(write_csv) -> None:
    with pytest.raises(DataError, match="chunk_rows"):
        next(iter_transaction_chunks(write_csv(GOOD), chunk_rows=0))
