"""Cost of /metrics instrumentation on the /invocations hot path, measured in one process.

The same app is built twice from one model, with ``RETAILSAGE_METRICS=0`` (baseline) and with
metrics on in multiprocess mode (a private ``PROMETHEUS_MULTIPROC_DIR``, so every request pays the
mmap writes it pays under gunicorn). Requests are WSGI calls (no sockets, no client noise); the two
apps alternate in rounds, and the median per-request time of each is printed with the difference:

    .venv/bin/python benchmarks/metrics_overhead.py [--rounds 7] [--requests 2000]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "serve"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="retailsage-bench-metrics-")

from serve_helpers import gap_csv, make_app, synthetic_transactions  # noqa: E402

import retailsage.serve.metrics as metrics  # noqa: E402
from retailsage.features.gap import gap_training_rows, snapshot_rows  # noqa: E402
from retailsage.models.artifacts import save_model  # noqa: E402
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig  # noqa: E402


def build_apps(tmp: Path):  # type: ignore[no-untyped-def]
    """Train a small XGBoost gap model; return (baseline app, instrumented app, 1-row body)."""
    lines = synthetic_transactions(20_000, seed=1)
    model = XGBoostGap(XGBoostGapConfig(num_round=200, max_depth=6, early_stopping_rounds=None))
    save_model(model.fit(gap_training_rows(lines)), tmp)
    body = gap_csv(snapshot_rows(lines, "2011-12-01").head(1))
    os.environ[metrics.SWITCH_ENV] = "0"
    baseline = make_app(tmp)
    os.environ[metrics.SWITCH_ENV] = "1"
    instrumented = make_app(tmp)
    return baseline, instrumented, body


def per_request_us(app, body: bytes, n: int) -> float:  # type: ignore[no-untyped-def]
    """Mean microseconds per WSGI /invocations call."""
    environ_base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/invocations",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "text/csv",
        "HTTP_ACCEPT": "text/csv",
        "CONTENT_LENGTH": str(len(body)),
    }

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):  # type: ignore[no-untyped-def]
        assert status.startswith("200"), status

    started = time.perf_counter()
    for _ in range(n):
        environ = dict(environ_base, **{"wsgi.input": io.BytesIO(body)})
        for _chunk in app(environ, start_response):
            pass
    return (time.perf_counter() - started) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline, instrumented, body = build_apps(Path(tmp))
        off: list[float] = []
        on: list[float] = []
        per_request_us(instrumented, body, 200)  # warm-up
        live = metrics._metrics
        for _ in range(args.rounds):
            metrics._metrics = None  # the baseline must not count rows either
            off.append(per_request_us(baseline, body, args.requests))
            metrics._metrics = live
            on.append(per_request_us(instrumented, body, args.requests))
    base, inst = statistics.median(off), statistics.median(on)
    print(f"1-row text/csv /invocations, {args.rounds} alternating rounds x {args.requests} calls")
    print(f"  metrics off (baseline): median {base:8.1f} us/request, best round {min(off):8.1f}")
    print(f"  metrics on (multiproc): median {inst:8.1f} us/request, best round {min(on):8.1f}")
    best = min(on) - min(off)
    print(f"  overhead: median {inst - base:+.1f} us/request ({(inst / base - 1) * 100:+.1f} %)")
    print(f"            best round {best:+.1f} us ({(min(on) / min(off) - 1) * 100:+.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
