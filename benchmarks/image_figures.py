"""Image figures: size over its base image; serve cold start in the container vs the checkout.

Measures, for an already-built image (scripts/build_image.sh):
  * image size, base image size (the baseline), and what the image adds on top;
  * serve cold start: `run IMAGE serve` until /ping answers 200, against the same model served
    from the source checkout (`entrypoint.sh serve`, same workers) as the baseline;
  * SIGTERM to exit of the serving container (SageMaker allows 30 s).
Each start is repeated --runs times; the median and the range are printed.

Usage: .venv/bin/python benchmarks/image_figures.py [--image TAG] [--base TAG] [--runs 3]
Needs podman or docker; binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from retailsage.data.synthetic import generate_transactions
from retailsage.features.gap import gap_training_rows
from retailsage.models.artifacts import save_model
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig
from retailsage.serve.local_server import LOOPBACK, ServerProcess, free_port

PODMAN_RUN = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "host"]


def engine() -> str:
    for name in ("docker", "podman"):
        if (
            shutil.which(name)
            and subprocess.run([name, "info"], capture_output=True).returncode == 0
        ):
            return name
    sys.exit("neither docker nor podman is usable")


def size_mb(tool: str, tag: str) -> float:
    out = subprocess.run(
        [tool, "image", "inspect", "--format", "{{.Size}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip()) / 1e6


def ping_ok(port: int) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def container_start(tool: str, image: str, model: Path) -> tuple[float, float]:
    """Seconds from `run` to /ping 200, and from SIGTERM to exit."""
    port, name = free_port(), f"retailsage-bench-{uuid.uuid4().hex[:8]}"
    network = PODMAN_RUN if tool == "podman" else ["-p", f"{LOOPBACK}:{port}:8080"]
    env = ["-e", "SAGEMAKER_MODEL_SERVER_WORKERS=2"]
    if tool == "podman":
        env += ["-e", f"SAGEMAKER_BIND_TO_PORT={port}", "-e", "SAGEMAKER_BIND_TO_ADDRESS=127.0.0.1"]
    started = time.perf_counter()
    subprocess.run(
        [
            tool,
            "run",
            "-d",
            "--pull=never",
            "--name",
            name,
            *network,
            *env,
            "-v",
            f"{model}:/opt/ml/model:ro",
            image,
            "serve",
        ],
        capture_output=True,
        check=True,
    )
    try:
        while not ping_ok(port):
            if time.perf_counter() - started > 300:
                raise RuntimeError("no /ping 200 within 300 s")
            time.sleep(0.02)
        ready = time.perf_counter() - started
        stopping = time.perf_counter()
        subprocess.run([tool, "kill", "--signal", "TERM", name], capture_output=True, check=True)
        subprocess.run([tool, "wait", name], capture_output=True, check=True, timeout=60)
        return ready, time.perf_counter() - stopping
    finally:
        subprocess.run([tool, "rm", "--force", name], capture_output=True)


def checkout_start(model: Path) -> float:
    with ServerProcess(
        model, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, startup_timeout_s=300
    ) as server:
        return server.startup_seconds


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost/retailsage:latest")
    parser.add_argument("--base", default="localhost/debian-py:bookworm")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tool = engine()

    image_mb, base_mb = size_mb(tool, args.image), size_mb(tool, args.base)
    print(f"engine {tool}; image {args.image}")
    print(f"image size      {image_mb:8.0f} MB")
    print(f"base (baseline) {base_mb:8.0f} MB  ({args.base})")
    print(f"added by image  {image_mb - base_mb:8.0f} MB")

    with tempfile.TemporaryDirectory(prefix="retailsage-bench-") as tmp:
        model = Path(tmp) / "model"
        rows = gap_training_rows(generate_transactions(4000, seed=11))
        config = XGBoostGapConfig(num_round=30, nthread=1)
        save_model(XGBoostGap(config).fit(rows), model)
        for path in (Path(tmp), model, *model.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        host = [checkout_start(model) for _ in range(args.runs)]
        runs = [container_start(tool, args.image, model) for _ in range(args.runs)]
    print(f"serve cold start, xgboost model, 2 workers, {args.runs} runs:")
    print(f"  checkout entrypoint.sh serve (baseline)  {summary(host)}")
    print(f"  {tool} run IMAGE serve                   {summary([r[0] for r in runs])}")
    print(f"  SIGTERM -> container exit                {summary([r[1] for r in runs])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
