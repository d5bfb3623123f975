"""gunicorn's own error responses as the documented JSON body, worker timeouts included.

Some failures never reach the Flask app: a malformed request line, header or chunk is
answered by gunicorn itself, and a request still running at ``SAGEMAKER_MODEL_SERVER_TIMEOUT``
makes the arbiter abort the worker (SIGABRT), after which the sync worker answers the
in-flight request itself, as a ``500`` with an HTML page. gunicorn writes every such
response through ``gunicorn.util.write_error``; :func:`install` replaces it (in the serving
processes only) so the body is ``{"error": ..., "message": ...}`` like every other error,
and :func:`mark_timed_out` (the ``worker_abort`` hook) turns the aborted request's answer into
``504 {"error": "Timeout", ...}``. tests/serve/test_gunicorn_errors.py checks both against a
real gunicorn, so a gunicorn upgrade that stops calling ``write_error`` fails the tests.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

TIMEOUT_STATUS = 504
TIMEOUT_ERROR = "Timeout"
_timed_out: dict[str, int] = {}


def error_bytes(status: int, reason: str, error: str, message: str) -> bytes:
    """Build a complete ``Connection: close`` HTTP response with the JSON error body.

    Args:
        status: the HTTP status code.
        reason: its reason phrase.
        error: the short error name.
        message: what went wrong.

    Returns:
        Status line, headers and body.
    """
    body = json.dumps({"error": error, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` that writes the JSON error body.

    Args:
        sock: the client socket.
        status_int: the status gunicorn chose (500 for an aborted worker).
        reason: its reason phrase.
        mesg: gunicorn's message (empty for internal errors).
    """
    if "timeout_s" in _timed_out:
        payload = error_bytes(
            TIMEOUT_STATUS,
            "Gateway Timeout",
            TIMEOUT_ERROR,
            f"scoring took longer than the worker timeout ({_timed_out['timeout_s']} s, "
            "SAGEMAKER_MODEL_SERVER_TIMEOUT); send fewer records per request or raise it",
        )
    else:
        error = "".join(reason.split()) or "HTTPError"
        payload = error_bytes(status_int, reason, error, mesg or reason)
    util.write_nonblock(sock, payload)


def mark_timed_out(timeout_s: int) -> None:
    """Record, in an aborting worker, that the in-flight request hit the timeout.

    Args:
        timeout_s: the worker timeout, for the message.
    """
    _timed_out["timeout_s"] = timeout_s


def install() -> None:
    """Make gunicorn write its error responses as JSON (call in the serving process)."""
    util.write_error = write_json_error
