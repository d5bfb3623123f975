"""Prometheus /metrics: in-process counts, and aggregation over real gunicorn workers."""

from __future__ import annotations

import http.client
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import gap_csv

from retailsage.serve.local_server import LOOPBACK, ServerProcess


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse an exposition into {(sample name, sorted labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape_client(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.get_data(as_text=True)


def test_metrics_count_requests_latency_and_rows(xgb_client, gap_snapshots: pd.DataFrame) -> None:
    before = scrape_client(xgb_client)
    body = gap_csv(gap_snapshots.head(7))
    for _ in range(3):
        assert (
            xgb_client.post("/invocations", data=body, content_type="text/csv").status_code == 200
        )
    from retailsage.features.gap import GAP_FEATURE_COLUMNS

    objects = gap_snapshots.head(2)[list(GAP_FEATURE_COLUMNS)].to_dict(orient="records")
    json_body = {"instances": objects}
    assert xgb_client.post("/invocations", json=json_body).status_code == 200
    bad = xgb_client.post("/invocations", data=b"x", content_type="application/pdf")
    assert bad.status_code == 415
    assert xgb_client.get("/ping").status_code == 200
    after = scrape_client(xgb_client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("retailsage_rows_scored_total") == 3 * 7 + 2
    assert delta("retailsage_requests_total", route="/invocations", status="200") == 0
    assert delta("retailsage_requests_total", route="/ping", status="200") == 1
    csv_count = "retailsage_invocation_latency_seconds_count"
    assert delta(csv_count, status="200", content_type="text/csv") == 3
    assert delta(csv_count, status="200", content_type="application/json") == 1
    assert delta(csv_count, status="415", content_type="other") == 1
    assert (
        delta("retailsage_invocation_latency_seconds_sum", status="200", content_type="text/csv")
        > 0
    )
    inf = "retailsage_invocation_latency_seconds_bucket"
    assert delta(inf, status="200", content_type="text/csv", le="+Inf") == 3


def test_metrics_can_be_switched_off(xgb_model_dir: Path, monkeypatch) -> None:
    from serve_helpers import make_app

    import retailsage.serve.metrics as metrics

    monkeypatch.setenv(metrics.SWITCH_ENV, "0")
    monkeypatch.setattr(metrics, "_metrics", None)
    client = make_app(xgb_model_dir).test_client()
    assert client.get("/metrics").status_code == 404


def http_get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def http_post(port: int, body: bytes) -> int:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.slow
def test_metrics_aggregate_gunicorn_workers_and_the_dir_is_removed(
    xgb_model_dir: Path, gap_snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    """Two workers, one private multiprocess dir (under TMPDIR), survives a worker kill."""
    body = gap_csv(gap_snapshots.head(5))
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "TMPDIR": str(tmp_path)}
    server = ServerProcess(xgb_model_dir, env=env, startup_timeout_s=120).start()
    try:
        assert server.process is not None
        (directory,) = tmp_path.glob("retailsage-metrics-*")
        sent = 0
        pids: set[str] = set()
        for _ in range(30):  # concurrent clients, until both workers have served something
            with ThreadPoolExecutor(4) as pool:
                codes = list(pool.map(lambda _: http_post(server.port, body), range(8)))
            assert codes == [200] * 8
            sent += 8
            files = sorted(p.name for p in directory.glob("*.db"))
            pids = {name.rsplit("_", 1)[1].removesuffix(".db") for name in files}
            if len(pids) == 2:
                break
        assert len(pids) == 2, files  # both workers wrote values into the one dir
        status, text = http_get(server.port, "/metrics")
        assert status == 200
        assert value(text, "retailsage_rows_scored_total") == sent * 5
        count = "retailsage_invocation_latency_seconds_count"
        assert value(text, count, status="200", content_type="text/csv") == sent
        master = server.process.pid
        workers = {
            int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()
        }
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = {
                int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()
            }
            if min(workers) not in now and len(now) == 2:
                break
            time.sleep(0.1)
        assert http_post(server.port, body) == 200
        _, text = http_get(server.port, "/metrics")
        # the killed worker's files stay (mark_process_dead drops live gauges only): no reset
        assert value(text, count, status="200", content_type="text/csv") == sent + 1
    finally:
        assert server.stop() == 0
    assert not directory.exists()
