"""DynamoDB BatchWriteItem with backoff on unprocessed items and throttling errors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from lambdas.common.errors import ThrottledWrites, TransientWriteError, WriteFailed

BATCH_SIZE = 25
"""BatchWriteItem accepts at most 25 put requests per call."""

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)

TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
        "TransactionInProgressException",
    }
)
"""Error codes worth retrying the whole Map item for (besides throttling)."""


def named_error(exc: Exception, action: str) -> Exception:
    """Map an AWS SDK error to the named error the state machine retries or fails on.

    Args:
        exc: the SDK exception.
        action: what was being done (for the message).

    Returns:
        :class:`TransientWriteError` for 5xx/timeout/connection failures (the Map item is
        retried), :class:`ThrottledWrites` for throttling, :class:`WriteFailed` for the rest
        (a retry cannot fix them; the run stays unpublished).
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = f"{action}: {code}: {error.get('Message', exc)}"
        if code in THROTTLING_CODES:
            return ThrottledWrites(message)
        if code in TRANSIENT_CODES or status >= 500:
            return TransientWriteError(message)
        return WriteFailed(message)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return TransientWriteError(f"{action}: {type(exc).__name__}: {exc}")
    if isinstance(exc, BotoCoreError):
        return WriteFailed(f"{action}: {type(exc).__name__}: {exc}")
    return exc


def put_requests(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Serialize items into BatchWriteItem put requests.

    Args:
        items: items with Python values (``Decimal`` numbers, str, bool, None; any other type
            boto3's ``TypeSerializer`` accepts).

    Returns:
        ``[{"PutRequest": {"Item": <typed attributes>}}]``, exactly what ``TypeSerializer``
        gives.

    Raises:
        TypeError: a value DynamoDB cannot store (as ``TypeSerializer`` raises it).
        decimal.Inexact, decimal.Rounded: a number with more than 38 significant digits.
    """
    serializer = TypeSerializer()
    return [
        {
            "PutRequest": {
                "Item": {name: _attribute(value, serializer) for name, value in item.items()}
            }
        }
        for item in items
    ]


def _attribute(value: Any, serializer: TypeSerializer) -> dict[str, Any]:
    """Type one value as ``TypeSerializer`` does, taking the write-back's own types directly.

    The prediction items hold only str, bool, ``Decimal`` and ``None`` values; typing those
    without ``TypeSerializer``'s chain of checks halves the serialization cost of a
    536,641-item run. Numbers still go through DynamoDB's decimal context, so an
    unrepresentable one raises as before; everything else is left to ``TypeSerializer``.
    """
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is Decimal and value.is_finite():
        return {"N": str(DYNAMODB_CONTEXT.create_decimal(value))}
    if value is None:
        return {"NULL": True}
    serialized: dict[str, Any] = serializer.serialize(value)
    return serialized


def batch_write(
    client: Any,
    table: str,
    items: Sequence[dict[str, Any]],
    *,
    max_attempts: int = 8,
    base_delay: float = 0.05,
    max_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Write ``items`` in batches of 25, retrying what DynamoDB leaves unprocessed.

    Unprocessed items (and whole batches refused with a throttling error) are retried with
    exponential backoff and jitter; every item is therefore written, and because writes are
    puts on deterministic keys, a retry never creates a duplicate.

    Args:
        client: a DynamoDB client.
        table: the table name.
        items: the items (unique by key).
        max_attempts: calls per batch before giving up.
        base_delay: first backoff in seconds.
        max_delay: backoff cap in seconds.
        sleep: the sleep function (tests pass a fake one).

    Returns:
        The number of items written.

    Raises:
        ThrottledWrites: a batch still had unprocessed items after ``max_attempts`` calls.
        TransientWriteError: a 5xx, timeout or connection failure (retry the object).
        WriteFailed: DynamoDB refused the batch for another reason.
    """
    requests = put_requests(items)
    for start in range(0, len(requests), BATCH_SIZE):
        pending = requests[start : start + BATCH_SIZE]
        for attempt in range(1, max_attempts + 1):
            pending = _write_once(client, table, pending)
            if not pending:
                break
            if attempt == max_attempts:
                raise ThrottledWrites(
                    f"{len(pending)} item(s) still unprocessed in {table} after {attempt} attempts"
                )
            delay = min(max_delay, base_delay * 2**attempt)
            sleep(delay * random.uniform(0.5, 1.0))
    return len(requests)


def _write_once(client: Any, table: str, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send one BatchWriteItem call; return the requests still to write."""
    try:
        response = client.batch_write_item(RequestItems={table: pending})
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and (
            exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
        ):
            return pending
        raise named_error(exc, f"BatchWriteItem on {table}") from exc
    unprocessed: list[dict[str, Any]] = response.get("UnprocessedItems", {}).get(table, [])
    return unprocessed
