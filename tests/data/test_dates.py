"""Date formats are detected once per file and then enforced strictly."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from retailsage.core.errors import DataError
from retailsage.data.dates import detect_format
from retailsage.data.loader import iter_transaction_chunks, load_transactions

ROW = "536365,85123A,WHITE HANGING HEART,6,{date},2.55,17850,United Kingdom\n"


def rows(*dates: str) -> str:
    return "".join(ROW.format(date=date) for date in dates)


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (("12/1/2010 8:26", "12/13/2010 18:05"), ("2010-12-01 08:26", "2010-12-13 18:05")),
        (("2010-12-01 08:26:00", "2010-12-13 18:05:00"), ("2010-12-01 08:26", "2010-12-13 18:05")),
        (("01/12/2010 08:26", "13/12/2010 18:05"), ("2010-12-01 08:26", "2010-12-13 18:05")),
        (("2010-12-01T08:26:00Z", "2010-12-13T18:05Z"), ("2010-12-01 08:26", "2010-12-13 18:05")),
        (("01.12.2010 08:26", "13.12.2010 18:05"), ("2010-12-01 08:26", "2010-12-13 18:05")),
        (("12/1/10 8:26", "12/13/10 18:05"), ("2010-12-01 08:26", "2010-12-13 18:05")),
    ],
)
def test_formats(write_csv, dates: tuple[str, ...], expected: tuple[str, ...]) -> None:
    loaded = load_transactions(write_csv(rows(*dates)))
    assert loaded["InvoiceDate"].tolist() == [pd.Timestamp(value) for value in expected]


def test_ambiguous_sample_reads_month_first_and_warns(
    write_csv, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        loaded = load_transactions(write_csv(rows("01/02/2011 09:00")))
    assert loaded["InvoiceDate"].iloc[0] == pd.Timestamp("2011-01-02 09:00")
    assert "ambiguous" in caplog.text


def test_detected_per_file_not_per_row(write_csv, tmp_path) -> None:
    write_csv(rows("13/12/2010 10:00", "01/12/2010 10:00"), name="ch/a.csv")
    write_csv(rows("12/13/2010 10:00", "12/01/2010 10:00"), name="ch/b.csv")
    loaded = load_transactions(tmp_path / "ch")
    assert (
        loaded["InvoiceDate"].tolist()
        == [
            pd.Timestamp("2010-12-13 10:00"),
            pd.Timestamp("2010-12-01 10:00"),
        ]
        * 2
    )


def test_row_in_another_format_is_an_error(write_csv) -> None:
    # The format parsing most of the sample wins; the odd row out is reported.
    path = write_csv(rows("13/12/2010 10:00", "14/12/2010 10:00", "2010-12-14 10:00:00"))
    with pytest.raises(DataError, match=r"row 3, column InvoiceDate: .*'%d/%m/%Y %H:%M'"):
        load_transactions(path)


def test_format_from_first_chunk_applies_to_later_chunks(write_csv) -> None:
    path = write_csv(rows("13/12/2010 10:00", "14/12/2010 10:00", "02/01/2011 10:00"))
    chunks = list(iter_transaction_chunks(path, chunk_rows=2))
    assert chunks[1]["InvoiceDate"].iloc[0] == pd.Timestamp("2011-01-02 10:00")


def test_detect_format_prefers_the_format_parsing_everything() -> None:
    sample = pd.Series(["12/1/2010 8:26", "12/31/2010 17:00"], dtype="string")
    assert detect_format(sample) == "%m/%d/%Y %H:%M"
    assert detect_format(pd.Series([None], dtype="string")) is None
