"""Input handling of the anomaly detector: raw transaction lines or a generic numeric table.

The mode is decided at fit time: a frame carrying every Online Retail column is a transaction
table and is featurized by an :class:`~retailsage.features.anomaly.AnomalyFeaturizer` fitted on
the training lines (its learned state is stored as JSON in the manifest) and the detector uses
its distance columns (the integer ids are labels, not magnitudes); anything else must be
an all-numeric table whose columns (minus the optional ``id_column``) are the features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retailsage.core.errors import BadInput, DataError, RetailSageError
from retailsage.data.schema import (
    CUSTOMER_ID,
    INVOICE_DATE,
    QUANTITY,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
)
from retailsage.features.anomaly import (
    ANOMALY_DISTANCE_COLUMNS,
    AnomalyFeaturizer,
    is_transaction_frame,
)
from retailsage.models.tabular import numeric_column

TRANSACTIONS = "transactions"
TABLE = "table"
_TEXT_COLUMNS = tuple(
    c for c in TRANSACTION_COLUMNS if c not in (QUANTITY, UNIT_PRICE, INVOICE_DATE, CUSTOMER_ID)
)


@dataclass(frozen=True)
class AnomalyInputs:
    """How raw rows become the detector's feature matrix.

    Attributes:
        mode: ``transactions`` or ``table``.
        input_columns: the raw columns ``predict`` needs, in CSV order.
        featurizer: the fitted featurizer (transactions mode only).
    """

    mode: str
    input_columns: tuple[str, ...]
    featurizer: AnomalyFeaturizer | None = None

    @classmethod
    def learn(cls, train: pd.DataFrame, *, id_column: str | None) -> AnomalyInputs:
        """Pick the mode from the training frame and fit the featurizer if needed.

        Args:
            train: raw transaction lines or a numeric table.
            id_column: a pass-through column excluded from the features.

        Returns:
            The fitted input spec.

        Raises:
            DataError: a table column that is not numeric.
        """
        if is_transaction_frame(train):
            featurizer = AnomalyFeaturizer().fit(typed_transactions(train, error=DataError))
            return cls(TRANSACTIONS, TRANSACTION_COLUMNS, featurizer)
        columns = tuple(str(c) for c in train.columns if c != id_column)
        if not columns:
            raise DataError("anomaly training table has no feature columns")
        return cls(TABLE, columns)

    def features(
        self, frame: pd.DataFrame, *, error: type[RetailSageError] = BadInput
    ) -> np.ndarray:
        """Validate ``frame`` and return the float64 feature matrix.

        Args:
            frame: rows in this spec's mode.
            error: the error class raised for bad input (``DataError`` while training).

        Returns:
            ``[n, n_features]`` finite floats.

        Raises:
            BadInput: (or ``error``) a missing column, a wrong type, or a missing value.
        """
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise error(f"missing input column(s): {', '.join(missing)}")
        if self.featurizer is not None:
            lines = typed_transactions(frame, error=error)
            features = self.featurizer.transform(lines)
            # The raw integer ids are labels, not magnitudes: distances use the rest.
            return features[list(ANOMALY_DISTANCE_COLUMNS)].to_numpy(dtype=np.float64)
        return _numeric_table(frame, self.input_columns, error)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe form for the manifest."""
        return {
            "mode": self.mode,
            "input_columns": list(self.input_columns),
            "featurizer": self.featurizer.to_dict() if self.featurizer is not None else None,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> AnomalyInputs:
        """Rebuild from :meth:`to_dict` output.

        Args:
            payload: the manifest's ``feature_spec`` entry.

        Returns:
            The spec with its featurizer restored.
        """
        featurizer = payload.get("featurizer")
        return cls(
            mode=str(payload["mode"]),
            input_columns=tuple(payload["input_columns"]),
            featurizer=AnomalyFeaturizer.from_dict(featurizer) if featurizer else None,
        )


def _numeric_table(
    frame: pd.DataFrame, columns: tuple[str, ...], error: type[RetailSageError]
) -> np.ndarray:
    """Convert the table's feature columns to float64, rejecting text and missing values."""
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        try:
            out[:, j] = numeric_column(frame[name], name)
        except BadInput as exc:
            raise error(exc.message) from exc
        bad = ~np.isfinite(out[:, j])
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise error(f"column {name!r} has a missing or infinite value at row {row}")
    return out


def typed_transactions(
    frame: pd.DataFrame, *, error: type[RetailSageError] = BadInput
) -> pd.DataFrame:
    """Coerce raw transaction columns (possibly all text, as decoded from CSV) to the schema.

    Args:
        frame: rows carrying the Online Retail columns.
        error: the error class raised for a bad value.

    Returns:
        A frame with the loader's dtypes: text columns ``string``, ``Quantity`` int64,
        ``UnitPrice`` float64, ``InvoiceDate`` datetime64, ``CustomerID`` string.

    Raises:
        BadInput: (or ``error``) a non-numeric quantity/price or an unparseable date.
    """
    out = pd.DataFrame(index=frame.index)
    for name in _TEXT_COLUMNS:
        out[name] = frame[name].astype("string")
    for name in (QUANTITY, UNIT_PRICE):
        try:
            values = numeric_column(frame[name], name)
        except BadInput as exc:
            raise error(exc.message) from exc
        if np.isnan(values).any():
            row = int(np.flatnonzero(np.isnan(values))[0])
            raise error(f"column {name!r} has a missing value at row {row}")
        out[name] = values.astype(np.int64) if name == QUANTITY else values
    out[INVOICE_DATE] = _dates(frame[INVOICE_DATE], error)
    out[CUSTOMER_ID] = _customer_ids(frame[CUSTOMER_ID])
    return out[list(TRANSACTION_COLUMNS)]


def _dates(values: pd.Series, error: type[RetailSageError]) -> pd.Series:
    """Parse invoice dates, naming the first unparseable row."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise error(f"column {INVOICE_DATE!r}: row {row} holds {values.iloc[row]!r}, not a date")
    return parsed.astype("datetime64[ns]")


def _customer_ids(values: pd.Series) -> pd.Series:
    """Render customer ids as strings without a trailing ``.0`` (``<NA>`` when missing)."""
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        values = values.astype("Int64")
    text = values.astype("string")
    return text.str.replace(r"\.0$", "", regex=True)
