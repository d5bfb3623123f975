"""Prometheus metrics of the serving container: ``GET /metrics``.

What is measured (``prometheus_client``; names in the text exposition format):

* ``retailsage_invocation_latency_seconds{status, content_type}``: a histogram of
  ``/invocations`` wall time in the worker (decode + predict + encode), by status and request
  media type (``text/csv``, ``application/json``, ``application/jsonlines``, ``other``, ``none``);
  its ``_count`` is the ``/invocations`` request count;
* ``retailsage_requests_total{route, status}``: every other request, by route (``/ping``,
  ``/execution-parameters``, ``/metrics``, ``other``) and HTTP status;
* ``retailsage_rows_scored_total``: output rows of successful ``/invocations`` responses.

Under gunicorn the workers are separate processes, so the values live in prometheus_client's
multiprocess mode: :func:`start_server` (gunicorn's ``on_starting`` hook, in the master before
any worker exists) creates a private temporary directory per server and exports it as
``PROMETHEUS_MULTIPROC_DIR``; every worker inherits it and writes its values there (mmap files),
``/metrics`` in any worker aggregates all of them, :func:`worker_exited` (``child_exit``) marks a
dead worker's files, and :func:`stop_server` (``on_exit``) deletes the directory. Without that
variable (tests, a single process) the values stay in the process.

An ``/invocations`` request costs two dictionary lookups, two clock reads and three mmap writes
(histogram bucket and sum, rows), and
``prometheus_client`` is imported only after the directory is set (it reads the variable when it
creates its value objects).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OWNED_ENV = "RETAILSAGE_METRICS_DIR_OWNED"
SWITCH_ENV = "RETAILSAGE_METRICS"
METRICS_PATH = "/metrics"
INVOCATIONS_PATH = "/invocations"
ROUTES = frozenset({"/invocations", "/ping", "/execution-parameters", METRICS_PATH})
CONTENT_TYPES = frozenset({"text/csv", "application/json", "application/jsonlines"})
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def enabled() -> bool:
    """Whether metrics are on (``RETAILSAGE_METRICS``, default on; ``0``/``false`` turns off)."""
    return os.environ.get(SWITCH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def start_server(server: Arbiter | None = None) -> None:
    """Give this server its own multiprocess directory (gunicorn ``on_starting``, master).

    A ``PROMETHEUS_MULTIPROC_DIR`` set by the operator is used as is (and never deleted).

    Args:
        server: gunicorn's arbiter (unused; the hook signature).
    """
    if not enabled() or os.environ.get(MULTIPROC_ENV):
        return
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="retailsage-metrics-")
    os.environ[OWNED_ENV] = os.environ[MULTIPROC_ENV]


def worker_exited(server: Arbiter | None, worker: Worker) -> None:
    """Mark a dead worker's live-gauge files (gunicorn ``child_exit``, master).

    Counters and histograms of the dead worker stay in the directory, so totals never go
    backwards when gunicorn replaces a worker.

    Args:
        server: gunicorn's arbiter (unused).
        worker: the worker that exited.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if directory and os.path.isdir(directory):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, directory)


def stop_server(server: Arbiter | None = None) -> None:
    """Delete the directory :func:`start_server` created (gunicorn ``on_exit``, master).

    Args:
        server: gunicorn's arbiter (unused).
    """
    directory = os.environ.get(OWNED_ENV)
    if directory and os.environ.get(MULTIPROC_ENV) == directory:
        shutil.rmtree(directory, ignore_errors=True)


class ServeMetrics:
    """The metric objects of one process, with per-label children cached.

    Attributes:
        registry: the registry the metrics are created in (private: no global state).
    """

    def __init__(self) -> None:
        """Create the three metrics (after ``PROMETHEUS_MULTIPROC_DIR`` is decided)."""
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "retailsage_requests",
            "HTTP requests other than /invocations, by route and status",
            ("route", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "retailsage_invocation_latency_seconds",
            "/invocations wall time in the worker, by status and request content type",
            ("status", "content_type"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._rows = Counter(
            "retailsage_rows_scored",
            "Output rows of successful /invocations responses",
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str], Any] = {}
        self._latency_children: dict[tuple[str, str], Any] = {}

    def count_request(self, route: str, status: str) -> None:
        """Count one request."""
        child = self._request_children.get((route, status))
        if child is None:
            child = self._requests.labels(route, status)
            self._request_children[(route, status)] = child
        child.inc()

    def observe_invocation(self, status: str, content_type: str, seconds: float) -> None:
        """Record one ``/invocations`` latency."""
        child = self._latency_children.get((status, content_type))
        if child is None:
            child = self._latency.labels(status, content_type)
            self._latency_children[(status, content_type)] = child
        child.observe(seconds)

    def add_rows(self, rows: int) -> None:
        """Count scored rows."""
        if rows > 0:
            self._rows.inc(rows)

    def exposition(self) -> tuple[bytes, str]:
        """Render every worker's values (multiprocess) or this process's (single process).

        Returns:
            The body and its content type.
        """
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


_metrics: ServeMetrics | None = None


def process_metrics() -> ServeMetrics | None:
    """Return this process's metrics (created on first use), or None when switched off."""
    global _metrics
    if _metrics is None and enabled():
        _metrics = ServeMetrics()
    return _metrics


def record_rows(rows: int) -> None:
    """Count the rows of one successful ``/invocations`` response (a no-op when off).

    Args:
        rows: output rows.
    """
    metrics = _metrics
    if metrics is not None:
        metrics.add_rows(rows)


def _media_type(environ: dict[str, Any]) -> str:
    """The request's media type as a bounded label value."""
    raw = environ.get("CONTENT_TYPE")
    if not raw:
        return "none"
    media = raw.split(";", 1)[0].strip().lower()
    return media if media in CONTENT_TYPES else "other"


def instrument(wsgi_app: WsgiApp, metrics: ServeMetrics) -> WsgiApp:
    """Wrap a WSGI app: serve ``GET /metrics`` and time/count every other request.

    Args:
        wsgi_app: the application (Flask's ``wsgi_app``).
        metrics: this process's metrics.

    Returns:
        The instrumented WSGI callable.
    """

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == METRICS_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            body, content_type = metrics.exposition()
            start_response(
                "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
            )
            metrics.count_request(METRICS_PATH, "200")
            return [body]
        status: list[str] = []

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code[:3])
            return start_response(code, headers, exc_info)

        started = time.perf_counter()
        try:
            return wsgi_app(environ, capture)
        finally:
            code = status[-1] if status else "500"
            if path == INVOCATIONS_PATH:  # counted by the histogram's _count (one write less)
                metrics.observe_invocation(
                    code, _media_type(environ), time.perf_counter() - started
                )
            else:
                metrics.count_request(path if path in ROUTES else "other", code)

    return app


def install(app: Flask) -> None:
    """Add ``/metrics`` and request instrumentation to the serving app (when enabled).

    Args:
        app: the Flask app ``create_app`` built.
    """
    metrics = process_metrics()
    if metrics is None:
        return
    app.wsgi_app = instrument(app.wsgi_app, metrics)  # type: ignore[method-assign,assignment]
    logger.debug("metrics on %s (%s)", METRICS_PATH, os.environ.get(MULTIPROC_ENV, "in-process"))
