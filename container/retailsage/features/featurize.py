"""Raw transactions -> training channel objects and scoring objects (the pipeline's featurize).

One implementation serves both places the pipeline featurizes: the extract Lambda (inputs
within its limits) and the image's ``featurize`` mode run as a SageMaker Processing job (larger
inputs). Both write the same objects, so the rest of the state machine cannot tell them apart.

Gap models (``xgboost``, ``lstm``) train on cleaned transaction lines and score one snapshot row
per customer (``retailsage.features.gap.snapshot_rows``); the anomaly model (``pca_kmeans``)
trains on and scores de-duplicated transaction lines, each tagged with a deterministic
``record_id`` (the server ignores unknown keys; the joined transform output carries it to the
writer). With several training instances the gap models' channel is written as customer-bucket
objects (``crc32(CustomerID) % K``) for ``ShardedByS3Key``.
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from retailsage.core.errors import NoDataError
from retailsage.data.buckets import bucket_count, split_by_customer
from retailsage.data.cleaning import clean_transactions, prepare_anomaly_lines
from retailsage.data.schema import INVOICE_DATE, INVOICE_NO, STOCK_CODE
from retailsage.features.gap import CUSTOMER_ID, ORDER_DATE, snapshot_rows
from retailsage.features.protocols import default_cutoff
from retailsage.models.registry import MODEL_TYPES

ANOMALY_MODEL_TYPES = frozenset({"pca_kmeans"})
"""Model types scoring transaction lines; every other registered type scores customers."""

SHARDED_MODEL_TYPES = frozenset(MODEL_TYPES) - ANOMALY_MODEL_TYPES
"""Model types that train over several hosts (their channel is customer-bucketed)."""

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


@dataclass(frozen=True)
class FeaturizeSpec:
    """What one featurization writes, decided before the data is read.

    Attributes:
        model_type: the model family.
        as_of: the scoring date of gap models (``None``: after the last transaction).
        training_instances: training instances of the run (customer buckets above 1 for the
            model types in :data:`SHARDED_MODEL_TYPES`).
        scoring_object_rows: target rows per scoring object.
        min_scoring_objects: at least this many scoring objects when rows allow.
    """

    model_type: str
    as_of: date | None = None
    training_instances: int = 1
    scoring_object_rows: int = 50_000
    min_scoring_objects: int = 1

    @property
    def sharded(self) -> bool:
        """Whether the training channel is written as customer buckets."""
        return self.training_instances > 1 and self.model_type in SHARDED_MODEL_TYPES


@dataclass(frozen=True)
class Featurized:
    """The serialized objects of one featurization, named relative to their prefixes.

    Attributes:
        train_objects: ``(name, Parquet bytes)`` of the training channel.
        scoring_objects: ``(name, JSON Lines bytes)`` of the scoring rows.
        train_rows: rows in the training channel.
        scoring_rows: rows to score.
        eval_cutoff: the holdout cutoff of a sharded channel (``YYYY-MM-DD``), else ``None``.
    """

    train_objects: list[tuple[str, bytes]]
    scoring_objects: list[tuple[str, bytes]]
    train_rows: int
    scoring_rows: int
    eval_cutoff: str | None = None


def featurize(raw: pd.DataFrame, spec: FeaturizeSpec) -> Featurized:
    """Build and serialize the training channel and scoring objects of one run.

    Args:
        raw: typed transactions from ``retailsage.data.loader.load_transactions``.
        spec: what to build.

    Returns:
        The objects and their row counts.

    Raises:
        NoDataError: nothing is left to train on after cleaning.
        DataError: the data cannot be featurized.
    """
    frames = build_frames(raw, spec.model_type, spec.as_of)
    train = training_objects(frames.train, spec.training_instances if spec.sharded else 1)
    parts = object_count(len(frames.scoring), spec.scoring_object_rows, spec.min_scoring_objects)
    scoring = [
        (f"part-{index:05d}.jsonl", body)
        for index, body in enumerate(to_json_lines(frames.scoring, parts))
    ]
    return Featurized(
        train_objects=train,
        scoring_objects=scoring,
        train_rows=len(frames.train),
        scoring_rows=len(frames.scoring),
        eval_cutoff=holdout_cutoff(frames.train) if spec.sharded else None,
    )


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
        NoDataError: nothing is left to train on after cleaning.
    """
    if model_type in ANOMALY_MODEL_TYPES:
        lines = prepare_anomaly_lines(raw)
        if lines.empty:
            raise NoDataError("no transaction lines left after de-duplication")
        return Frames(train=lines, scoring=with_record_ids(lines))
    clean = clean_transactions(raw)
    if clean.empty:
        raise NoDataError("no purchases by known customers left after cleaning")
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


def training_objects(lines: pd.DataFrame, instances: int) -> list[tuple[str, bytes]]:
    """Serialize the training channel: one object, or customer buckets for several hosts.

    With ``instances > 1`` the lines are split into ``K = OBJECTS_PER_HOST x instances``
    buckets by ``crc32(CustomerID) % K`` (empty buckets are not written), so every object holds
    whole customers and ``ShardedByS3Key`` gives each host complete customer histories.

    Args:
        lines: the training channel's transaction lines.
        instances: training instances.

    Returns:
        ``(object name, Parquet bytes)`` pairs.
    """
    if instances <= 1:
        return [("transactions.parquet", _parquet(lines))]
    buckets = split_by_customer(lines, bucket_count(instances))
    return [
        (f"part-{index:05d}.parquet", _parquet(part))
        for index, part in enumerate(buckets)
        if not part.empty
    ]


def holdout_cutoff(lines: pd.DataFrame) -> str | None:
    """Return the holdout cutoff a training job would pick from all of ``lines``.

    Each host of a sharded job sees only its customers; the training job reduces the cutoff
    over hosts anyway, and passing it explicitly makes the run's holdout visible in its
    hyperparameters (and the same whatever the sharding).

    Args:
        lines: the cleaned training lines.

    Returns:
        ``YYYY-MM-DD``, or ``None`` when no line has a known customer.
    """
    if lines.empty:
        return None
    known = lines[CUSTOMER_ID].notna().to_numpy()
    days = pd.to_datetime(lines[INVOICE_DATE][known]).dt.normalize()
    if days.empty:
        return None
    span = pd.DataFrame({ORDER_DATE: [days.min(), days.max()]})
    return str(default_cutoff(span).date())


def _parquet(frame: pd.DataFrame) -> bytes:
    """Serialize a frame as Parquet bytes (no index)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
