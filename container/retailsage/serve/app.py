"""The Flask application: ``/ping``, ``/invocations``, ``/execution-parameters``.

``create_app`` loads the model before it returns, so a gunicorn worker (preload off) owns its
model from boot and ``/ping`` only reads a flag. A model that cannot be loaded raises out of
``create_app``; in a worker that is a boot failure, and gunicorn's arbiter halts.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, json, request

from retailsage.core.errors import BadInput, PayloadTooLarge
from retailsage.serve import metrics
from retailsage.serve.codecs import CSV, encode, request_type, response_type
from retailsage.serve.errors import register_error_handlers
from retailsage.serve.fast_csv import FastCsvScorer
from retailsage.serve.predictor import Predictor
from retailsage.serve.scoring import score
from retailsage.serve.settings import ServeSettings

logger = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
_TRUE = ("true", "1", "yes")
READ_SIZE = 1 << 20
"""Bytes per read of a body without Content-Length."""

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wants_explanation(custom_attributes: str | None, query_flag: str | None) -> bool:
    """Read the ``explain`` switch from Custom-Attributes (``explain=true``) or the query.

    Args:
        custom_attributes: the ``X-Amzn-SageMaker-Custom-Attributes`` header, a ``,``/``;``
            separated list of ``key=value`` items.
        query_flag: the ``explain`` query parameter.

    Returns:
        True when either asks for explanations.
    """
    if query_flag is not None and query_flag.strip().lower() in _TRUE:
        return True
    for item in (custom_attributes or "").replace(";", ",").split(","):
        key, _, value = item.partition("=")
        if key.strip().lower() == "explain" and value.strip().lower() in _TRUE:
            return True
    return False


def _nodelay(wsgi_app: WsgiApp) -> WsgiApp:
    """Wrap a WSGI app so each connection has TCP_NODELAY (no Nagle stall on keep-alive)."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return wsgi_app(environ, start_response)

    return app


def _limit_threads() -> None:
    """One compute thread per worker: workers = cores, and OpenMP adds tail latency."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _limit_text(settings: ServeSettings) -> str:
    """The payload limit, for 413 messages."""
    return (
        f"the limit is {settings.max_payload_bytes} bytes ({settings.max_payload_mb} MiB, "
        "SAGEMAKER_MAX_PAYLOAD_IN_MB)"
    )


def _read_unsized(settings: ServeSettings) -> bytes:
    """Read a body sent without Content-Length (chunked) whole, or fail with 413.

    werkzeug caps such a stream at ``MAX_CONTENT_LENGTH`` and returns the first bytes as if
    they were the whole body (a silently truncated payload); here the server's own input
    (de-chunked by gunicorn) is read to its end, and one byte over the limit is a 413.

    Args:
        settings: the serving settings (the limit).

    Returns:
        The whole body.

    Raises:
        PayloadTooLarge: the body is larger than the limit.
        BadInput: the chunked encoding is malformed.
    """
    stream = request.environ.get("wsgi.input")
    if stream is None or not request.environ.get("wsgi.input_terminated"):
        return request.get_data(cache=False)  # no length and no chunking: no body
    limit = settings.max_payload_bytes
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            part = stream.read(min(READ_SIZE, limit + 1 - size))
        except Exception as exc:  # the server's de-chunking: a malformed chunk is the client's
            raise BadInput(f"the chunked request body is malformed: {exc}") from exc
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
    raise PayloadTooLarge(
        f"the chunked request body exceeds {limit} bytes; {_limit_text(settings)}"
    )


def create_app(model_dir: Path | None = None, settings: ServeSettings | None = None) -> Flask:
    """Build the serving app with its model loaded.

    Args:
        model_dir: the model directory; ``settings.model_dir`` when omitted.
        settings: serving settings; read from the environment when omitted.

    Returns:
        The Flask app, ready to answer ``/ping`` with 200.

    Raises:
        ArtifactError: the model cannot be loaded (the worker must not start).
    """
    settings = settings or ServeSettings.from_env()
    predictor = Predictor.load(model_dir or settings.model_dir)
    _limit_threads()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    app.extensions["retailsage"] = {"predictor": predictor, "settings": settings}
    register_error_handlers(app)
    _add_routes(app, predictor, settings)
    app.wsgi_app = _nodelay(app.wsgi_app)  # type: ignore[method-assign,assignment]
    metrics.install(app)  # GET /metrics + request counts/latency (retailsage.serve.metrics)
    logger.info(
        "model %s loaded from %s; inputs: %s",
        predictor.model.name,
        model_dir or settings.model_dir,
        ",".join(predictor.schema.input_columns),
    )
    return app


def _add_routes(app: Flask, predictor: Predictor, settings: ServeSettings) -> None:
    """Register the three SageMaker routes on ``app``."""
    execution_parameters = json.dumps(
        {
            "MaxConcurrentTransforms": settings.max_concurrent_transforms,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": settings.max_payload_mb,
        }
    )
    emit_errors = settings.batch and settings.bad_record == "emit"
    fast_csv = FastCsvScorer.for_model(predictor.model, predictor.schema)

    @app.get("/ping")
    def ping() -> Response:
        """Health: 200 with an empty body (the model loaded before the app existed)."""
        return Response(b"", status=200)

    @app.get("/execution-parameters")
    def parameters() -> Response:
        """Batch Transform tuning the container proposes."""
        return Response(execution_parameters, status=200, mimetype="application/json")

    @app.post("/invocations")
    def invocations() -> Response:
        """Decode, predict and encode one payload."""
        length = request.content_length
        if length is not None and length > settings.max_payload_bytes:
            raise PayloadTooLarge(f"request body is {length} bytes; {_limit_text(settings)}")
        kind = request_type(request.headers.get("Content-Type"))
        accept = response_type(request.headers.get("Accept"), settings.default_accept, kind)
        body = request.get_data(cache=False) if length is not None else _read_unsized(settings)
        if not body.strip():
            return Response(b"", status=204)
        explain = wants_explanation(
            request.headers.get(CUSTOM_ATTRIBUTES), request.args.get("explain")
        )
        if fast_csv is not None and kind == CSV and accept == CSV and not explain:
            fast = fast_csv.score(body)  # None: not for the fast path, decode in full below
            if fast is not None:
                metrics.record_rows(fast.count(b"\n"))
                return Response(fast, status=200, mimetype=CSV)
        out = score(body, kind, predictor, explain=explain, emit_errors=emit_errors)
        metrics.record_rows(len(out))
        columns = (
            predictor.csv_columns(out) if accept == "text/csv" else predictor.output_columns(out)
        )
        return Response(encode(out, accept, columns), status=200, mimetype=accept)

    @app.after_request
    def echo_custom_attributes(response: Response) -> Response:
        """Echo Custom-Attributes so the caller sees them (SageMaker drops them otherwise)."""
        attributes = request.headers.get(CUSTOM_ATTRIBUTES)
        if attributes is not None:
            response.headers[CUSTOM_ATTRIBUTES] = attributes
        return response
