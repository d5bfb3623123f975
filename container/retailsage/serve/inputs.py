"""Which request rows a model accepts: positional layouts, column kinds and type coercion.

A model's ``manifest.json`` lists its ``input_columns``. A headerless CSV row (or a JSON array)
is recognised by its field count:

* ``len(input_columns)`` fields: exactly the model's inputs, in manifest order;
* gap families (output ``predicted_gap_days``): one more field = a leading ``CustomerID``;
  two more = leading ``CustomerID, as_of_date`` (the columns ``snapshot_rows`` writes first);
* anomaly family (output ``anomaly_score``): 8 fields = a raw Online Retail transaction
  (``TRANSACTION_COLUMNS`` order), featurized by the family's stored featurizer; with an
  ``id_column`` in the family config, one more field = that id leading the inputs.

JSON objects name their fields; keys outside the known columns are ignored.

Values (the same rules for every family): a number must be finite and within the float32 range
(|x| <= 3.4e38: XGBoost and the LSTM compute in float32), an empty field, JSON ``null`` or
``NaN`` is missing; ``Quantity`` must be a whole number within int64; a date is ISO 8601 or
another common layout, with an offset converted to UTC, in years 1678-2261; a JSON list or
object is never a field value. Anything else is a 400 naming the row and column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from retailsage.core.errors import BadInput
from retailsage.data.coerce import INT64_RANGE_TEXT, outside_int64
from retailsage.data.dates import DATE_RANGE_TEXT, ISO_FORMAT, bounded_ns, parse_dates
from retailsage.data.schema import (
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_NO,
    QUANTITY,
    STOCK_CODE,
    TRANSACTION_COLUMNS,
)

AS_OF_DATE = "as_of_date"
ORDER_DATE = "order_date"
COUNTRY = "Country"
GAP_OUTPUT = "predicted_gap_days"
ANOMALY_OUTPUT = "anomaly_score"

Kind = Literal["number", "integer", "string", "date"]
STRING_COLUMNS = frozenset({INVOICE_NO, STOCK_CODE, DESCRIPTION, CUSTOMER_ID, COUNTRY})
DATE_COLUMNS = frozenset({INVOICE_DATE, AS_OF_DATE, ORDER_DATE})
INTEGER_COLUMNS = frozenset({QUANTITY})
FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest accepted magnitude of a numeric input."""


def column_kind(name: str) -> Kind:
    """Return how a column is typed on input.

    Args:
        name: a column name.

    Returns:
        ``string`` for ids/codes/country, ``date`` for timestamps, ``integer`` for
        ``Quantity``, else ``number`` (float64; an empty field is NaN).
    """
    if name in STRING_COLUMNS:
        return "string"
    if name in DATE_COLUMNS:
        return "date"
    if name in INTEGER_COLUMNS:
        return "integer"
    return "number"


@dataclass(frozen=True)
class InputSchema:
    """The rows one loaded model accepts, derived from its manifest.

    Attributes:
        input_columns: the model's inputs in CSV order.
        layouts: field count -> column names, for positional rows (CSV lines, JSON arrays).
        id_columns: columns passed through to JSON outputs to ease joins.
        is_gap: the model predicts ``predicted_gap_days``.
    """

    input_columns: tuple[str, ...]
    layouts: Mapping[int, tuple[str, ...]]
    id_columns: tuple[str, ...]
    is_gap: bool

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> InputSchema:
        """Derive the schema from a model manifest.

        Args:
            manifest: the parsed ``manifest.json``.

        Returns:
            The schema, with every positional layout the model accepts.
        """
        inputs = tuple(str(c) for c in manifest.get("input_columns", ()))
        outputs = tuple(str(c) for c in manifest.get("output_columns", ()))
        layouts: dict[int, tuple[str, ...]] = {}
        ids: list[str] = []
        is_gap = GAP_OUTPUT in outputs
        if is_gap:
            layouts[len(inputs) + 2] = (CUSTOMER_ID, AS_OF_DATE, *inputs)
            layouts[len(inputs) + 1] = (CUSTOMER_ID, *inputs)
            ids = [CUSTOMER_ID]
        if ANOMALY_OUTPUT in outputs:
            id_column = (manifest.get("config") or {}).get("id_column")
            if id_column and id_column not in inputs:
                layouts[len(inputs) + 1] = (str(id_column), *inputs)
                ids.append(str(id_column))
            layouts.setdefault(len(TRANSACTION_COLUMNS), TRANSACTION_COLUMNS)
            ids += [INVOICE_NO, STOCK_CODE]
        layouts[len(inputs)] = inputs  # the model's own inputs win any width collision
        return cls(
            input_columns=inputs,
            layouts=layouts,
            id_columns=tuple(dict.fromkeys(ids)),
            is_gap=is_gap,
        )

    def layout_for(self, width: int, where: str) -> tuple[str, ...]:
        """Return the column names of a positional row with ``width`` fields.

        Args:
            width: the number of fields in the row.
            where: where the row came from, for the error message (e.g. ``"line 3"``).

        Returns:
            The column names, in field order.

        Raises:
            BadInput: no layout has that many fields.
        """
        layout = self.layouts.get(width)
        if layout is None:
            accepted = ", ".join(str(w) for w in sorted(self.layouts))
            raise BadInput(
                f"{where} has {width} fields; this model accepts rows of {accepted} fields "
                f"(inputs in order: {', '.join(self.input_columns)})"
            )
        return layout

    def known_columns(self) -> tuple[str, ...]:
        """Every column name a JSON object may use (others are ignored)."""
        names: dict[str, None] = {}
        for layout in self.layouts.values():
            names.update(dict.fromkeys(layout))
        names.update(dict.fromkeys((AS_OF_DATE, ORDER_DATE)) if self.is_gap else {})
        return tuple(names)

    def check_columns(self, columns: Sequence[str]) -> None:
        """Check that named input has every model input (or a whole transaction).

        Args:
            columns: the column names present.

        Raises:
            BadInput: naming the missing columns.
        """
        present = set(columns)
        width = len(TRANSACTION_COLUMNS)
        if set(TRANSACTION_COLUMNS) <= present and self.layouts.get(width) == TRANSACTION_COLUMNS:
            return
        missing = [c for c in self.input_columns if c not in present]
        if missing:
            raise BadInput(f"missing input column(s): {', '.join(missing)}")


def _bad_cell(values: np.ndarray, parsed: np.ndarray, column: str, kind: str) -> BadInput:
    """Build the error naming the first value that did not parse."""
    present = pd.notna(values) & (values.astype(str) != "")
    failed = np.flatnonzero(present & pd.isna(parsed))
    row = int(failed[0]) if failed.size else 0
    return BadInput(
        f"row {row + 1}, column {column!r}: {_shown(values[row])} is not a valid {kind}"
    )


def _shown(value: Any) -> str:
    """A value for an error message, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


_SCALAR_KINDS = frozenset(
    {"string", "empty", "integer", "floating", "mixed-integer-float", "boolean", "decimal"}
)


def _nested_row(values: np.ndarray) -> int | None:
    """The first row holding a JSON list or object, or None.

    ``infer_dtype`` (one C pass) clears the usual all-scalar columns; only a column it calls
    mixed is looked at value by value.
    """
    if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) in _SCALAR_KINDS:
        return None
    for row, value in enumerate(values):
        if isinstance(value, list | dict):
            return row
    return None


def check_number_range(block: np.ndarray, names: Sequence[str]) -> None:
    """Reject non-finite numbers and magnitudes beyond float32 (NaN is missing, accepted).

    Args:
        block: float64 values, one column per name (2-D) or one column (1-D, one name).
        names: the column names.

    Raises:
        BadInput: naming the first bad row and column.
    """
    with np.errstate(invalid="ignore"):
        bad = np.abs(block) > FLOAT32_MAX
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0]) if bad.ndim == 2 else (int(bad.argmax()), 0)
    value = float(block[row, col] if block.ndim == 2 else block[row])
    problem = "is not finite" if np.isinf(value) else "is out of range (|x| <= 3.4e38)"
    raise BadInput(f"row {row + 1}, column {names[col]!r}: {value!r} {problem}")


def _to_number(values: np.ndarray, column: str) -> np.ndarray:
    """Convert strings/numbers to float64; empty and null become NaN; range checked."""
    try:
        parsed = np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        parsed = _parse_numbers(values, column)
    check_number_range(parsed, (column,))
    return parsed


def _parse_numbers(values: np.ndarray, column: str) -> np.ndarray:
    """Slow path of :func:`_to_number`: name nested, unparseable or huge values."""
    nested = _nested_row(values)
    if nested is not None:
        raise BadInput(
            f"row {nested + 1}, column {column!r}: {_shown(values[nested])} is not a number"
        )
    huge = [i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > FLOAT32_MAX]
    if huge:
        row = huge[0]
        raise BadInput(
            f"row {row + 1}, column {column!r}: {_shown(values[row])} is out of range "
            "(|x| <= 3.4e38)"
        )
    cleaned = np.where(pd.isna(values) | (values.astype(str) == ""), np.nan, values)
    parsed = pd.to_numeric(pd.Series(cleaned, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    if np.count_nonzero(np.isnan(parsed)) > np.count_nonzero(pd.isna(cleaned)):
        raise _bad_cell(values, parsed, column, "number")
    return parsed


def _to_integer(values: np.ndarray, column: str) -> np.ndarray:
    """Convert to int64; every value must be present, whole and within int64."""
    numbers = _to_number(values, column)
    bad = np.flatnonzero(~np.isfinite(numbers) | (numbers != np.round(numbers)))
    if bad.size:
        row = int(bad[0])
        raise BadInput(f"row {row + 1}, column {column!r}: {_shown(values[row])} is not an integer")
    outside = np.flatnonzero(outside_int64(numbers))
    if outside.size:
        row = int(outside[0])
        raise BadInput(
            f"row {row + 1}, column {column!r}: {_shown(values[row])} is outside {INT64_RANGE_TEXT}"
        )
    return numbers.astype(np.int64)


def _to_date(values: np.ndarray, column: str) -> pd.Series:
    """Parse timestamps (offsets -> UTC); every value must be present, valid and in range."""
    nested = _nested_row(values)
    if nested is not None:
        raise BadInput(
            f"row {nested + 1}, column {column!r}: {_shown(values[nested])} is not a valid date"
        )
    series = pd.Series(values, dtype=object)
    if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        # JSON numbers/booleans are read as text (20111201 -> 2011-12-01), never as epochs
        series = series.where(series.isna(), series.astype(str))
    try:
        parsed = pd.to_datetime(series, format=ISO_FORMAT)
    except (ValueError, TypeError, OverflowError):
        try:
            parsed = parse_dates(series, "mixed")
        except (ValueError, TypeError, OverflowError):
            parsed = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    typed, outside = bounded_ns(parsed)
    failed = np.flatnonzero(typed.isna().to_numpy())
    if failed.size:
        row = int(failed[0])
        problem = (
            f"is outside the supported {DATE_RANGE_TEXT}" if outside[row] else "is not a valid date"
        )
        raise BadInput(f"row {row + 1}, column {column!r}: {_shown(values[row])} {problem}")
    return typed


def _to_string(values: np.ndarray, column: str) -> pd.Series:
    """Convert to pandas string dtype; empty and null become <NA>; lists/objects rejected."""
    if values.dtype == object:
        nested = _nested_row(values)
        if nested is not None:
            raise BadInput(
                f"row {nested + 1}, column {column!r}: {_shown(values[nested])} is a JSON "
                "list or object, not a text value"
            )
    missing = np.asarray(pd.isna(values), dtype=bool)
    text = values.astype(str)
    cleaned = text.astype(object)
    cleaned[missing | (text == "")] = None
    return pd.Series(pd.array(cleaned, dtype="string"))


def coerce_column(values: np.ndarray, column: str) -> Any:
    """Convert one raw column (strings or JSON scalars) to its typed form.

    Args:
        values: the raw values, one per row.
        column: the column name (decides the kind).

    Returns:
        A numpy array or pandas Series of the column's dtype.

    Raises:
        BadInput: a value does not parse, naming row and column.
    """
    kind = column_kind(column)
    if kind == "number":
        return _to_number(values, column)
    if kind == "integer":
        return _to_integer(values, column)
    if kind == "date":
        return _to_date(values, column)
    return _to_string(values, column)


def object_column(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values`` (lists and dicts stay cells, never become axes).

    Args:
        values: one raw value per row.

    Returns:
        The object array.
    """
    return np.fromiter(values, dtype=object, count=len(values))


def typed_frame(columns: Mapping[str, np.ndarray], n_rows: int) -> pd.DataFrame:
    """Build a typed frame from raw columns.

    The numeric columns are converted together in one ``astype`` (the common case: clean
    numbers); only when that fails is each column converted alone, to name the bad cell.

    Args:
        columns: column name -> raw values (all of length ``n_rows``).
        n_rows: number of rows.

    Returns:
        A frame whose columns carry the dtypes of :func:`column_kind` (numeric columns first).

    Raises:
        BadInput: a value does not parse.
    """
    numeric = [name for name in columns if column_kind(name) == "number"]
    block: np.ndarray | None = None
    if numeric:
        try:
            block = np.stack([columns[name] for name in numeric], axis=1).astype(np.float64)
        except (ValueError, TypeError, OverflowError):
            block = np.stack([_to_number(columns[name], name) for name in numeric], axis=1)
        check_number_range(block, numeric)
    frame = pd.DataFrame(
        block if block is not None else np.empty((n_rows, 0)),
        columns=numeric,
        index=pd.RangeIndex(n_rows),
    )
    for name, values in columns.items():
        if name not in frame.columns:
            frame[name] = coerce_column(values, name)
    return frame
