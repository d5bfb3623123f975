"""Serving benchmark: the retailsage server vs the in-process limit vs a naive Flask server.

XGBoost gap model (200 trees, depth 6) on gap feature rows, text/csv payloads of 1 and 1,000
rows, closed-loop load at concurrency 1, 4 and 16 over loopback, all measured in one run:

    .venv/bin/python benchmarks/serve_benchmark.py [--seconds 5] [--workers 2] [--trees full]

``--wrk`` generates the load with Debian's ``wrk`` instead of the Python threads (same points,
same alternation), to check that the ratios do not come from the Python client's own CPU.
``--trees full`` (the default) trains with ``min_child_fraction=0`` so the 200 trees really grow
to depth 6 (~58 splits each); ``--trees family`` keeps the family's default regularisation
(leaves of >= 15 % of the rows: ~3 splits per tree), the shape the project's models have.
The naive server predicts with XGBoost's own predictor (``RETAILSAGE_COMPILED_TREES=0``).

Prints requests/s, rows/s, p50/p99 latency per point, peak RSS of the server process tree,
time from spawn to the first /ping 200, and the ratios the goals are stated in.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests" / "serve"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from loadgen import LoadResult, process_tree_pss_mb, process_tree_rss_mb, run_load  # noqa: E402
from serve_helpers import synthetic_transactions  # noqa: E402
from wrk_load import WrkResult, run_wrk  # noqa: E402

from retailsage.features.gap import GAP_FEATURE_COLUMNS, gap_training_rows  # noqa: E402
from retailsage.models.artifacts import load_model, save_model  # noqa: E402
from retailsage.models.compiled_trees import SWITCH_ENV, CompiledTrees  # noqa: E402
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig  # noqa: E402
from retailsage.serve.codecs import decode_csv, encode_csv  # noqa: E402
from retailsage.serve.fast_csv import FastCsvScorer  # noqa: E402
from retailsage.serve.local_server import LOOPBACK, ServerProcess, free_port, ping  # noqa: E402
from retailsage.serve.predictor import Predictor  # noqa: E402

CONCURRENCY = (1, 4, 16)
HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


def build(tmp: Path, trees: str = "full") -> tuple[Path, bytes, bytes]:
    """Train the 200-tree depth-6 model; return its dir and the 1-row and 1,000-row payloads."""
    lines = synthetic_transactions(60_000, seed=1)
    rows = gap_training_rows(lines)
    config = XGBoostGapConfig(
        num_round=200,
        max_depth=6,
        early_stopping_rounds=0,
        min_child_weight=1.0,
        min_child_fraction=0.0 if trees == "full" else XGBoostGapConfig.min_child_fraction,
        nthread=2,
    )
    model = XGBoostGap(config).fit(rows)
    model_dir = tmp / "model"
    save_model(model, model_dir)
    sample = rows.sample(1000, random_state=0)[list(GAP_FEATURE_COLUMNS)]
    thousand = sample.to_csv(header=False, index=False, lineterminator="\n").encode()
    one = thousand.split(b"\n")[0] + b"\n"
    return model_dir, one, thousand


def tree_shape(booster: object) -> str:
    """Mean splits per tree and the deepest leaf, from the booster's JSON dump."""
    compiled = CompiledTrees.from_dump(json.loads(booster.save_raw("json")))  # type: ignore[attr-defined]
    depth = int(compiled.depths.max()) if compiled.n_trees else 0
    return f"{compiled.splits_per_tree:.1f} splits per tree, deepest leaf at depth {depth}"


def _limit_loop(args: tuple[str, bytes, float, str]) -> int:
    """One process: parse + predict the same bytes for a fixed time; return rows scored."""
    model_dir, body, seconds, mode = args
    predictor = Predictor.load(Path(model_dir))
    model = predictor.model
    spec, booster = model._fitted()  # type: ignore[attr-defined]
    names = list(predictor.schema.input_columns)
    fast = FastCsvScorer.for_model(model, predictor.schema)
    rows = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        if mode == "raw" and body.count(b"\n") <= 1:  # split + numpy floats + inplace_predict
            fields = dict(zip(names, body.decode().strip().split(","), strict=True))
            used = spec.model_columns
            matrix = np.full((1, len(used)), np.nan)
            for j, name in enumerate(used):
                if name in spec.categories:
                    matrix[0, j] = spec.codes(name, pd.Series([fields[name]]))[0]
                elif fields[name]:
                    matrix[0, j] = float(fields[name])
            booster.inplace_predict(matrix)
        elif mode == "raw":  # pandas C engine + the family's encoding + inplace_predict
            frame = pd.read_csv(io.BytesIO(body), header=None, names=names)
            booster.inplace_predict(spec.encode(frame))
        elif fast is None or fast.score(body) is None:  # the app's general path, no HTTP
            out = predictor.predict(decode_csv(body, predictor.schema))
            encode_csv(out, predictor.csv_columns(out))
        # else: the app's CSV fast path (FastCsvScorer) scored it, no HTTP
        rows += body.count(b"\n")
    return rows


def in_process_limit(
    model_dir: Path, body: bytes, seconds: float, workers: int, mode: str
) -> float:
    """Rows/s of ``workers`` processes x 1 thread scoring without HTTP."""
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        counts = pool.map(_limit_loop, [(str(model_dir), body, seconds, mode)] * workers)
    return sum(counts) / seconds


def sweep(
    ports: dict[str, int], one: bytes, thousand: bytes, seconds: float, *, use_wrk: bool = False
) -> dict[str, dict[str, LoadResult | WrkResult]]:
    """Every point on every server, servers alternating per point (a drifting load hits both)."""
    results: dict[str, dict[str, LoadResult | WrkResult]] = {server: {} for server in ports}
    load = run_wrk if use_wrk else run_load
    for name, body in (("1-row", one), ("1000-row", thousand)):
        for c in CONCURRENCY:
            for server, port in ports.items():
                results[server][f"{name} c={c}"] = load(
                    port, body, HEADERS, concurrency=c, seconds=seconds
                )
    return results


def naive_server(
    model_dir: Path, workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], int, float]:
    port = free_port()
    env = {
        **os.environ,
        "NAIVE_MODEL_DIR": str(model_dir),
        "OMP_NUM_THREADS": "1",
        SWITCH_ENV: "0",  # the naive server predicts with xgboost itself, as the AWS sample
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"{LOOPBACK}:{port}",
            "--no-control-socket",
            "--chdir",
            str(REPO / "benchmarks"),
            "naive_server:app",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    while ping(LOOPBACK, port, timeout=1.0) != 200:
        if process.poll() is not None or time.perf_counter() - started > 120:
            raise RuntimeError("naive server did not start")
        time.sleep(0.02)
    return process, port, time.perf_counter() - started


def row(name: str, result: LoadResult | WrkResult, rows_per_request: int) -> dict[str, float | str]:
    return {
        "point": name,
        "req/s": round(result.rps, 1),
        "rows/s": round(result.rps * rows_per_request),
        "p50 ms": round(result.percentile(50), 2),
        "p99 ms": round(result.percentile(99), 2),
        "errors": result.errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--trees", choices=("full", "family"), default="full")
    parser.add_argument("--wrk", action="store_true", help="load from wrk, not Python threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, one, thousand = build(Path(tmp), args.trees)
        booster = load_model(model_dir)._fitted()[1]  # type: ignore[attr-defined]
        trees = booster.num_boosted_rounds()
        shape = tree_shape(booster)
        limits = {
            (payload, mode): in_process_limit(model_dir, body, args.seconds, args.workers, mode)
            for payload, body in (("1-row", one), ("1000-row", thousand))
            for mode in ("raw", "ours")
        }
        env = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)}
        naive_log = Path(tmp) / "naive.log"
        with ServerProcess(model_dir, env=env) as server:
            assert server.process is not None
            ours_start = server.startup_seconds
            process, port, naive_start = naive_server(model_dir, args.workers, naive_log)
            try:
                both = sweep(
                    {"ours": server.port, "naive": port},
                    one,
                    thousand,
                    args.seconds,
                    use_wrk=args.wrk,
                )
                ours, naive = both["ours"], both["naive"]
                _, ours_peak = process_tree_rss_mb(server.process.pid)
                ours_pss = process_tree_pss_mb(server.process.pid)
                _, naive_peak = process_tree_rss_mb(process.pid)
                naive_pss = process_tree_pss_mb(process.pid)
                if any(result.errors for result in naive.values()):
                    print(naive_log.read_text()[-3000:])
            finally:
                process.terminate()
                process.wait(timeout=30)
    table = [row(f"retailsage {k}", v, 1000 if "1000" in k else 1) for k, v in ours.items()]
    table += [row(f"naive {k}", v, 1000 if "1000" in k else 1) for k, v in naive.items()]
    frame = pd.DataFrame(table)
    print(
        f"model: xgboost gap, {trees} trees, max_depth 6 ({shape}); workers={args.workers}; "
        f"{args.seconds:.0f} s per point after 1 s warm-up; load from "
        f"{'wrk' if args.wrk else 'Python threads'}; 1 row = {len(one)} B, "
        f"1,000 rows = {len(thousand)} B"
    )
    print(frame.to_string(index=False))
    best_ours = max(ours[f"1000-row c={c}"].rps * 1000 for c in CONCURRENCY)
    best_naive = max(naive[f"1000-row c={c}"].rps * 1000 for c in CONCURRENCY)
    best_limit = max(limits[("1000-row", "raw")], limits[("1000-row", "ours")])
    summary = {
        "in-process limit rows/s (parse + inplace_predict), 1-row": round(limits[("1-row", "raw")]),
        "in-process limit rows/s (parse + inplace_predict), 1000-row": round(
            limits[("1000-row", "raw")]
        ),
        "in-process ours rows/s (decode + predict + encode), 1-row": round(
            limits[("1-row", "ours")]
        ),
        "in-process ours rows/s (decode + predict + encode), 1000-row": round(
            limits[("1000-row", "ours")]
        ),
        "server best 1000-row rows/s": round(best_ours),
        "naive best 1000-row rows/s": round(best_naive),
        "1000-row throughput / in-process limit (best of both)": round(best_ours / best_limit, 3),
        "1000-row throughput / naive": round(best_ours / best_naive, 2),
        "1-row c=1 p99 ms": round(ours["1-row c=1"].percentile(99), 2),
        "1-row c=1 req/s vs naive": round(ours["1-row c=1"].rps / naive["1-row c=1"].rps, 2),
        "startup to /ping 200 s (ours)": round(ours_start, 2),
        "startup to /ping 200 s (naive)": round(naive_start, 2),
        "peak RSS MB, sum over master+workers (ours)": round(ours_peak),
        "peak RSS MB, sum over master+workers (naive)": round(naive_peak),
        "PSS MB after the run, master+workers (ours)": round(ours_pss),
        "PSS MB after the run, master+workers (naive)": round(naive_pss),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    np.random.seed(0)
    sys.exit(main())
