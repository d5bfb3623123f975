"""Read a training channel: raw transactions, or an already-featurized table.

A channel directory holds one or many files (CSV, gzipped CSV, Parquet, xlsx). Which of the two
shapes it holds is decided from the first file's header alone, before any heavy reading: raw
transaction files carry the UCI columns (``InvoiceNo``, ``InvoiceDate``, ...); featurized tables
do not. Raw channels are read by :func:`retailsage.data.load_transactions`; featurized tables
are read here and their columns are checked by the task that consumes them.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retailsage.core.errors import DataError
from retailsage.data.schema import INVOICE_DATE, INVOICE_NO
from retailsage.data.sources import COLUMN_ALIASES, discover_files, file_suffix, read_head

logger = logging.getLogger(__name__)

_RAW_MARKERS = frozenset(
    {INVOICE_NO, INVOICE_DATE, *(k for k, v in COLUMN_ALIASES.items() if v == INVOICE_NO)}
)
"""Header names that only raw transaction files carry (a numeric table may well have a Price)."""
_DELIMITERS = (",", ";", "\t", "|")
_MAX_HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class ChannelData:
    """One channel's content.

    Attributes:
        name: the channel name (``train`` or ``validation``).
        path: the channel directory (or file).
        files: the data files found in it.
        raw: True for raw transactions, False for a featurized table.
    """

    name: str
    path: Path
    files: tuple[Path, ...]
    raw: bool


def _first_line(path: Path) -> str:
    """Return the first line of a plain or gzipped text file (Latin-1 never fails to decode)."""
    line = read_head(path, _MAX_HEADER_BYTES).split(b"\n", 1)[0]
    # A UTF-8 byte-order mark decodes to these three Latin-1 characters.
    return line.decode("latin-1").strip().lstrip("\xef\xbb\xbf")


def _delimiter(header: str) -> str:
    """Return the most frequent of the usual CSV delimiters in a header line (comma if none)."""
    counts = {sep: header.count(sep) for sep in _DELIMITERS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def header_columns(path: Path) -> list[str]:
    """Return the column names of one data file without reading its rows.

    Args:
        path: a CSV (plain or gzipped), Parquet or xlsx file.

    Returns:
        The header names, stripped; xlsx files report the raw-transaction marker (they are
        always read as transactions).

    Raises:
        DataError: the file is empty or cannot be read.
    """
    suffix = file_suffix(path)
    if suffix == ".xlsx":
        return [INVOICE_NO]
    if suffix == ".parquet":
        try:
            return [str(name) for name in pq.read_schema(path).names]
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"{path}: not a readable Parquet file: {exc}") from exc
    header = _first_line(path)
    return [name.strip().strip('"') for name in header.split(_delimiter(header))]


def inspect_channel(name: str, path: Path) -> ChannelData:
    """Find a channel's files and decide whether they hold raw transactions.

    Args:
        name: the channel name, for messages.
        path: the channel directory.

    Returns:
        The channel description.

    Raises:
        DataError: the channel is missing or empty, or a file header is unreadable.
    """
    if not path.exists():
        raise DataError(
            f"channel {name!r}: {path} does not exist; did the job define an input channel "
            f"named {name!r} (InputDataConfig ChannelName)?"
        )
    try:
        files = discover_files(path)
    except DataError as exc:
        raise DataError(
            f"channel {name!r}: {exc} (check that the S3 prefix of the channel holds data "
            "files and that the channel name is spelled as the job expects)"
        ) from exc
    raw = bool(_RAW_MARKERS.intersection(header_columns(files[0])))
    logger.info(
        "channel %s: %d file(s), %s", name, len(files), "raw transactions" if raw else "table"
    )
    return ChannelData(name=name, path=path, files=tuple(files), raw=raw)


def _read_table_file(path: Path) -> pd.DataFrame:
    """Read one featurized table file (CSV, gzipped CSV or Parquet)."""
    try:
        if file_suffix(path) == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=_delimiter(_first_line(path)))
    except (ValueError, OSError, EOFError, csv.Error, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot parse the table: {exc}") from exc


def read_table(channel: ChannelData) -> pd.DataFrame:
    """Read every file of a featurized channel into one frame.

    Args:
        channel: a channel whose ``raw`` is False.

    Returns:
        The rows of all files, in file order, with a fresh index.

    Raises:
        DataError: a file cannot be parsed, the files disagree on columns, or there are no rows.
    """
    frames = [_read_table_file(path) for path in channel.files]
    columns = list(frames[0].columns)
    for path, frame in zip(channel.files[1:], frames[1:], strict=True):
        if list(frame.columns) != columns:
            raise DataError(
                f"channel {channel.name!r}: {path} has columns {list(frame.columns)}, "
                f"but {channel.files[0]} has {columns}; all files must share one header"
            )
    table = pd.concat(frames, ignore_index=True)
    if table.empty:
        raise DataError(f"channel {channel.name!r}: the files under {channel.path} hold no rows")
    return table


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], channel: str, what: str) -> None:
    """Raise a DataError naming every missing column of a featurized table.

    Args:
        frame: the table.
        columns: the columns it must carry.
        channel: the channel name, for the message.
        what: what the table is supposed to be, for the message.

    Raises:
        DataError: some columns are missing.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"channel {channel!r} looks like a featurized {what} but lacks column(s) "
            f"{', '.join(missing)}; give raw transactions (with InvoiceNo, InvoiceDate, ...) "
            f"or a table with all of: {', '.join(columns)}"
        )
