"""One loaded model plus what serving adds around it: id pass-through, dates, explanations."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from retailsage.core.errors import AlgorithmError, BadInput
from retailsage.data.dates import DATE_RANGE_TEXT, LATEST_DATE_EXCLUSIVE
from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.models.artifacts import load_model, read_manifest
from retailsage.models.base import ModelFamily
from retailsage.serve.inputs import AS_OF_DATE, GAP_OUTPUT, ORDER_DATE, InputSchema

logger = logging.getLogger(__name__)

NEXT_PURCHASE_DATE = "predicted_next_purchase_date"
RECENCY = "days_since_last_order"
CONTRIBUTION_PREFIX = "contribution_"


@runtime_checkable
class Explainer(Protocol):
    """A family that offers per-feature contributions (XGBoost SHAP, LSTM integrated gradients)."""

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return one column per input feature plus ``bias``, one row per input row."""
        ...


@dataclass
class Predictor:
    """A model loaded once per worker, with its input schema.

    Attributes:
        model: the fitted family instance.
        manifest: its ``manifest.json``.
        schema: the request rows it accepts.
    """

    model: ModelFamily
    manifest: dict[str, Any]
    schema: InputSchema

    @classmethod
    def load(cls, model_dir: Path) -> Predictor:
        """Load the model in ``model_dir`` (manifest-driven, never executes code).

        Args:
            model_dir: the extracted model directory.

        Returns:
            The ready predictor.

        Raises:
            ArtifactError: the artifact is missing, unsafe or incompatible.
        """
        manifest = read_manifest(model_dir)
        model = load_model(model_dir)
        return cls(model=model, manifest=manifest, schema=InputSchema.from_manifest(manifest))

    @property
    def prediction_columns(self) -> tuple[str, ...]:
        """The model's own output columns, in manifest order."""
        return tuple(self.model.output_columns)

    @property
    def can_explain(self) -> bool:
        """Whether the family offers per-feature contributions (``explain``)."""
        return isinstance(self.model, Explainer)

    def output_columns(self, frame: pd.DataFrame) -> tuple[str, ...]:
        """Columns a JSON response carries for ``frame`` (ids first, then predictions, ...).

        Args:
            frame: an output frame of :meth:`predict`.

        Returns:
            Column names in response order.
        """
        ids = tuple(c for c in self.schema.id_columns if c in frame.columns)
        extra = tuple(
            c
            for c in frame.columns
            if c == NEXT_PURCHASE_DATE or str(c).startswith(CONTRIBUTION_PREFIX)
        )
        return (*ids, *self.prediction_columns, *extra, "error", "message")

    def csv_columns(self, frame: pd.DataFrame) -> tuple[str, ...]:
        """Columns a CSV response carries: predictions, next-purchase date, contributions."""
        skip = {*self.schema.id_columns, "error", "message"}
        return tuple(c for c in self.output_columns(frame) if c not in skip)

    def _model_inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select what the family's ``predict`` takes: its inputs, or a raw transaction."""
        if set(frame.columns) == set(self.schema.input_columns):
            return frame  # families select their columns by name; skip a copy
        if all(c in frame.columns for c in self.schema.input_columns):
            return frame.loc[:, list(self.schema.input_columns)]
        if all(c in frame.columns for c in TRANSACTION_COLUMNS):
            return frame.loc[:, list(TRANSACTION_COLUMNS)]
        self.schema.check_columns(list(frame.columns))
        raise BadInput("the rows do not match this model's inputs")

    def predict(self, frame: pd.DataFrame, *, explain: bool = False) -> pd.DataFrame:
        """Score a typed request frame.

        Args:
            frame: decoded rows (model inputs plus optional ids/as-of dates).
            explain: add ``contribution_<feature>`` columns (families with ``explain`` only).

        Returns:
            One row per input row, in order: id columns, the model's outputs (booleans as
            0/1), ``predicted_next_purchase_date`` for gap rows with a date, contributions.

        Raises:
            BadInput: the rows do not fit the model, or explanations are not available.
            AlgorithmError: the family broke its contract (row count).
        """
        if explain and not self.can_explain:
            raise BadInput(f"model family {self.model.name!r} does not provide explanations")
        inputs = self._model_inputs(frame)
        predictions = self.model.predict(inputs)  # families raise BadInput for bad values
        if len(predictions) != len(frame):
            raise AlgorithmError(
                f"{self.model.name}.predict returned {len(predictions)} rows for {len(frame)}"
            )
        out = predictions.reset_index(drop=True)
        for column in out.columns:
            if out[column].dtype == bool:
                out[column] = out[column].astype(np.int8)
        for column in reversed(self.schema.id_columns):
            if column in frame.columns:
                out.insert(0, column, frame[column].reset_index(drop=True))
        if self.schema.is_gap and GAP_OUTPUT in out.columns:
            self._add_next_purchase_date(frame, out, asof=RECENCY in self.schema.input_columns)
        if explain and isinstance(self.model, Explainer):
            contributions = self.model.explain(inputs).reset_index(drop=True)
            for column in contributions.columns:
                out[f"{CONTRIBUTION_PREFIX}{column}"] = contributions[column].to_numpy()
        return out

    @staticmethod
    def _add_next_purchase_date(frame: pd.DataFrame, out: pd.DataFrame, *, asof: bool) -> None:
        """Add ``predicted_next_purchase_date`` = anchor date + predicted days.

        The anchor is the as-of date for an as-of model (its inputs include
        ``days_since_last_order``; the date is then never before the as-of date, derived as
        last order + recency when the row has no ``as_of_date``), else the last order (or
        as-of) date.

        Raises:
            BadInput: the date would fall after 2261 (naming the row).
        """
        anchor_column = AS_OF_DATE if asof or ORDER_DATE not in frame.columns else ORDER_DATE
        if anchor_column not in frame.columns:
            if not (asof and ORDER_DATE in frame.columns):
                return
            recency = pd.to_timedelta(pd.to_numeric(frame[RECENCY]).to_numpy(), unit="D")
            anchor = (pd.to_datetime(frame[ORDER_DATE]) + recency).reset_index(drop=True)
        else:
            anchor = pd.to_datetime(frame[anchor_column]).reset_index(drop=True)
        rounded = np.round(out[GAP_OUTPUT].to_numpy(dtype=np.float64))
        headroom = ((LATEST_DATE_EXCLUSIVE - anchor) / pd.Timedelta(days=1)).to_numpy()
        with np.errstate(invalid="ignore"):
            beyond = np.flatnonzero(rounded >= headroom)
        if beyond.size:
            row = int(beyond[0])
            raise BadInput(
                f"row {row + 1}: {anchor_column} {anchor.iat[row]:%Y-%m-%d} plus the predicted "
                f"{rounded[row]:.0f} days is after the supported {DATE_RANGE_TEXT}"
            )
        days = pd.to_timedelta(rounded, unit="D")
        out[NEXT_PURCHASE_DATE] = (anchor + days).dt.strftime("%Y-%m-%d")
