"""Tabular input spec shared by the gap families: column learning, validation, encodings.

A :class:`TabularSpec` is learned from a training frame: every column except the target and the
bookkeeping columns (customer id, dates) is an input; numeric columns pass through as float64
(NaN allowed, XGBoost and the LSTM mask handle it) and string columns such as ``Country`` are
mapped to integer codes learned at fit time, with ``0`` reserved for unknown or missing values.
The spec serialises to JSON for the manifest and validates prediction frames, raising
:class:`~retailsage.core.errors.BadInput` naming the offending column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retailsage.core.errors import BadInput, DataError, HyperparameterError
from retailsage.features.asof import PURCHASED
from retailsage.features.gap import AS_OF_DATE, CUSTOMER_ID, NEXT_ORDER_DATE, ORDER_DATE

UNKNOWN_CODE = 0
"""Integer code of an unseen or missing category value."""

BOOKKEEPING_COLUMNS: frozenset[str] = frozenset(
    {CUSTOMER_ID, ORDER_DATE, AS_OF_DATE, NEXT_ORDER_DATE, PURCHASED}
)
"""Columns the gap feature tables carry for joins and splits, never used as model inputs."""


@dataclass(frozen=True)
class TabularSpec:
    """Input columns and learned category encodings of a tabular gap model.

    Attributes:
        columns: input column names in the order a headerless CSV row carries them.
        categories: for each categorical column, the known values in code order (code = index+1).
        excluded: input columns the model ignores: still required and validated (so the CSV
            layout stays the feature table's), but left out of the model matrix.
    """

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    excluded: tuple[str, ...] = ()

    @classmethod
    def learn(cls, frame: pd.DataFrame, target: str, exclude: tuple[str, ...] = ()) -> TabularSpec:
        """Learn the input columns and category encodings from a training frame.

        Args:
            frame: training rows (features plus the target and bookkeeping columns).
            target: the target column, excluded from the inputs.
            exclude: input columns the model must ignore.

        Returns:
            The spec; categories are ordered by descending training frequency.

        Raises:
            DataError: the target is missing or no input column is left.
            HyperparameterError: ``exclude`` names a column that is not an input.
        """
        if target not in frame.columns:
            raise DataError(f"training data has no target column {target!r}")
        excluded = BOOKKEEPING_COLUMNS | {target}
        columns = tuple(str(c) for c in frame.columns if c not in excluded)
        if not columns:
            raise DataError("training data has no feature columns besides the target")
        unknown = sorted(set(exclude) - set(columns))
        if unknown:
            raise HyperparameterError(
                f"exclude_columns names unknown input column(s) {', '.join(unknown)}; "
                f"inputs are: {', '.join(columns)}"
            )
        categories = {
            name: _category_order(frame[name]) for name in columns if _is_categorical(frame[name])
        }
        return cls(columns=columns, categories=categories, excluded=tuple(exclude))

    @property
    def model_columns(self) -> tuple[str, ...]:
        """The input columns the model uses: ``columns`` minus ``excluded``, in order."""
        return tuple(c for c in self.columns if c not in self.excluded)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Validate ``frame`` and return the model's inputs as float64 ``[n, len(model_columns)]``.

        Every input column is checked (excluded ones too, so the request layout never depends
        on the exclusion); only :attr:`model_columns` are returned.

        Args:
            frame: rows carrying at least ``columns`` (extra columns are ignored).

        Returns:
            The numeric matrix; categorical columns hold their integer codes.

        Raises:
            BadInput: a column is missing or a numeric column holds non-numeric values.
        """
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise BadInput(f"missing input column(s): {', '.join(missing)}")
        for name in self.excluded:
            if name not in self.categories:
                numeric_column(frame[name], name)
        used = self.model_columns
        out = np.empty((len(frame), len(used)), dtype=np.float64)
        numeric = [j for j, name in enumerate(used) if name not in self.categories]
        block = frame[[used[j] for j in numeric]]
        if all(dtype.kind in "biuf" for dtype in block.dtypes):
            # serving hot path: numeric dtypes convert in one call instead of one per column
            out[:, numeric] = block.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            for j in numeric:
                out[:, j] = numeric_column(frame[used[j]], used[j])
        for j, name in enumerate(used):
            if name in self.categories:
                out[:, j] = self.codes(name, frame[name])
        return out

    def encode_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Like :meth:`encode`, as a frame over all ``columns`` (excluded ones all NaN)."""
        matrix = pd.DataFrame(self.encode(frame), columns=list(self.model_columns))
        return matrix.reindex(columns=list(self.columns))

    def codes(self, name: str, values: pd.Series) -> np.ndarray:
        """Map one categorical column to codes (1..k known, 0 unknown or missing).

        Args:
            name: the categorical column.
            values: its values.

        Returns:
            Integer codes as float64.
        """
        known = pd.Index(self.categories[name])
        positions = known.get_indexer(pd.Index(values.astype("string").fillna("\x00")))
        return (positions + 1).astype(np.float64)

    def cardinality(self, name: str) -> int:
        """Number of codes of a categorical column, the unknown code included."""
        return len(self.categories[name]) + 1

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe form for the manifest."""
        return {
            "columns": list(self.columns),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "excluded": list(self.excluded),
            "unknown_code": UNKNOWN_CODE,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> TabularSpec:
        """Rebuild a spec from :meth:`to_dict` output.

        Args:
            payload: the manifest's ``feature_spec`` entry.

        Returns:
            The spec.
        """
        return cls(
            columns=tuple(payload["columns"]),
            categories={k: tuple(v) for k, v in payload["categories"].items()},
            excluded=tuple(payload.get("excluded", ())),
        )


def numeric_column(values: pd.Series, name: str) -> np.ndarray:
    """Convert a column to float64, rejecting values that are not numbers.

    Args:
        values: the column (numbers, numeric strings, or missing values).
        name: the column name, for the message.

    Returns:
        The values as float64 with NaN for missing ones.

    Raises:
        BadInput: naming the column, the first bad row and its value.
    """
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64").to_numpy(na_value=np.nan)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna().to_numpy() & values.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BadInput(f"column {name!r} must be numeric; row {row} holds {values.iloc[row]!r}")
    return converted.astype("float64").to_numpy(na_value=np.nan)


def _is_categorical(values: pd.Series) -> bool:
    """Return True for string/object/category columns."""
    dtype = values.dtype
    return bool(
        pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def _category_order(values: pd.Series) -> tuple[str, ...]:
    """Known category values, most frequent first (ties by value), missing excluded."""
    counts = values.astype("string").dropna().value_counts()
    ordered = counts.rename_axis("value").reset_index(name="n")
    ordered = ordered.sort_values(["n", "value"], ascending=[False, True], kind="mergesort")
    return tuple(str(v) for v in ordered["value"])
