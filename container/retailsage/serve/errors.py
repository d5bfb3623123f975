"""Flask error handlers: every failure becomes a short JSON body, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from retailsage.core.errors import PayloadTooLarge, RequestError

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "internal error while scoring; the endpoint's logs have the details"


def error_response(status: int, error: str, message: str) -> Response:
    """Build the JSON error body ``{"error": ..., "message": ...}``.

    Args:
        status: the HTTP status code.
        error: a short machine-readable error name (e.g. ``BadInput``).
        message: what was wrong, for a human.

    Returns:
        The response.
    """
    body = json.dumps({"error": error, "message": message})
    return Response(body, status=status, mimetype="application/json")


def handle_request_error(exc: RequestError) -> Response:
    """Answer a client error with its own status (400/406/413/415).

    Args:
        exc: the raised request error.

    Returns:
        The JSON error response.
    """
    logger.debug("request rejected: %s %s", exc.status, exc.message)
    return error_response(exc.status, exc.error, exc.message)


def handle_http_exception(exc: HTTPException) -> Response:
    """Answer routing and protocol errors (404, 405, 413 from the body limit) as JSON.

    Args:
        exc: the werkzeug exception.

    Returns:
        The JSON error response.
    """
    if isinstance(exc, RequestEntityTooLarge):
        return handle_request_error(PayloadTooLarge("the request body exceeds the payload limit"))
    name = "".join((exc.name or "HTTPError").split())
    return error_response(exc.code or 500, name, exc.description or name)


def handle_unexpected(exc: Exception) -> Response:
    """Log our own bug with its traceback and answer a generic 500.

    Args:
        exc: any exception that is not a client error.

    Returns:
        The JSON error response (no traceback, no internals).
    """
    logger.error("unhandled error while serving a request", exc_info=exc)
    return error_response(500, "InternalServerError", INTERNAL_MESSAGE)


def register_error_handlers(app: Flask) -> None:
    """Install the three handlers on ``app``.

    Args:
        app: the Flask application.
    """
    app.register_error_handler(RequestError, handle_request_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
