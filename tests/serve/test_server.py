"""The real thing: `entrypoint.sh serve` under gunicorn, over loopback HTTP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from serve_helpers import gap_csv

from retailsage.core.errors import PlatformError
from retailsage.serve.local_server import LOOPBACK, ServerProcess, ping


def post(server: ServerProcess, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
    connection = http.client.HTTPConnection(LOOPBACK, server.port, timeout=30)
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type", "")
    finally:
        connection.close()


def get(server: ServerProcess, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def test_ping_and_execution_parameters(xgb_server: ServerProcess) -> None:
    assert get(xgb_server, "/ping") == (200, b"")
    status, body = get(xgb_server, "/execution-parameters")
    assert status == 200
    assert json.loads(body) == {
        "MaxConcurrentTransforms": 2,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 1,
    }


def test_csv_batch_alignment_over_http(
    xgb_server: ServerProcess, gap_snapshots: pd.DataFrame
) -> None:
    good = gap_csv(gap_snapshots.head(20)).split(b"\n")[:-1]
    good[7] = b"not,a,row"
    status, body, content_type = post(
        xgb_server, b"\n".join(good) + b"\n", {"Content-Type": "text/csv", "Accept": "text/csv"}
    )
    assert status == 200 and content_type.startswith("text/csv")
    lines = body.decode().split("\n")
    assert len(lines) == 21 and lines[-1] == ""
    assert lines[7].startswith("ERROR,")
    assert sum(line.startswith("ERROR") for line in lines) == 1


def test_errors_are_short_json_over_http(xgb_server: ServerProcess) -> None:
    status, body, _ = post(xgb_server, b"1,2", {"Content-Type": "application/x-unknown"})
    assert status == 415
    assert json.loads(body)["error"] == "UnsupportedMediaType"
    status, body, _ = post(xgb_server, b"{", {"Content-Type": "application/json"})
    assert status == 400 and b"Traceback" not in body


def test_broken_model_halts_the_server_instead_of_serving(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"family": "xgboost", "format_version": 1}')
    server = ServerProcess(
        tmp_path, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, startup_timeout_s=120
    )
    with pytest.raises(PlatformError) as failure:
        server.start()
    assert "exited with code 3" in str(failure.value), str(failure.value)
    assert "Worker failed to boot" in str(failure.value)


def test_killed_worker_is_replaced_and_sigterm_exits_cleanly(
    xgb_model_dir: Path, gap_snapshots: pd.DataFrame
) -> None:
    body = gap_csv(gap_snapshots.head(50))
    results: list[int] = []
    stop = threading.Event()

    def load(server: ServerProcess) -> None:
        while not stop.is_set():
            try:
                results.append(post(server, body, {"Content-Type": "text/csv"})[0])
            except (OSError, http.client.HTTPException):
                results.append(-1)  # the request in flight when its worker was killed

    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    server = ServerProcess(xgb_model_dir, env=env, startup_timeout_s=120).start()
    try:
        assert server.process is not None
        master = server.process.pid
        clients = [threading.Thread(target=load, args=(server,)) for _ in range(3)]
        for thread in clients:
            thread.start()
        time.sleep(1.0)
        victim = min(worker_pids(master))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = worker_pids(master)
            if victim not in workers and len(workers) == 2:
                break
            time.sleep(0.1)
        served_after_kill = len(results)
        time.sleep(1.0)
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
        workers = worker_pids(master)
        assert victim not in workers and len(workers) == 2  # a replacement booted
        assert ping(LOOPBACK, server.port) == 200
        failures = [s for s in results if s != 200]
        assert len(failures) <= len(clients)  # at most the requests in flight at the kill
        assert len(results) > served_after_kill  # and it kept serving afterwards
    finally:
        code = server.stop()
    assert code == 0
