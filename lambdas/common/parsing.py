"""Typed event parsing at the handler boundary (Powertools parser over pydantic models)."""

from __future__ import annotations

from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ValidationError

from lambdas.common.errors import InvalidInput

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_event(event: dict[str, Any], model: type[ModelT]) -> ModelT:
    """Parse a Lambda event into ``model``; a bad event is the caller's error.

    Args:
        event: the raw event.
        model: the pydantic model of the event.

    Returns:
        The parsed event.

    Raises:
        InvalidInput: the event does not match the model (the message lists every problem).
    """
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<event>'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInput(f"invalid {model.__name__}: {problems}") from exc
