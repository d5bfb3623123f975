"""Retry policies of the pipeline's tasks (transient errors only; named user errors fail fast)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn
from lambdas.common.errors import THROTTLED_WRITES, TRANSIENT_WRITE_ERROR

LAMBDA_TRANSIENT_ERRORS: tuple[str, ...] = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
"""The Step Functions best-practice retrier for Lambda service errors, plus throttling."""

SAGEMAKER_TRANSIENT_ERRORS: tuple[str, ...] = (
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
)
"""API throttling/service errors of the SageMaker integration (a failed job is not retried)."""

ERROR_PATH = "$.error"
"""Where a Catch stores ``{Error, Cause}``; the rest of the state input is kept."""


def lambda_retry() -> sfn.RetryProps:
    """Return the retrier every Lambda task carries.

    Returns:
        2 s, x2 backoff, 6 attempts, full jitter, on Lambda service errors only.
    """
    return sfn.RetryProps(
        errors=list(LAMBDA_TRANSIENT_ERRORS),
        interval=cdk.Duration.seconds(2),
        backoff_rate=2.0,
        max_attempts=6,
        jitter_strategy=sfn.JitterType.FULL,
    )


def throttled_writes_retry() -> sfn.RetryProps:
    """Return the retrier for DynamoDB throttling that outlasted the Lambda's own backoff.

    Also retries the object on transient S3/DynamoDB failures (5xx, timeouts, connections):
    the Map item is written again from the start.

    Returns:
        10 s, x2 backoff, 3 attempts; safe because item keys are deterministic.
    """
    return sfn.RetryProps(
        errors=[THROTTLED_WRITES, TRANSIENT_WRITE_ERROR],
        interval=cdk.Duration.seconds(10),
        backoff_rate=2.0,
        max_attempts=3,
        jitter_strategy=sfn.JitterType.FULL,
    )


def sagemaker_retry() -> sfn.RetryProps:
    """Return the retrier of the raw SageMaker task states.

    Returns:
        30 s, x2 backoff, 3 attempts, full jitter, on SageMaker API errors only.
    """
    return sfn.RetryProps(
        errors=list(SAGEMAKER_TRANSIENT_ERRORS),
        interval=cdk.Duration.seconds(30),
        backoff_rate=2.0,
        max_attempts=3,
        jitter_strategy=sfn.JitterType.FULL,
    )


def notify_retry() -> sfn.RetryProps:
    """Return the retrier of the failure notification (any error: it is the last step).

    Returns:
        2 s, x2 backoff, 3 attempts on ``States.ALL``.
    """
    return sfn.RetryProps(
        errors=[sfn.Errors.ALL],
        interval=cdk.Duration.seconds(2),
        backoff_rate=2.0,
        max_attempts=3,
    )


def item_reader_retry() -> sfn.RetryProps:
    """Return the retrier of the Distributed Map (listing the transform output can throttle).

    Returns:
        5 s, x2 backoff, 3 attempts on ``States.ItemReaderFailed``.
    """
    return sfn.RetryProps(
        errors=["States.ItemReaderFailed"],
        interval=cdk.Duration.seconds(5),
        backoff_rate=2.0,
        max_attempts=3,
    )


def apply_retry(
    state: sfn.TaskStateBase | sfn.CustomState | sfn.DistributedMap, props: sfn.RetryProps
) -> None:
    """Add one retrier to a state.

    Args:
        state: a Task, raw-ASL or Map state.
        props: the retrier from this module.
    """
    state.add_retry(
        errors=props.errors,
        interval=props.interval,
        backoff_rate=props.backoff_rate,
        max_attempts=props.max_attempts,
        jitter_strategy=props.jitter_strategy,
    )


DYNAMODB_TRANSIENT_ERRORS: tuple[str, ...] = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.AmazonDynamoDBException",
)
"""Throttling/service errors of the optimized DynamoDB integration (``Publish Run``)."""


def dynamodb_retry() -> sfn.RetryProps:
    """Return the retrier of the DynamoDB task states.

    Returns:
        2 s, x2 backoff, 5 attempts, full jitter, on throttling/service errors only.
    """
    return sfn.RetryProps(
        errors=list(DYNAMODB_TRANSIENT_ERRORS),
        interval=cdk.Duration.seconds(2),
        backoff_rate=2.0,
        max_attempts=5,
        jitter_strategy=sfn.JitterType.FULL,
    )
