"""The loader reads every supported format and channel layout into the typed schema."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from retailsage.data.loader import SUPPORTED_SUFFIXES, load_transactions
from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.data.synthetic import LABEL_COLUMN, write_transactions

EXPECTED_DTYPES = {
    "InvoiceNo": "string",
    "StockCode": "string",
    "Description": "string",
    "Quantity": "int64",
    "InvoiceDate": "datetime64[ns]",
    "UnitPrice": "float64",
    "CustomerID": "string",
    "Country": "string",
}


def assert_typed(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns[: len(TRANSACTION_COLUMNS)]) == TRANSACTION_COLUMNS
    for column, dtype in EXPECTED_DTYPES.items():
        assert str(frame[column].dtype) == dtype, column
    assert isinstance(frame.index, pd.RangeIndex)


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_SUFFIXES) == {".csv", ".csv.gz", ".parquet", ".xlsx"}


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_round_trip_keeps_every_value(
    small_frame: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    path = write_transactions(small_frame, tmp_path / f"tx{suffix}")
    loaded = load_transactions(path)
    assert_typed(loaded)
    pd.testing.assert_frame_equal(loaded, small_frame)


def test_gzip_csv_is_really_compressed(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = write_transactions(small_frame.head(50), tmp_path / "tx.csv.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        assert handle.readline().startswith('"InvoiceNo"')


def test_xlsx_as_written_by_excel_tools(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    # The original UCI workbook stores numeric invoice numbers and float customer ids.
    original = small_frame.head(120)[list(TRANSACTION_COLUMNS)]
    sheet = original.astype({"CustomerID": "Float64"})
    sheet["InvoiceNo"] = pd.to_numeric(sheet["InvoiceNo"], errors="coerce").astype(object)
    sheet["InvoiceNo"] = sheet["InvoiceNo"].where(sheet["InvoiceNo"].notna(), original["InvoiceNo"])
    path = tmp_path / "Online Retail.xlsx"
    sheet.to_excel(path, index=False, engine="openpyxl")
    loaded = load_transactions(path)
    assert_typed(loaded)
    pd.testing.assert_frame_equal(loaded, original.reset_index(drop=True))


def test_customer_ids_lose_float_suffix(write_csv) -> None:
    path = write_csv(
        "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "536366,71053,WHITE METAL LANTERN,6,2010-12-01 08:28:00,3.39,,United Kingdom\n"
        "536367,84406B,CREAM CUPID HEARTS,8,2010-12-01 08:34:00,2.75,u-42,France\n"
    )
    loaded = load_transactions(path)
    assert loaded["CustomerID"].tolist()[0] == "17850"
    assert loaded["CustomerID"].isna().tolist() == [False, True, False]
    assert loaded["CustomerID"].tolist()[2] == "u-42"


def test_parquet_with_float_customer_ids_and_string_dates(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "C536379"],
            "StockCode": ["85123A", "D"],
            "Description": ["WHITE HANGING HEART", None],
            "Quantity": [6.0, -1.0],
            "InvoiceDate": ["12/1/2010 8:26", "12/13/2010 9:41"],
            "UnitPrice": ["2.55", "27.50"],
            "CustomerID": [17850.0, float("nan")],
            "Country": ["United Kingdom", "United Kingdom"],
            "Unrelated": [1, 2],
        }
    )
    path = tmp_path / "odd.parquet"
    frame.to_parquet(path)
    loaded = load_transactions(path)
    assert_typed(loaded)
    assert list(loaded.columns) == list(TRANSACTION_COLUMNS)
    assert loaded["Quantity"].tolist() == [6, -1]
    assert loaded["UnitPrice"].tolist() == [2.55, 27.5]
    assert loaded["InvoiceDate"].tolist() == [
        pd.Timestamp("2010-12-01 08:26"),
        pd.Timestamp("2010-12-13 09:41"),
    ]
    assert loaded["CustomerID"].tolist()[0] == "17850"
    assert pd.isna(loaded["Description"].iloc[1])


def test_directory_channel_sorted_and_ignores_bookkeeping(
    small_frame: pd.DataFrame, tmp_path: Path
) -> None:
    channel = tmp_path / "train"
    first, second, third = (small_frame.iloc[i : i + 1000] for i in (0, 1000, 2000))
    write_transactions(second, channel / "b.csv.gz")
    write_transactions(first, channel / "a.parquet")
    write_transactions(third, channel / "nested" / "c.csv")
    (channel / "_SUCCESS").write_text("")
    (channel / "manifest.json").write_text("{}")
    (channel / ".hidden.csv").write_text("garbage")
    (channel / "x.sagemaker-uploading").write_text("garbage")
    (channel / "notes.txt").write_text("not data")
    loaded = load_transactions(channel)
    pd.testing.assert_frame_equal(loaded, small_frame)


def test_extra_columns_dropped_label_kept_unless_columns_only(
    small_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = write_transactions(small_frame.assign(Extra=1), tmp_path / "tx.parquet")
    assert list(load_transactions(path).columns) == [*TRANSACTION_COLUMNS, LABEL_COLUMN]
    assert list(load_transactions(path, columns_only=True).columns) == list(TRANSACTION_COLUMNS)
    assert load_transactions(path)[LABEL_COLUMN].dtype == bool


def test_semicolon_latin1_and_online_retail_ii_headers(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    text = (
        "Invoice;StockCode;Description;Quantity;InvoiceDate;Price;Customer ID;Country\n"
        "489434;85048;15CM CHRISTMAS GLASS BALL 20 LIGHTS;12;2009-12-01 07:45:00;6.95;"
        "13085.0;United Kingdom\n"
        "489435;22350;CAF\xc9 CAT BOWL;12;2009-12-01 07:46:00;2.55;13085.0;United Kingdom\n"
    )
    path.write_bytes(text.encode("latin-1"))
    loaded = load_transactions(path)
    assert_typed(loaded)
    assert loaded["Description"].iloc[1] == "CAF\xc9 CAT BOWL"
    assert loaded["UnitPrice"].tolist() == [6.95, 2.55]


def test_label_column_from_text_values(write_csv) -> None:
    path = write_csv(
        "1,A,x,1,2011-01-03 10:00:00,1.0,1,UK,true\n2,B,y,2,2011-01-03 10:00:00,2.0,2,UK,0\n",
        header="InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
        "Country,injected_anomaly",
    )
    assert load_transactions(path)[LABEL_COLUMN].tolist() == [True, False]


def test_tz_aware_dates_are_converted_to_utc_and_blank_ids_are_missing(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "InvoiceNo": ["1", "2"],
            "StockCode": ["a", "b"],
            "Description": ["x", None],
            "Quantity": [1, 2],
            "InvoiceDate": pd.to_datetime(["2011-07-01 10:00", "2011-07-02 11:30"]).tz_localize(
                "Europe/London"
            ),
            "UnitPrice": [1.0, 2.0],
            "CustomerID": [" ", "12346.0"],
            "Country": ["United Kingdom", "United Kingdom"],
        }
    )
    path = tmp_path / "tz.parquet"
    frame.to_parquet(path)
    loaded = load_transactions(path)
    assert loaded["InvoiceDate"].tolist() == [  # British Summer Time is UTC+1
        pd.Timestamp("2011-07-01 09:00"),
        pd.Timestamp("2011-07-02 10:30"),
    ]
    assert loaded["CustomerID"].isna().tolist() == [True, False]
    assert loaded["CustomerID"].iloc[1] == "12346"


def test_xlsx_blank_rows_are_skipped(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = small_frame.head(5)[list(TRANSACTION_COLUMNS)]
    path = tmp_path / "blank.xlsx"
    blank = pd.DataFrame([[None] * len(frame.columns)] * 2, columns=frame.columns)
    pd.concat([frame, blank], ignore_index=True).to_excel(path, index=False, engine="openpyxl")
    pd.testing.assert_frame_equal(load_transactions(path), frame.reset_index(drop=True))


def test_utf8_bom_and_crlf_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "windows.csv"
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    row = "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom"
    path.write_bytes(f"\ufeff{header}\r\n{row}\r\n".encode())
    loaded = load_transactions(path)
    assert loaded["InvoiceNo"].tolist() == ["536365"]
    assert loaded["Country"].tolist() == ["United Kingdom"]
