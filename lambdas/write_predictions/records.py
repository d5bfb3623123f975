"""Batch Transform output lines -> validated DynamoDB items (vectorised over the rows).

Accepted line shapes (JSON Lines, one per scored record):

* joined (``JoinSource=Input``): the input object plus ``"SageMakerOutput": {...}``;
* wrapped: ``{"SageMakerInput": {...}, "SageMakerOutput": {...}}`` (non-object inputs);
* plain: the prediction fields next to the id fields.

Ids come from the input part: ``CustomerID`` (gap models: one item per customer and run) and,
for the anomaly model, ``record_id`` (one item per transaction line and run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from lambdas.common.errors import InvalidPredictions
from lambdas.extract.featurize import ANOMALY_MODEL_TYPES, RECORD_ID

OUTPUT = "SageMakerOutput"
INPUT = "SageMakerInput"
CUSTOMER_ID = "CustomerID"
PARTITION_KEY = "customer_id"
SORT_KEY = "prediction_key"
UNKNOWN_CUSTOMER = "unknown"
"""Partition key of anomaly lines without a customer (guest checkouts keep their own items)."""
RUN_MARKER_PARTITION = "_run"
"""Partition key of the run markers: one item per run (sort key = run name), written by the
state machine's "Publish Run" state once every object is written; readers take a run as
complete only when its marker says so (no customer id is ``_run``)."""
RUN_STATUS = "run_status"
"""The marker's status attribute."""
RUN_STATUS_COMPLETE = "complete"
"""The marker status of a fully written run."""
_CONTEXT_COLUMNS = ("as_of_date", "InvoiceNo", "StockCode", "InvoiceDate")


@dataclass(frozen=True)
class ItemBatch:
    """The items of one output object and what was rejected.

    Attributes:
        items: DynamoDB items (``Decimal`` numbers), unique by key.
        read: lines read.
        rejected: lines rejected.
        first_problem: a description of the first rejected line, if any.
    """

    items: list[dict[str, Any]]
    read: int
    rejected: int
    first_problem: str | None


def split_parts(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split parsed output lines into their input part and their prediction part.

    Args:
        frame: one row per output line.

    Returns:
        ``(inputs, outputs)`` with the same row index.
    """
    if OUTPUT not in frame.columns:
        return frame, frame
    outputs = _objects(frame[OUTPUT])
    if INPUT in frame.columns:
        return _objects(frame[INPUT]), outputs
    return frame.drop(columns=[OUTPUT]), outputs


def _objects(column: pd.Series) -> pd.DataFrame:
    """Expand a column of flat JSON objects into a frame (non-objects become empty rows)."""
    values = [value if isinstance(value, dict) else {} for value in column.tolist()]
    return pd.DataFrame.from_records(values, index=column.index)


def read_lines(body: bytes, key: str) -> pd.DataFrame:
    """Parse a JSON Lines object.

    Args:
        body: the object's bytes.
        key: its key (for messages).

    Returns:
        One row per line (empty frame for an empty object).

    Raises:
        InvalidPredictions: the object is not JSON Lines.
    """
    lines = [line for line in body.split(b"\n") if line.strip()]
    if not lines:
        return pd.DataFrame()
    try:
        # One C-level parse of the whole object (NaN/Infinity accepted, then rejected per row).
        records = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError as exc:
        raise InvalidPredictions(f"{key} is not JSON Lines: {exc}") from exc
    if not all(isinstance(record, dict) for record in records):
        raise InvalidPredictions(f"{key}: every JSON Lines record must be an object")
    return pd.DataFrame.from_records(records)


def _customer_ids(inputs: pd.DataFrame, anomaly: bool) -> pd.Series:
    """Return the partition keys: customer ids as integer text (missing: NA or 'unknown')."""
    raw = inputs[CUSTOMER_ID] if CUSTOMER_ID in inputs.columns else pd.Series(np.nan, inputs.index)
    numbers = pd.to_numeric(raw, errors="coerce")
    whole = numbers.notna() & np.isfinite(numbers) & (numbers == np.floor(numbers))
    text = numbers.where(whole).astype("Int64").astype("string")
    stripped = raw.astype("string").str.strip()
    fallback = stripped.mask(stripped == "")
    ids = text.fillna(fallback.where(~whole))
    return ids.fillna(UNKNOWN_CUSTOMER) if anomaly else ids


def to_items(body: bytes, *, key: str, run_name: str, model_type: str) -> ItemBatch:
    """Turn one transform output object into DynamoDB items.

    A line is rejected when its id is missing or any prediction value is null, NaN or
    infinite. Keys are deterministic (``customer_id`` + ``run_name`` [+ ``#record_id``]), so a
    re-run overwrites its own items instead of adding new ones.

    Args:
        body: the object's bytes.
        key: its key (for messages).
        run_name: the run (sort key prefix).
        model_type: the model family.

    Returns:
        The items and the counts.

    Raises:
        InvalidPredictions: the object is not JSON Lines or has no prediction fields.
    """
    frame = read_lines(body, key)
    if frame.empty:
        return ItemBatch(items=[], read=0, rejected=0, first_problem=None)
    inputs, outputs = split_parts(frame)
    anomaly = model_type in ANOMALY_MODEL_TYPES
    excluded = {CUSTOMER_ID, RECORD_ID, *_CONTEXT_COLUMNS}
    prediction_columns = [column for column in outputs.columns if column not in excluded]
    if not prediction_columns:
        raise InvalidPredictions(f"{key}: no prediction fields in the transform output")
    values = outputs[prediction_columns]
    customers = _customer_ids(inputs, anomaly)
    sort_keys = pd.Series(run_name, index=frame.index, dtype="string")
    if anomaly:
        record = (
            inputs[RECORD_ID].astype("string")
            if RECORD_ID in inputs.columns
            else pd.Series(pd.NA, index=frame.index, dtype="string")
        )
        sort_keys = sort_keys + "#" + record
    bad = _bad_rows(values) | customers.isna().to_numpy() | sort_keys.isna().to_numpy()
    context = inputs[[c for c in (RECORD_ID, *_CONTEXT_COLUMNS) if c in inputs.columns]]
    table = pd.concat(
        [
            pd.DataFrame({PARTITION_KEY: customers, SORT_KEY: sort_keys}, index=frame.index),
            context,
            values,
        ],
        axis=1,
    ).assign(run_name=run_name, model_type=model_type)
    good = table.loc[~bad].drop_duplicates(subset=[PARTITION_KEY, SORT_KEY], keep="last")
    items: list[dict[str, Any]] = json.loads(
        good.to_json(orient="records", date_format="iso", double_precision=15), parse_float=Decimal
    )
    problem = None
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        problem = (
            f"{key} line {first + 1}: missing id or null/NaN/inf prediction "
            f"{values.iloc[first].to_dict()}"
        )
    return ItemBatch(items=items, read=len(frame), rejected=int(bad.sum()), first_problem=problem)


def _bad_rows(values: pd.DataFrame) -> np.ndarray:
    """Rows with a null value, or a NaN/inf numeric value."""
    missing = np.asarray(values.isna().to_numpy().any(axis=1), dtype=bool)
    numeric = values.select_dtypes(include="number")
    if numeric.empty:
        return missing
    finite = np.isfinite(numeric.to_numpy(dtype=np.float64)).all(axis=1)
    return np.asarray(missing | ~finite, dtype=bool)
