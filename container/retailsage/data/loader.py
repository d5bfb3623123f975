"""Load retail transactions (Online Retail schema) from CSV, CSV.gz, Parquet or .xlsx.

A path is a single file or a directory (a SageMaker channel such as
``/opt/ml/input/data/train``); every supported file inside is read in sorted order. The
result always has :data:`~retailsage.data.schema.TRANSACTION_COLUMNS` with the dtypes listed
in :mod:`retailsage.data.coerce`; extra columns are dropped except the synthetic generator's
label column. Malformed input raises :class:`~retailsage.core.errors.DataError` naming the
file and, where known, the row (1-based data row, header excluded), column and value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from retailsage.core.errors import DataError
from retailsage.data.coerce import ChunkTyper
from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.data.sources import (
    LABEL_COLUMN,
    SUPPORTED_SUFFIXES,
    discover_files,
    read_raw_chunks,
)

__all__ = ["SUPPORTED_SUFFIXES", "iter_transaction_chunks", "load_transactions"]

logger = logging.getLogger(__name__)


def _typed_chunks(path: str | Path, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    """Yield typed, non-empty chunks of every file under ``path``; error if none has rows."""
    files = discover_files(path)
    rows = 0
    for source in files:
        typer = ChunkTyper(source)
        for chunk in read_raw_chunks(source, chunk_rows):
            if chunk.frame.empty:
                logger.info("%s: no data rows", source)
                continue
            typed = typer.type_chunk(chunk)
            rows += len(typed)
            yield typed
    if rows == 0:
        names = ", ".join(str(f) for f in files[:5]) + (" ..." if len(files) > 5 else "")
        raise DataError(f"{path}: the input has no data rows (read {names})")


def _align_label(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Keep the label column only when every file has it (else drop it everywhere)."""
    with_label = [LABEL_COLUMN in frame.columns for frame in frames]
    if all(with_label) or not any(with_label):
        return frames
    logger.warning("only some files carry %s; dropping it", LABEL_COLUMN)
    return [frame[list(TRANSACTION_COLUMNS)] for frame in frames]


def load_transactions(path: str | Path, *, columns_only: bool = False) -> pd.DataFrame:
    """Load every transaction under a file or directory as one typed frame.

    Args:
        path: a supported file, or a directory searched recursively (hidden files,
            ``*.sagemaker-*``, ``_SUCCESS`` and manifest files are ignored).
        columns_only: return exactly :data:`TRANSACTION_COLUMNS`, dropping the label column
            even when the input has one.

    Returns:
        The typed raw transactions (no cleaning applied), with a ``RangeIndex``.

    Raises:
        DataError: no files, no data rows, a missing column, or an unparseable value.
    """
    frames = _align_label(list(_typed_chunks(path, None)))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if columns_only and LABEL_COLUMN in frame.columns:
        frame = frame[list(TRANSACTION_COLUMNS)]
    logger.info("loaded %d transactions from %s", len(frame), path)
    return frame


def iter_transaction_chunks(
    path: str | Path, *, chunk_rows: int = 1_000_000
) -> Iterator[pd.DataFrame]:
    """Stream the transactions under a file or directory in bounded-memory chunks.

    CSV files are read with a streaming reader, Parquet by record batches and .xlsx row by
    row, so memory stays proportional to ``chunk_rows`` whatever the file size. The date
    format is detected on each file's first chunk and enforced on the rest of that file.

    Args:
        path: a supported file or a directory, as for :func:`load_transactions`.
        chunk_rows: the most rows per chunk (chunks never span two files).

    Yields:
        Typed frames with the same columns and dtypes as :func:`load_transactions`.

    Raises:
        DataError: as for :func:`load_transactions`; also for ``chunk_rows < 1``.
    """
    if chunk_rows < 1:
        raise DataError(f"chunk_rows must be at least 1, got {chunk_rows}")
    yield from _typed_chunks(path, chunk_rows)
