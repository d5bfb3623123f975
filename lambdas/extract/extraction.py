"""The extract step: S3 source prefix -> training channel + scoring rows for one run."""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from lambdas.common.errors import InvalidInput, NoNewData
from lambdas.common.events import ExtractEvent, ExtractResult, PipelineInput
from lambdas.common.s3uri import s3_uri
from lambdas.common.settings import ExtractSettings
from lambdas.extract.featurize import (
    ANOMALY_MODEL_TYPES,
    build_frames,
    object_count,
    to_json_lines,
)
from lambdas.extract.naming import run_name
from lambdas.extract.sources import download, list_source_keys
from retailsage.core.errors import DataError
from retailsage.data.buckets import bucket_count, split_by_customer
from retailsage.data.loader import load_transactions
from retailsage.data.schema import INVOICE_DATE
from retailsage.features.gap import CUSTOMER_ID, ORDER_DATE
from retailsage.features.protocols import default_cutoff
from retailsage.models.registry import MODEL_TYPES

logger = logging.getLogger(__name__)

SHARDED_MODEL_TYPES = frozenset(MODEL_TYPES) - ANOMALY_MODEL_TYPES
"""Model types that train over several hosts (their channel is customer-bucketed)."""


def hyperparameters(request: PipelineInput) -> dict[str, str]:
    """Return the SageMaker hyperparameters: a string -> string map with ``model_type``.

    Args:
        request: the execution input.

    Returns:
        Every override as a string (booleans as ``true``/``false``), plus ``model_type``.

    Raises:
        InvalidInput: unknown model type, or a conflicting ``model_type`` hyperparameter.
    """
    if request.model_type not in MODEL_TYPES:
        raise InvalidInput(
            f"unknown model_type {request.model_type!r}; valid: {', '.join(MODEL_TYPES)}"
        )
    values = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in request.hyperparameters.items()
    }
    if values.setdefault("model_type", request.model_type) != request.model_type:
        raise InvalidInput(
            f"hyperparameters.model_type {values['model_type']!r} contradicts "
            f"model_type {request.model_type!r}"
        )
    return values


def read_transactions(
    s3: Any, settings: ExtractSettings, prefix: str, workdir: Path
) -> tuple[pd.DataFrame, int]:
    """Download and load every transaction file under ``prefix``.

    Args:
        s3: an S3 client.
        settings: bucket and allowed raw prefix.
        prefix: the requested source prefix.
        workdir: an empty local directory.

    Returns:
        The typed transactions and the number of files read.

    Raises:
        InvalidInput: the prefix is outside the raw prefix, or a file is malformed (the
            message names the S3 object and the column).
        NoNewData: no files, or no rows in them.
    """
    if not prefix.startswith(settings.raw_prefix):
        raise InvalidInput(f"source_prefix {prefix!r} is not under {settings.raw_prefix!r}")
    keys = list_source_keys(s3, settings.bucket, prefix)
    local = download(s3, settings.bucket, prefix, keys, workdir)
    try:
        frame = load_transactions(local)
    except DataError as exc:
        where = str(local.resolve())
        message = str(exc).replace(where, s3_uri(settings.bucket, prefix.rstrip("/")))
        raise InvalidInput(message) from exc
    if frame.empty:
        raise NoNewData(f"the {len(keys)} file(s) under {prefix!r} hold no transactions")
    return frame, len(keys)


def extract(event: ExtractEvent, settings: ExtractSettings, s3: Any) -> ExtractResult:
    """Run the extract step.

    Args:
        event: the execution name and input.
        settings: bucket, prefixes and sizing from the environment.
        s3: an S3 client.

    Returns:
        URIs and counts of what was written for this run.

    Raises:
        InvalidInput: bad input or source file.
        NoNewData: nothing to train on.
    """
    request = event.input
    params = hyperparameters(request)
    name = run_name(settings.job_prefix, event.execution_name)
    with tempfile.TemporaryDirectory(prefix="extract-") as workdir:
        raw, files = read_transactions(s3, settings, request.source_prefix, Path(workdir))
    try:
        frames = build_frames(raw, request.model_type, request.as_of)
    except DataError as exc:
        raise InvalidInput(str(exc)) from exc
    run_prefix = f"{settings.runs_prefix}{name}/"
    sharded = settings.training_instances > 1 and request.model_type in SHARDED_MODEL_TYPES
    if sharded and params.get("target") == "order_gap":  # as-of: hosts reduce the cutoff
        params = with_eval_cutoff(params, frames.train)
    train_objects = training_objects(frames.train, settings.training_instances if sharded else 1)
    for key, body in train_objects:
        s3.put_object(Bucket=settings.bucket, Key=f"{run_prefix}train/{key}", Body=body)
    parts = object_count(
        len(frames.scoring), settings.scoring_object_rows, settings.min_scoring_objects
    )
    for index, body in enumerate(to_json_lines(frames.scoring, parts)):
        key = f"{run_prefix}scoring/part-{index:05d}.jsonl"
        s3.put_object(Bucket=settings.bucket, Key=key, Body=body)
    predictions_prefix = f"{run_prefix}predictions/"
    logger.info(
        "extracted %d train rows in %d objects, %d scoring rows in %d objects",
        len(frames.train),
        len(train_objects),
        len(frames.scoring),
        parts,
    )
    return ExtractResult(
        run_name=name,
        model_type=request.model_type,
        hyperparameters=params,
        quality_threshold=request.quality_threshold,
        source_files=files,
        train_uri=s3_uri(settings.bucket, f"{run_prefix}train/"),
        train_rows=len(frames.train),
        scoring_uri=s3_uri(settings.bucket, f"{run_prefix}scoring/"),
        scoring_rows=len(frames.scoring),
        scoring_objects=parts,
        predictions_uri=s3_uri(settings.bucket, predictions_prefix),
        predictions_prefix=predictions_prefix,
        checkpoint_uri=s3_uri(settings.bucket, f"{settings.checkpoints_prefix}{name}/"),
    )


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


def with_eval_cutoff(params: dict[str, str], lines: pd.DataFrame) -> dict[str, str]:
    """Add the holdout cutoff the job would pick from all of its data, unless one is given.

    Each host of a sharded job sees only its customers; the training job reduces the cutoff
    over hosts anyway, and passing it explicitly makes the run's holdout visible in its
    hyperparameters (and the same whatever the sharding).

    Args:
        params: the job's hyperparameters.
        lines: the cleaned training lines.

    Returns:
        ``params`` with ``eval_cutoff`` (``YYYY-MM-DD``) when it had none and no validation
        channel is used.
    """
    if "eval_cutoff" in params or lines.empty:
        return params
    known = lines[CUSTOMER_ID].notna().to_numpy()
    days = pd.to_datetime(lines[INVOICE_DATE][known]).dt.normalize()
    if days.empty:
        return params
    span = pd.DataFrame({ORDER_DATE: [days.min(), days.max()]})
    return {**params, "eval_cutoff": str(default_cutoff(span).date())}


def _parquet(frame: pd.DataFrame) -> bytes:
    """Serialize a frame as Parquet bytes (no index)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
