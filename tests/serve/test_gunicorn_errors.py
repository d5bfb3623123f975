"""What really reaches the client from gunicorn: chunked bodies, malformed HTTP, timeouts."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from serve_helpers import gap_csv

from retailsage.serve import gunicorn_errors
from retailsage.serve.local_server import LOOPBACK, ServerProcess


def raw_exchange(server: ServerProcess, request: bytes, timeout: float = 30) -> bytes:
    """Send raw bytes (in a thread: the server may answer before it has read them all)."""
    with socket.create_connection((LOOPBACK, server.port), timeout=timeout) as sock:

        def send() -> None:
            with contextlib.suppress(OSError):  # the server may answer early and close
                sock.sendall(request)

        sender = threading.Thread(target=send)
        sender.start()
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        sender.join()
    return received


def chunked(body: bytes, size: int = 65536) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def request_bytes(body: bytes, accept: str = "text/csv") -> bytes:
    head = (
        "POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
        f"Accept: {accept}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def csv_lines(snapshots: pd.DataFrame, n_bytes: int) -> bytes:
    one = gap_csv(snapshots, with_ids=True)
    return (one * (n_bytes // len(one) + 1))[:n_bytes].rsplit(b"\n", 1)[0] + b"\n"


def test_a_chunked_body_under_the_limit_is_read_whole(
    xgb_server: ServerProcess, gap_snapshots: pd.DataFrame
) -> None:
    body = csv_lines(gap_snapshots, 1_000_000)  # the fixture's limit is 1 MiB = 1,048,576
    status, _, answer = split_response(raw_exchange(xgb_server, request_bytes(chunked(body))))
    assert status == 200
    assert answer.count(b"\n") == body.count(b"\n")  # one output line per input line


def test_a_chunked_body_over_the_limit_is_a_413_not_truncated(
    xgb_server: ServerProcess, gap_snapshots: pd.DataFrame
) -> None:
    body = csv_lines(gap_snapshots, 1_300_000)
    status, headers, answer = split_response(raw_exchange(xgb_server, request_bytes(chunked(body))))
    assert status == 413, answer[:300]
    assert headers["content-type"] == "application/json"
    assert json.loads(answer)["error"] == "PayloadTooLarge"


def test_a_malformed_chunk_is_a_json_400(xgb_server: ServerProcess) -> None:
    status, headers, answer = split_response(
        raw_exchange(xgb_server, request_bytes(b"ZZ\r\nabc\r\n0\r\n\r\n"))
    )
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert set(json.loads(answer)) == {"error", "message"}


def test_a_malformed_request_line_is_answered_by_gunicorn_in_json(
    xgb_server: ServerProcess,
) -> None:
    status, headers, answer = split_response(
        raw_exchange(xgb_server, b"BAD\x01 / HTTP/1.1\r\n\r\n")
    )
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert set(json.loads(answer)) == {"error", "message"}


@pytest.fixture(scope="module")
def slow_server(xgb_model_dir: Path) -> Iterator[ServerProcess]:
    """One worker, a 1 s timeout, batch "emit" mode.

    A payload whose every line has an accepted width but a bad value takes seconds there: each
    line ends up decoded on its own.
    """
    env = {
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
        "SAGEMAKER_BATCH": "true",
        "RETAILSAGE_BAD_RECORD": "emit",
    }
    with ServerProcess(xgb_model_dir, env=env, startup_timeout_s=120) as server:
        yield server


def test_a_worker_timeout_is_a_json_504_and_the_server_recovers(slow_server: ServerProcess) -> None:
    connection = http.client.HTTPConnection(LOOPBACK, slow_server.port, timeout=60)
    try:
        connection.request(
            "POST",
            "/invocations",
            body=(b"a," * 29 + b"a\n") * 90_000,
            headers={"Content-Type": "text/csv"},
        )
        response = connection.getresponse()
        status, content_type, body = (
            response.status,
            response.getheader("Content-Type"),
            response.read(),
        )
    finally:
        connection.close()
    assert status == 504, body[:300]
    assert content_type == "application/json"
    answer = json.loads(body)
    assert answer["error"] == "Timeout"
    assert "SAGEMAKER_MODEL_SERVER_TIMEOUT" in answer["message"]
    connection = http.client.HTTPConnection(LOOPBACK, slow_server.port, timeout=60)
    try:  # the arbiter replaced the worker
        connection.request("GET", "/ping")
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_write_json_error_formats_a_complete_response() -> None:
    left, right = socket.socketpair()
    with left, right:
        gunicorn_errors.write_json_error(left, 400, "Bad Request", "Invalid Request Line 'x'")
        left.shutdown(socket.SHUT_WR)
        raw = right.recv(65536)
    status, headers, body = split_response(raw)
    assert status == 400 and headers["content-length"] == str(len(body))
    assert json.loads(body) == {"error": "BadRequest", "message": "Invalid Request Line 'x'"}
