"""Write-predictions Lambda entry point (one Distributed Map item per invocation)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.common.clients import get_client
from lambdas.common.events import WritePredictionsEvent
from lambdas.common.parsing import parse_event
from lambdas.common.settings import WriteSettings
from lambdas.write_predictions.writer import write_predictions

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle one ``Write Prediction Object`` invocation.

    Args:
        event: ``{"bucket", "key", "run_name", "model_type"[, "max_rejected"]}``.
        context: the Lambda context.

    Returns:
        The :class:`~lambdas.common.events.WritePredictionsResult` as a dict.

    Raises:
        InvalidInput: malformed event.
        InvalidPredictions: unusable transform output.
        ThrottledWrites: DynamoDB kept throttling (the state machine retries).
    """
    request = parse_event(event, WritePredictionsEvent)
    logger.append_keys(run_name=request.run_name, key=request.key)
    result = write_predictions(
        request,
        WriteSettings.from_env(),
        get_client("s3"),
        get_client("dynamodb", validate_parameters=False),
    )
    return result.model_dump()
