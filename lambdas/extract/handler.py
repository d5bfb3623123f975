"""Extract Lambda entry point: parse the event, run :func:`extract`, return the result."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.common.clients import get_client
from lambdas.common.events import ExtractEvent
from lambdas.common.parsing import parse_event
from lambdas.common.settings import ExtractSettings
from lambdas.extract.extraction import extract

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle one ``Extract Data`` invocation from the state machine.

    Args:
        event: ``{"execution_name": ..., "input": {...execution input...}}``.
        context: the Lambda context.

    Returns:
        The :class:`~lambdas.common.events.ExtractResult` as a dict.

    Raises:
        InvalidInput: malformed event or source file.
        NoNewData: nothing to train on (the state machine ends in "Nothing To Do").
    """
    request = parse_event(event, ExtractEvent)
    logger.append_keys(execution_name=request.execution_name, model_type=request.input.model_type)
    result = extract(request, ExtractSettings.from_env(), get_client("s3"))
    return result.model_dump()
