"""Type and validate raw transaction chunks: one place that knows the target dtypes.

Target dtypes (the contract every other area codes against):

* ``InvoiceNo``, ``StockCode``, ``Description``, ``Country``: pandas ``string`` (``<NA>`` for
  missing).
* ``Quantity``: ``int64``; ``UnitPrice``: ``float64``; ``InvoiceDate``: naive
  ``datetime64[ns]`` (an offset is converted to UTC; years 1678-2261). A missing or
  unparseable value in these, a number outside the int64 range, or a date outside the
  supported range is a :class:`DataError`.
* ``CustomerID``: ``string`` with ``<NA>`` for guests; integer-like ids are rendered without a
  decimal part (``17850.0`` -> ``"17850"``).
* ``injected_anomaly`` (only when the file has it): ``bool``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retailsage.core.errors import DataError
from retailsage.data.dates import (
    DATE_RANGE_TEXT,
    ISO_FORMAT,
    bounded_ns,
    detect_format,
    out_of_range_values,
    parse_with_format,
)
from retailsage.data.schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_NO,
    QUANTITY,
    STOCK_CODE,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
)
from retailsage.data.sources import LABEL_COLUMN, RawChunk

STRING = pd.StringDtype("pyarrow")
"""The dtype of every text column (its name is ``"string"``)."""

_TEXT_COLUMNS = (INVOICE_NO, STOCK_CODE, DESCRIPTION, COUNTRY)
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")
_INT64_BOUND = 2.0**63
INT64_RANGE_TEXT = "-9223372036854775808 .. 9223372036854775807"
"""The int64 range, for error messages."""


def outside_int64(numbers: np.ndarray) -> np.ndarray:
    """Flag float values that cannot become int64 (casting them would wrap to INT64_MIN).

    Shared by training (:class:`ChunkTyper`) and serving (``retailsage.serve.inputs``).

    Args:
        numbers: float64 values; NaN is not flagged (callers check missing values first).

    Returns:
        A boolean mask, True where the value is at or beyond +/-2**63 or infinite.
    """
    values = np.asarray(numbers, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (values < -_INT64_BOUND) | (values >= _INT64_BOUND)


def empty_transactions(with_label: bool = False) -> pd.DataFrame:
    """Return a zero-row frame with the typed transaction schema.

    Args:
        with_label: add the boolean label column.

    Returns:
        An empty frame with the target dtypes.
    """
    frame = pd.DataFrame(
        {
            INVOICE_NO: pd.Series(dtype=STRING),
            STOCK_CODE: pd.Series(dtype=STRING),
            DESCRIPTION: pd.Series(dtype=STRING),
            QUANTITY: pd.Series(dtype="int64"),
            INVOICE_DATE: pd.Series(dtype="datetime64[ns]"),
            UNIT_PRICE: pd.Series(dtype="float64"),
            CUSTOMER_ID: pd.Series(dtype=STRING),
            COUNTRY: pd.Series(dtype=STRING),
        }
    )
    if with_label:
        frame[LABEL_COLUMN] = pd.Series(dtype="bool")
    return frame


@dataclass
class _Where:
    """Where a column of a chunk came from, for error messages."""

    source: Path
    first_row: int
    column: str

    def fail(self, mask: np.ndarray, raw: pd.Series, problem: str) -> DataError:
        """Build the error for the first row flagged by ``mask``."""
        position = int(np.flatnonzero(mask)[0])
        value = raw.iloc[position]
        shown = "<missing>" if pd.isna(value) else repr(str(value))
        return DataError(
            f"{self.source}: row {self.first_row + position}, column {self.column}: "
            f"{problem} (value {shown}; {int(mask.sum())} such row(s) in this chunk)"
        )


def _as_text(values: pd.Series) -> pd.Series:
    """Return the values as nullable Arrow-backed strings (unchanged text)."""
    return values if values.dtype == STRING else values.astype(STRING)


def _fast_cast(text: pd.Series, target: pa.DataType) -> pd.Series | None:
    """Cast clean numeric strings with Arrow; ``None`` when any value needs the slow path."""
    try:
        array = pc.cast(pa.array(text, type=pa.string(), from_pandas=True), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if array.null_count:
        return None
    return pd.Series(array.to_numpy(zero_copy_only=False), index=text.index)


def _to_number(values: pd.Series, where: _Where, what: str) -> pd.Series:
    """Convert any column to float64, raising on missing or unparseable values."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise where.fail(np.ones(len(values), bool), values, f"expected {what}, got a boolean")
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype("float64")
        missing = numbers.isna().to_numpy()
        if missing.any():
            raise where.fail(missing, values, f"missing {what}")
    else:
        text = _as_text(values)
        fast = _fast_cast(text, pa.float64())
        numbers = fast if fast is not None else _parse_numbers(text, values, where, what)
    infinite = ~np.isfinite(numbers.to_numpy())
    if infinite.any():
        raise where.fail(infinite, values, f"{what} is not finite")
    return numbers


def _parse_numbers(text: pd.Series, values: pd.Series, where: _Where, what: str) -> pd.Series:
    """Slow path for numbers with whitespace or errors: parse, then name the first bad row."""
    stripped = text.str.strip()
    missing = stripped.isna().to_numpy()
    if missing.any():
        raise where.fail(missing, values, f"missing {what}")
    numbers = pd.to_numeric(stripped, errors="coerce").astype("float64")
    bad = numbers.isna().to_numpy()
    if bad.any():
        raise where.fail(bad, values, f"cannot parse as {what}")
    return numbers


def _to_int64(values: pd.Series, where: _Where) -> pd.Series:
    """Convert any column to int64 (whole numbers only)."""
    if pd.api.types.is_integer_dtype(values.dtype):
        missing = values.isna().to_numpy()
        if missing.any():
            raise where.fail(missing, values, "missing integer")
        if pd.api.types.is_unsigned_integer_dtype(values.dtype):
            too_big = values.to_numpy(dtype=np.uint64) > np.uint64(2**63 - 1)
            if too_big.any():
                raise where.fail(too_big, values, f"integer outside {INT64_RANGE_TEXT}")
        return values.astype("int64")
    if not pd.api.types.is_numeric_dtype(values.dtype):
        fast = _fast_cast(_as_text(values), pa.int64())
        if fast is not None:
            return fast.astype("int64")
    numbers = _to_number(values, where, "integer")
    outside = outside_int64(numbers.to_numpy())
    if outside.any():
        raise where.fail(outside, values, f"integer outside {INT64_RANGE_TEXT}")
    fractional = (numbers.to_numpy() % 1) != 0
    if fractional.any():
        raise where.fail(fractional, values, "expected a whole number")
    return numbers.astype("int64")


def _to_customer_id(values: pd.Series, where: _Where) -> pd.Series:
    """Render customer ids as strings; integer-like numbers lose their ``.0``."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise where.fail(np.ones(len(values), bool), values, "expected an id, got a boolean")
    if pd.api.types.is_numeric_dtype(values.dtype):
        array = pa.array(values, from_pandas=True)
        if pa.types.is_floating(array.type):
            fractional = pc.fill_null(pc.not_equal(pc.floor(array), array), False)
            mask = fractional.to_numpy(zero_copy_only=False)
            if mask.any():
                raise where.fail(mask, values, "customer id is not a whole number")
            array = pc.cast(array, pa.int64())
        text = pd.Series(pc.cast(array, pa.string()), index=values.index, dtype=STRING)
        return text
    text = _as_text(values).str.strip().str.replace(r"\.0+$", "", regex=True)
    return text.mask(text == "")


def _to_label(values: pd.Series, where: _Where) -> pd.Series:
    """Convert the label column to bool (``true/false``, ``1/0``, ``yes/no``)."""
    if pd.api.types.is_bool_dtype(values.dtype) and not values.isna().any():
        return values.astype("bool")
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = _to_number(values, where, "label")
        return numbers != 0
    text = _as_text(values).str.strip().str.lower()
    truthy, falsy = text.isin(_TRUE), text.isin(_FALSE)
    bad = ~(truthy | falsy).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        raise where.fail(bad, values, "expected a boolean (true/false, 1/0)")
    return truthy.astype("bool")


@dataclass
class ChunkTyper:
    """Types the chunks of one file; remembers the date format detected on the first chunk.

    Attributes:
        source: the file being typed.
        date_format: the file's date format once detected (``None`` before, or when the file
            stores real timestamps).
    """

    source: Path
    date_format: str | None = field(default=None)

    def _to_datetime(self, values: pd.Series, where: _Where) -> pd.Series:
        """Convert any column to naive UTC ``datetime64[ns]`` within the supported range."""
        missing = values.isna().to_numpy()
        if missing.any():
            raise where.fail(missing, values, "missing date")
        stored: pd.Series | None = None
        if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            values.dtype
        ):
            stored = values
        elif values.dtype == object and pd.api.types.infer_dtype(values) in ("datetime", "date"):
            stored = pd.to_datetime(values, utc=True)
        if stored is not None:
            typed, outside = bounded_ns(stored)
            if outside.any():
                raise where.fail(outside, values, f"date outside the supported {DATE_RANGE_TEXT}")
            return typed
        text = _as_text(values).str.strip()
        if self.date_format is None:
            self.date_format = detect_format(text) or ISO_FORMAT
        parsed = parse_with_format(text, self.date_format)
        bad = parsed.isna().to_numpy()
        if bad.any():
            outside = bad & out_of_range_values(text, self.date_format)
            if outside.any():
                raise where.fail(outside, values, f"date outside the supported {DATE_RANGE_TEXT}")
            raise where.fail(
                bad, values, f"cannot parse as a date in this file's format {self.date_format!r}"
            )
        return parsed

    def type_chunk(self, chunk: RawChunk) -> pd.DataFrame:
        """Return the chunk with the target dtypes.

        Args:
            chunk: raw rows of :attr:`source`.

        Returns:
            A new frame: :data:`TRANSACTION_COLUMNS` (+ the label column when present), typed,
            with a fresh ``RangeIndex``.

        Raises:
            DataError: a value is missing or unparseable; the message names file, row
                (1-based data row), column and value.
        """
        raw = chunk.frame.reset_index(drop=True)

        def where(column: str) -> _Where:
            return _Where(self.source, chunk.first_row, column)

        typed: dict[str, pd.Series] = {name: _as_text(raw[name]) for name in _TEXT_COLUMNS}
        typed[QUANTITY] = _to_int64(raw[QUANTITY], where(QUANTITY))
        typed[INVOICE_DATE] = self._to_datetime(raw[INVOICE_DATE], where(INVOICE_DATE))
        typed[UNIT_PRICE] = _to_number(raw[UNIT_PRICE], where(UNIT_PRICE), "number")
        typed[CUSTOMER_ID] = _to_customer_id(raw[CUSTOMER_ID], where(CUSTOMER_ID))
        columns = list(TRANSACTION_COLUMNS)
        if LABEL_COLUMN in raw.columns:
            typed[LABEL_COLUMN] = _to_label(raw[LABEL_COLUMN], where(LABEL_COLUMN))
            columns.append(LABEL_COLUMN)
        return pd.DataFrame({name: typed[name] for name in columns})
