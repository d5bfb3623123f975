"""Chunked reading yields the same rows and dtypes as loading whole, in bounded pieces."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retailsage.cli import main as cli_main
from retailsage.core.errors import UserError
from retailsage.data.loader import iter_transaction_chunks, load_transactions
from retailsage.data.synthetic import write_transactions


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".xlsx"])
def test_chunked_equals_whole(small_frame: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    frame = small_frame.head(260) if suffix == ".xlsx" else small_frame
    path = tmp_path / f"tx{suffix}"
    if suffix == ".xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    else:
        write_transactions(frame, path)
    chunk_rows = 100 if suffix == ".xlsx" else 700
    chunks = list(iter_transaction_chunks(path, chunk_rows=chunk_rows))
    assert all(len(chunk) <= chunk_rows for chunk in chunks)
    assert [len(chunk) for chunk in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1)
    whole = load_transactions(path)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    pd.testing.assert_frame_equal(whole, frame.reset_index(drop=True))


def test_chunks_never_span_files(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    write_transactions(small_frame.iloc[:1500], tmp_path / "a.parquet")
    write_transactions(small_frame.iloc[1500:], tmp_path / "b.csv")
    sizes = [len(chunk) for chunk in iter_transaction_chunks(tmp_path, chunk_rows=1000)]
    assert sizes == [1000, 500, 1000, 500]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_unwritable_output_is_a_user_error(
    small_frame: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.raises(UserError, match="cannot write the output file"):
        write_transactions(small_frame, not_a_directory / f"tx{suffix}")


def test_generate_command_reports_an_unwritable_output_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "tx.csv"
    assert cli_main(["generate", "--rows", "10", "--out", str(out)]) == 2
