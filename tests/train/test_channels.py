from __future__ import annotations

import gzip

import pandas as pd
import pytest

from retailsage.core.errors import DataError
from retailsage.train.channels import header_columns, inspect_channel, read_table, require_columns


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.csv", b"InvoiceNo,StockCode\n1,2\n", ["InvoiceNo", "StockCode"]),
        ("b.csv", b"\xef\xbb\xbfInvoice;Price\n1;2\n", ["Invoice", "Price"]),
        ("c.csv", b'"gap_days"\t"last_gap"\n1\t2\n', ["gap_days", "last_gap"]),
    ],
)
def test_header_columns_reads_only_the_first_line(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert header_columns(path) == expected
    gz = tmp_path / f"{name}.gz"
    gz.write_bytes(gzip.compress(content))
    assert header_columns(gz) == expected


def test_raw_and_table_channels_are_told_apart(tmp_path):
    raw, table = tmp_path / "raw", tmp_path / "table"
    raw.mkdir()
    table.mkdir()
    (raw / "part-1.csv").write_text("Invoice,InvoiceDate\n1,2\n")
    (raw / ".hidden.csv").write_text("x\n")
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_parquet(table / "part-1.parquet")
    pd.DataFrame({"a": [5.0], "b": [6.0]}).to_parquet(table / "part-2.parquet")
    assert inspect_channel("train", raw).raw
    channel = inspect_channel("train", table)
    assert not channel.raw
    assert read_table(channel)["a"].tolist() == [1.0, 2.0, 5.0]


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({}, "no data files found"),
        ({"empty.csv": ""}, "the file is empty"),
        ({"notes.txt": "hello"}, "no data files found"),
    ],
)
def test_unusable_channels_are_data_errors(tmp_path, files, needle):
    channel = tmp_path / "train"
    channel.mkdir()
    for name, text in files.items():
        (channel / name).write_text(text)
    with pytest.raises(DataError, match=needle):
        read_table(inspect_channel("train", channel))


def test_missing_channel_and_mismatched_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        inspect_channel("validation", tmp_path / "validation")
    channel = tmp_path / "train"
    channel.mkdir()
    (channel / "a.csv").write_text("x,y\n1,2\n")
    (channel / "b.csv").write_text("x,z\n1,2\n")
    with pytest.raises(DataError, match="must share one header"):
        read_table(inspect_channel("train", channel))


def test_require_columns_names_every_missing_column():
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(DataError, match="lacks column\\(s\\) b, c"):
        require_columns(frame, ("a", "b", "c"), "train", "gap table")
