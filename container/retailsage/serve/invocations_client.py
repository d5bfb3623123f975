"""HTTP side of the local Batch Transform: loopback client, mini-batching, parameters."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlsplit

import numpy as np

from retailsage.core.errors import PlatformError, UserError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_RETRIES = 3
"""Retries of a request whose connection failed (``InvocationsMaxRetries`` default)."""

BatchStrategy = Literal["MultiRecord", "SingleRecord"]


class InvocationsClient:
    """Thread-local keep-alive HTTP connections to one loopback endpoint, with retries."""

    def __init__(self, endpoint_url: str, timeout_s: float) -> None:
        """Check the URL is loopback http; connections open lazily per thread.

        Args:
            endpoint_url: e.g. ``http://127.0.0.1:8080``.
            timeout_s: socket timeout per request.

        Raises:
            UserError: the URL is not a loopback http URL.
        """
        parts = urlsplit(endpoint_url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
            raise UserError(
                f"endpoint {endpoint_url!r} is not a loopback http URL; the local runner only "
                "talks to 127.0.0.1"
            )
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.connection = connection
        return connection

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request, reconnecting and retrying when the connection breaks.

        Args:
            method: ``GET`` or ``POST``.
            path: e.g. ``/invocations``.
            body: the request body.
            headers: request headers.

        Returns:
            The status code and the response body.

        Raises:
            PlatformError: the connection failed on every attempt.
        """
        for attempt in range(MAX_RETRIES + 1):
            connection = self._connection()
            try:
                connection.request(method, path, body=body, headers=headers or {})
                response = connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
                connection.close()
                self._local.connection = None
                if attempt == MAX_RETRIES:
                    raise PlatformError(f"{method} {path} failed: {exc}") from exc
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")


def mini_batches(
    data: bytes, max_bytes: int, strategy: BatchStrategy
) -> Iterator[tuple[int, int, int]]:
    """Yield ``(start, end, n_records)`` byte ranges of whole lines, each <= ``max_bytes``.

    Args:
        data: the file contents (newline-terminated lines; the last may lack one).
        max_bytes: the payload limit.
        strategy: ``MultiRecord`` packs lines greedily; ``SingleRecord`` sends one per request.

    Yields:
        Byte ranges in file order.

    Raises:
        UserError: one line alone exceeds the limit.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10) + 1
    if ends.size == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    sizes = np.diff(ends, prepend=0)
    if sizes.size and sizes.max() > max_bytes:
        line = int(np.argmax(sizes)) + 1
        raise UserError(f"line {line} ({sizes.max()} bytes) exceeds MaxPayloadInMB")
    start_line = 0
    while start_line < ends.size:
        start = int(ends[start_line - 1]) if start_line else 0
        if strategy == "SingleRecord":
            stop_line = start_line + 1
        else:
            stop_line = int(np.searchsorted(ends, start + max_bytes, side="right"))
        yield start, int(ends[stop_line - 1]), stop_line - start_line
        start_line = stop_line


def execution_parameters(endpoint_url: str, timeout_s: float = 10.0) -> dict[str, object]:
    """GET ``/execution-parameters`` (empty dict if the container does not offer it).

    Args:
        endpoint_url: the loopback server URL.
        timeout_s: socket timeout.

    Returns:
        The JSON answer, e.g. ``{"MaxConcurrentTransforms": 2, ...}``.
    """
    status, body = InvocationsClient(endpoint_url, timeout_s).request(
        "GET", "/execution-parameters"
    )
    if status != 200:
        return {}
    answer = json.loads(body)
    return answer if isinstance(answer, dict) else {}
