"""`IMAGE serve` in the built image with a mounted model, over loopback HTTP (marker `image`)."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from retailsage.core.containers import Engine
from retailsage.serve.local_server import free_port

from .conftest import FAMILY_HYPERPARAMETERS

pytestmark = pytest.mark.image

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT_S = 180
SIGTERM_DEADLINE_S = 30  # SageMaker sends SIGKILL 30 s after SIGTERM on scale-in
CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"
AS_OF = "2011-11-01"
N_REQUEST_ROWS = 5


@dataclass
class Server:
    """One running `serve` container answering on 127.0.0.1:port."""

    engine: Engine
    name: str
    port: int

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, str]:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=70)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Content-Type", "")
        finally:
            connection.close()

    def running(self) -> bool:
        state = self.engine("inspect", "--format", "{{.State.Running}}", self.name, timeout=30)
        return state.stdout.strip() == "true"

    def logs(self) -> str:
        result = self.engine("logs", self.name, timeout=30)
        return (result.stdout + result.stderr)[-4000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.running():
                pytest.fail(f"serve container exited during start-up:\n{self.logs()}")
            try:
                if self.request("GET", "/ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        pytest.fail(f"/ping not 200 within {STARTUP_TIMEOUT_S} s:\n{self.logs()}")


def start_server(engine: Engine, image: str, model_dir: Path) -> Server:
    port = free_port()
    name = f"retailsage-test-{uuid.uuid4().hex[:10]}"
    args = engine.run_args(
        image,
        "serve",
        mounts={model_dir: "/opt/ml/model:ro"},
        env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"},
        port=port,
    )
    engine(args[0], "--detach", "--name", name, *args[1:], timeout=120, check=True)
    server = Server(engine, name, port)
    try:
        server.wait_ready()
    except BaseException:
        engine("rm", "--force", name, timeout=60)
        raise
    return server


@pytest.fixture(scope="module", params=sorted(FAMILY_HYPERPARAMETERS))
def server(
    request: pytest.FixtureRequest, engine: Engine, image: str, trained: dict
) -> Iterator[tuple[str, Server]]:
    family = request.param
    base, result = trained[family]
    assert result.returncode == 0, f"{family} did not train:\n{result.stderr[-2000:]}"
    running = start_server(engine, image, base / "model")
    try:
        yield family, running
    finally:
        engine("rm", "--force", running.name, timeout=60)


def request_rows(family: str, model_dir: Path, clean: pd.DataFrame) -> pd.DataFrame:
    """N rows a model of ``family`` accepts, in its manifest's input-column order."""
    columns = json.loads((model_dir / "manifest.json").read_text())["input_columns"]
    if family == "pca_kmeans":
        rows = clean
    else:
        from retailsage.features.gap import snapshot_rows

        rows = snapshot_rows(clean, AS_OF)
    return rows[list(columns)].head(N_REQUEST_ROWS).reset_index(drop=True)


def encode(rows: pd.DataFrame, content_type: str) -> bytes:
    if content_type == CSV:
        text = rows.to_csv(header=False, index=False, date_format="%Y-%m-%d %H:%M:%S")
        return text.encode()
    records = json.loads(rows.to_json(orient="records", date_format="iso"))
    if content_type == JSON:
        return json.dumps({"instances": records}).encode()
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def decode(body: bytes, accept: str) -> list[float]:
    """The first output field of every returned row, as floats."""
    if accept == CSV:
        return [float(line.split(",")[0]) for line in body.decode().splitlines()]
    if accept == JSON:
        records = json.loads(body)["predictions"]
    else:
        records = [json.loads(line) for line in body.decode().splitlines()]
    key = "anomaly_score" if "anomaly_score" in records[0] else "predicted_gap_days"
    return [float(record[key]) for record in records]


def test_ping_is_200_with_an_empty_body(server: tuple[str, Server]) -> None:
    _, running = server
    status, body, _ = running.request("GET", "/ping")
    assert (status, body) == (200, b"")


def test_execution_parameters(server: tuple[str, Server]) -> None:
    _, running = server
    status, body, content_type = running.request("GET", "/execution-parameters")
    assert status == 200 and content_type.startswith(JSON)
    parameters = json.loads(body)
    assert parameters["BatchStrategy"] == "MULTI_RECORD"
    assert parameters["MaxConcurrentTransforms"] == 2
    assert parameters["MaxPayloadInMB"] == 6


def test_invocations_in_every_content_type_and_accept(
    server: tuple[str, Server], trained: dict, clean_transactions: pd.DataFrame
) -> None:
    family, running = server
    rows = request_rows(family, trained[family][0] / "model", clean_transactions)
    answers: dict[tuple[str, str], list[float]] = {}
    for content_type in (CSV, JSON, JSONLINES):
        for accept in (CSV, JSON, JSONLINES):
            status, body, returned = running.request(
                "POST",
                "/invocations",
                encode(rows, content_type),
                {"Content-Type": content_type, "Accept": accept},
            )
            assert status == 200, (content_type, accept, body[:500])
            assert returned.split(";")[0] == accept
            answers[content_type, accept] = decode(body, accept)
    reference = answers[CSV, JSON]
    assert len(reference) == len(rows)
    for key, values in answers.items():
        assert values == pytest.approx(reference, rel=1e-6, abs=1e-6), key


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/xml"}, 415),
        ({"Content-Type": CSV, "Accept": "application/xml"}, 406),
    ],
)
def test_media_type_errors(
    server: tuple[str, Server],
    trained: dict,
    clean_transactions: pd.DataFrame,
    headers: dict[str, str],
    status: int,
) -> None:
    family, running = server
    rows = request_rows(family, trained[family][0] / "model", clean_transactions)
    answer, body, content_type = running.request("POST", "/invocations", encode(rows, CSV), headers)
    assert answer == status
    assert content_type.startswith(JSON) and json.loads(body)["error"]


def test_server_runs_as_the_unprivileged_user(server: tuple[str, Server]) -> None:
    _, running = server
    result = running.engine("exec", running.name, "cat", "/proc/1/status", timeout=30)
    uids = next(line for line in result.stdout.splitlines() if line.startswith("Uid:"))
    assert uids.split()[1:] == ["10001"] * 4


def test_sigterm_stops_the_server_within_30_seconds(
    engine: Engine, image: str, trained: dict
) -> None:
    running = start_server(engine, image, trained["xgboost"][0] / "model")
    try:
        started = time.monotonic()
        engine("kill", "--signal", "TERM", running.name, timeout=30, check=True)
        waited = engine("wait", running.name, timeout=SIGTERM_DEADLINE_S + 10)
        elapsed = time.monotonic() - started
        assert waited.returncode == 0, waited.stderr
        assert elapsed < SIGTERM_DEADLINE_S, f"took {elapsed:.1f} s"
        # gunicorn (PID 1) shut its workers down gracefully and exited 0
        assert waited.stdout.strip().splitlines()[-1] == "0", running.logs()
    except subprocess.TimeoutExpired:
        pytest.fail(f"server still running {SIGTERM_DEADLINE_S} s after SIGTERM")
    finally:
        engine("rm", "--force", running.name, timeout=60)
