"""The write-predictions step: one transform output object -> DynamoDB items."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.common.errors import InvalidPredictions
from lambdas.common.events import WritePredictionsEvent, WritePredictionsResult
from lambdas.common.settings import WriteSettings
from lambdas.write_predictions.dynamo import batch_write, named_error
from lambdas.write_predictions.records import to_items

logger = logging.getLogger(__name__)


def write_predictions(
    event: WritePredictionsEvent,
    settings: WriteSettings,
    s3: Any,
    dynamodb: Any,
    *,
    sleep: Callable[[float], None] | None = None,
) -> WritePredictionsResult:
    """Read one ``*.out`` object, validate its lines and write one item per entity.

    Args:
        event: the object and the run.
        settings: the table name.
        s3: an S3 client.
        dynamodb: a DynamoDB client.
        sleep: backoff sleep override (tests).

    Returns:
        Lines read, items written and lines rejected.

    Raises:
        InvalidPredictions: more lines were rejected than ``event.max_rejected`` (nothing is
            written then), or the object is not JSON Lines.
        ThrottledWrites: DynamoDB kept throttling after every backoff.
        TransientWriteError: S3 or DynamoDB failed transiently (the state machine retries the
            object; puts are idempotent, so a retry never duplicates).
        WriteFailed: DynamoDB refused a write for a reason a retry cannot fix.
    """
    try:
        body: bytes = s3.get_object(Bucket=event.bucket, Key=event.key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise named_error(exc, f"GetObject s3://{event.bucket}/{event.key}") from exc
    batch = to_items(body, key=event.key, run_name=event.run_name, model_type=event.model_type)
    if batch.rejected > event.max_rejected:
        raise InvalidPredictions(
            f"{batch.rejected} of {batch.read} line(s) rejected (allowed {event.max_rejected}); "
            f"first: {batch.first_problem}"
        )
    written = batch_write(dynamodb, settings.table_name, batch.items, sleep=sleep or time.sleep)
    logger.info(
        "%s: read %d, wrote %d, rejected %d", event.key, batch.read, written, batch.rejected
    )
    return WritePredictionsResult(
        key=event.key, read=batch.read, written=written, rejected=batch.rejected
    )
