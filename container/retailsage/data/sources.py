"""Find transaction files and read them as raw, untyped column chunks.

A *source* is one file. Readers yield :class:`RawChunk` objects: the schema columns that the
file carries (header names normalised, aliases mapped), still in whatever types the format
gave them, plus the 1-based number of the chunk's first data row so that the typing step can
name the exact row of a bad value. Typing and validation live in :mod:`retailsage.data.coerce`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from retailsage.core.errors import DataError
from retailsage.data.schema import CUSTOMER_ID, INVOICE_NO, TRANSACTION_COLUMNS, UNIT_PRICE

logger = logging.getLogger(__name__)

LABEL_COLUMN = "injected_anomaly"
"""Optional boolean column written by the synthetic generator; kept by the loader."""

SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".xlsx")
"""File name endings the loader reads; anything else in a channel directory is skipped."""

COLUMN_ALIASES: dict[str, str] = {
    "Invoice": INVOICE_NO,
    "Price": UNIT_PRICE,
    "Customer ID": CUSTOMER_ID,
}
"""Header names of the "Online Retail II" export mapped onto the UCI names."""

_IGNORED_NAMES = frozenset({"_SUCCESS", "manifest", "manifest.json", "MANIFEST"})
_SNIFF_BYTES = 1 << 20
_CSV_BLOCK_BYTES = 16 << 20
_NULL_STRINGS = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "<NA>"]
_STRING_TYPES = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
}


@dataclass(frozen=True)
class RawChunk:
    """A slice of one file's rows, before typing.

    Attributes:
        source: the file the rows came from (named in every error message).
        first_row: 1-based data-row number of the chunk's first row (header excluded).
        frame: the schema columns the file has (plus the label column when present).
    """

    source: Path
    first_row: int
    frame: pd.DataFrame


def _is_ignored(path: Path, root: Path) -> bool:
    """Whether a file inside a channel directory is bookkeeping rather than data."""
    parts = path.relative_to(root).parts
    name = path.name
    return (
        any(part.startswith(".") for part in parts)
        or ".sagemaker-" in name
        or name in _IGNORED_NAMES
        or name.endswith(".manifest")
    )


def file_suffix(path: Path) -> str | None:
    """Return the supported suffix a file name ends with, or ``None``.

    Args:
        path: the file.

    Returns:
        One of :data:`SUPPORTED_SUFFIXES` (``.csv.gz`` wins over ``.csv``), else ``None``.
    """
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def discover_files(path: str | Path) -> list[Path]:
    """List the data files of a file or a directory (a SageMaker channel).

    Directories are searched recursively; files are returned sorted by relative path. Hidden
    files and directories, ``*.sagemaker-*`` markers, ``_SUCCESS`` and manifest files are
    ignored, and so (with a log line) are files with an unsupported suffix.

    Args:
        path: a single file or a directory.

    Returns:
        The files to read, at least one.

    Raises:
        DataError: the path does not exist, a single file has an unsupported suffix, or a
            directory holds no supported file.
    """
    root = Path(path)
    if root.is_file():
        if file_suffix(root) is None:
            raise DataError(
                f"{root}: unsupported file type; expected one of {', '.join(SUPPORTED_SUFFIXES)}"
            )
        return [root]
    if not root.is_dir():
        raise DataError(f"{root}: no such file or directory")
    files: list[Path] = []
    for candidate in sorted(p for p in root.rglob("*") if p.is_file()):
        if _is_ignored(candidate, root):
            continue
        if file_suffix(candidate) is None:
            logger.info("skipping %s: unsupported file type", candidate)
            continue
        files.append(candidate)
    if not files:
        raise DataError(
            f"{root}: no data files found (expected {', '.join(SUPPORTED_SUFFIXES)}); "
            "is the channel empty?"
        )
    return files


def _select_columns(source: Path, names: list[str]) -> dict[str, str]:
    """Map the file's header names to schema names; error on missing columns.

    Args:
        source: the file (for the message).
        names: the header names as the file spells them.

    Returns:
        File column name -> schema column name, for the columns to keep.

    Raises:
        DataError: a schema column is missing.
    """
    wanted = (*TRANSACTION_COLUMNS, LABEL_COLUMN)
    mapping: dict[str, str] = {}
    for name in names:
        clean = str(name).strip().lstrip("\ufeff")
        target = COLUMN_ALIASES.get(clean, clean)
        if target in wanted and target not in mapping.values():
            mapping[str(name)] = target
    missing = [c for c in TRANSACTION_COLUMNS if c not in mapping.values()]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, names)) or 'no header'}; "
            f"expected {', '.join(TRANSACTION_COLUMNS)}"
        )
    return mapping


def _to_pandas(table: pa.Table, mapping: dict[str, str]) -> pd.DataFrame:
    """Convert an Arrow table to pandas with nullable string columns and schema names."""
    frame = table.to_pandas(types_mapper=_STRING_TYPES.get)
    return frame.rename(columns=mapping)


# ----------------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class _CsvDialect:
    encoding: str
    delimiter: str
    names: list[str]


def read_head(source: Path, limit: int) -> bytes:
    """Return up to ``limit`` leading bytes of a plain or gzipped file.

    Args:
        source: the file (``.gz`` is decompressed).
        limit: the most bytes to return.

    Returns:
        The bytes, never blank.

    Raises:
        DataError: the file cannot be read, or holds nothing but whitespace.
    """
    opener = gzip.open if source.name.lower().endswith(".gz") else open
    try:
        with opener(source, "rb") as handle:
            head: bytes = handle.read(limit)
    except (OSError, EOFError) as exc:
        raise DataError(f"{source}: cannot read file: {exc}") from exc
    if not head.strip():
        raise DataError(f"{source}: the file is empty (no header, no rows)")
    return head


def _sniff_csv(source: Path) -> _CsvDialect:
    """Guess a CSV file's encoding (UTF-8, else Latin-1) and delimiter from its first MiB."""
    head = read_head(source, _SNIFF_BYTES)
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        text, encoding = head.decode("latin-1"), "latin-1"
        logger.info("%s is not UTF-8; reading it as Latin-1", source)
    header = text.splitlines()[0] if text else ""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda sep: counts[sep])
    delimiter = delimiter if counts[delimiter] else ","
    names = next(csv.reader([header], delimiter=delimiter), [])
    return _CsvDialect(encoding=encoding, delimiter=delimiter, names=names)


def _csv_options(
    dialect: _CsvDialect, mapping: dict[str, str]
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    """Reader options: the kept columns are read as strings, the rest skipped."""
    return (
        pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES, encoding=dialect.encoding),
        pacsv.ParseOptions(delimiter=dialect.delimiter),
        pacsv.ConvertOptions(
            column_types={name: pa.string() for name in mapping},
            include_columns=list(mapping),
            strings_can_be_null=True,
            null_values=_NULL_STRINGS,
        ),
    )


def _rebatch(
    batches: Iterator[pa.RecordBatch], rows: int | None, schema: pa.Schema
) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``rows`` rows (the last one shorter).

    At least one table is yielded, an empty one for an input without rows.
    """
    pending: list[pa.RecordBatch] = []
    held = 0
    yielded = False
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while rows is not None and held >= rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, rows)
            yielded = True
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held or not yielded:
        yield pa.Table.from_batches(pending, schema=schema)


def _read_csv(source: Path, chunk_rows: int | None) -> Iterator[RawChunk]:
    """Yield raw chunks of a CSV (plain or gzip) file."""
    dialect = _sniff_csv(source)
    try:
        mapping = _select_columns(source, dialect.names)
        read, parse, convert = _csv_options(dialect, mapping)
        if chunk_rows is None:  # whole file: the multi-threaded reader
            table = pacsv.read_csv(
                source, read_options=read, parse_options=parse, convert_options=convert
            )
            yield RawChunk(source, 1, _to_pandas(table, mapping))
            return
        reader = pacsv.open_csv(
            source, read_options=read, parse_options=parse, convert_options=convert
        )
        first = 1
        for table in _rebatch(iter(reader), chunk_rows, reader.schema):
            yield RawChunk(source, first, _to_pandas(table, mapping))
            first += table.num_rows
    except pa.ArrowInvalid as exc:
        raise DataError(f"{source}: cannot parse CSV: {exc}") from exc


# ------------------------------------------------------------------------------- Parquet


def _read_parquet(source: Path, chunk_rows: int | None) -> Iterator[RawChunk]:
    """Yield raw chunks of a Parquet file (whole, or by record batches)."""
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{source}: not a readable Parquet file: {exc}") from exc
    names = parquet.schema_arrow.names
    mapping = _select_columns(source, names)
    repeated = sorted(name for name in mapping if names.count(name) > 1)
    if repeated:  # Arrow reads every same-named column; pandas then fails on the duplicates
        raise DataError(
            f"{source}: column name(s) {', '.join(repeated)} appear more than once in the file"
        )
    if chunk_rows is None:
        table = parquet.read(columns=list(mapping))
        yield RawChunk(source, 1, _to_pandas(table, mapping))
        return
    first = 1
    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(mapping)):
        yield RawChunk(source, first, _to_pandas(pa.Table.from_batches([batch]), mapping))
        first += batch.num_rows


# ---------------------------------------------------------------------------------- xlsx


def _read_xlsx(source: Path, chunk_rows: int | None) -> Iterator[RawChunk]:
    """Yield raw chunks of the first sheet of an ``.xlsx`` workbook (streamed by openpyxl)."""
    try:
        import openpyxl  # optional "train" extra, only needed for .xlsx
    except ImportError as exc:  # pragma: no cover - the image always installs it
        raise DataError(f"{source}: reading .xlsx needs openpyxl (pip install openpyxl)") from exc
    try:
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a bad file
        raise DataError(f"{source}: not a readable .xlsx workbook: {exc}") from exc
    try:
        rows: Iterator[tuple[Any, ...]] = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise DataError(f"{source}: the first sheet is empty (no header, no rows)")
        names = ["" if name is None else str(name) for name in header]
        mapping = _select_columns(source, names)
        positions = [names.index(name) for name in mapping]
        # Blank rows (formatted but empty cells, common at the end of a sheet) are skipped,
        # as Arrow's CSV reader skips empty lines; row numbers count data rows.
        data = (row for row in rows if any(value is not None for value in row))
        first = 1
        while True:
            block = list(islice(data, chunk_rows)) if chunk_rows else list(data)
            if not block and first > 1:
                return
            frame = pd.DataFrame.from_records(block, columns=names, coerce_float=False)
            frame = frame.iloc[:, positions].rename(columns=mapping)
            yield RawChunk(source, first, frame)
            first += len(block)
            if not block or chunk_rows is None:
                return
    finally:
        workbook.close()


_READERS = {
    ".csv": _read_csv,
    ".csv.gz": _read_csv,
    ".parquet": _read_parquet,
    ".xlsx": _read_xlsx,
}


def read_raw_chunks(source: Path, chunk_rows: int | None) -> Iterator[RawChunk]:
    """Yield one file's rows as raw chunks.

    Args:
        source: a file with a supported suffix.
        chunk_rows: rows per chunk; ``None`` reads the file in one piece.

    Yields:
        Raw chunks in file order; a file without data rows yields an empty chunk or none.

    Raises:
        DataError: the file is unreadable, empty, or misses a schema column.
    """
    suffix = file_suffix(source)
    if suffix is None:
        raise DataError(f"{source}: unsupported file type")
    yield from _READERS[suffix](source, chunk_rows)
