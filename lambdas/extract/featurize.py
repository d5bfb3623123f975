"""Raw transactions -> training channel and scoring rows, with the container's own code.

Gap models (``xgboost``, ``lstm``) train on cleaned transaction lines and score one snapshot row
per customer (``retailsage.features.gap.snapshot_rows``); the anomaly model (``pca_kmeans``)
trains on and scores de-duplicated transaction lines, each tagged with a deterministic
``record_id`` (the server ignores unknown keys; the joined transform output carries it to the
writer).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from lambdas.common.errors import NoNewData
from retailsage.data.cleaning import clean_transactions, prepare_anomaly_lines
from retailsage.data.schema import INVOICE_NO, STOCK_CODE
from retailsage.features.gap import snapshot_rows

ANOMALY_MODEL_TYPES = frozenset({"pca_kmeans"})
"""Model types scoring transaction lines; every other registered type scores customers."""

RECORD_ID = "record_id"
"""Key of the anomaly lines' deterministic id (``<InvoiceNo>#<StockCode>#<line>``)."""


@dataclass(frozen=True)
class Frames:
    """The two outputs of one extraction.

    Attributes:
        train: the training channel rows.
        scoring: the rows Batch Transform scores.
    """

    train: pd.DataFrame
    scoring: pd.DataFrame


def build_frames(raw: pd.DataFrame, model_type: str, as_of: date | None) -> Frames:
    """Build the training and scoring frames for ``model_type``.

    Args:
        raw: typed transactions from ``retailsage.data.loader.load_transactions``.
        model_type: the model family.
        as_of: the scoring date of gap models: snapshot rows use the lines before it
            (``None``: the day after the last transaction, all history).

    Returns:
        The frames.

    Raises:
        NoNewData: nothing is left to train on after cleaning.
    """
    if model_type in ANOMALY_MODEL_TYPES:
        lines = prepare_anomaly_lines(raw)
        if lines.empty:
            raise NoNewData("no transaction lines left after de-duplication")
        return Frames(train=lines, scoring=with_record_ids(lines))
    clean = clean_transactions(raw)
    if clean.empty:
        raise NoNewData("no purchases by known customers left after cleaning")
    scoring_date = None if as_of is None else pd.Timestamp(as_of)
    return Frames(train=clean, scoring=snapshot_rows(clean, scoring_date))


def with_record_ids(lines: pd.DataFrame) -> pd.DataFrame:
    """Return ``lines`` with a leading, deterministic ``record_id`` column.

    Args:
        lines: transaction lines in a stable order.

    Returns:
        A copy; ``record_id`` = ``<InvoiceNo>#<StockCode>#<zero-padded position>``.
    """
    position = pd.Series(np.arange(len(lines)), index=lines.index).astype(str).str.zfill(9)
    ids = lines[INVOICE_NO].astype(str) + "#" + lines[STOCK_CODE].astype(str) + "#" + position
    return lines.assign(**{RECORD_ID: ids})[[RECORD_ID, *lines.columns]]


def object_count(rows: int, rows_per_object: int, min_objects: int) -> int:
    """Return how many scoring objects to write.

    Batch Transform shards objects by key across instances, so at least one object per
    instance keeps all of them busy; large inputs get more, smaller objects.

    Args:
        rows: scoring rows.
        rows_per_object: target rows per object.
        min_objects: transform instances.

    Returns:
        Between 1 and ``rows`` objects (1 for an empty frame).
    """
    if rows == 0:
        return 1
    return max(1, min(rows, max(min_objects, math.ceil(rows / rows_per_object))))


def to_json_lines(frame: pd.DataFrame, parts: int) -> list[bytes]:
    """Serialize ``frame`` as JSON Lines, split into ``parts`` contiguous chunks.

    Args:
        frame: the scoring rows.
        parts: the number of objects.

    Returns:
        One UTF-8 JSON Lines payload per object (dates in ISO 8601).
    """
    bounds = np.linspace(0, len(frame), parts + 1).astype(int)
    return [
        frame.iloc[start:stop].to_json(orient="records", lines=True, date_format="iso").encode()
        for start, stop in itertools.pairwise(bounds)
    ]
