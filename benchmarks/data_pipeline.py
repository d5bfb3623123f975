"""Benchmark the data pipeline: load, clean (and gap featurize) throughput and peak RSS.

Every stage runs in a fresh Python subprocess so that its peak RSS (``ru_maxrss``) is its
own; the parent only orchestrates and prints. Inputs: the real UCI parquet (when present
at ../shared/data/online_retail.parquet) and generated 1M / 10M row parquet files, plus a
CSV of the real data for the reader comparison.

Baselines measured in the same run:

* ``read:pandas`` / ``read:pyarrow`` - the bare readers (no typing, no validation), to show
  the cost of the loader's typing and checks and to pick the CSV/Parquet engine;
* ``import`` - the RSS of a process that imported the libraries and did nothing else.

Usage::

    .venv/bin/python benchmarks/data_pipeline.py               # real file, 1M, 10M
    .venv/bin/python benchmarks/data_pipeline.py --sizes 1000000  # quicker
    .venv/bin/python benchmarks/data_pipeline.py --no-real --sizes 10000000 --stages load stream
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "online_retail.parquet"
STAGES = (
    "import",
    "read:pandas",
    "read:pyarrow",
    "load",
    "stream",
    "load+clean",
    "load+clean+featurize",
)
CSV_STAGES = ("import", "read:pandas", "read:pyarrow", "load", "stream")


def _peak_mib() -> float:
    """Peak RSS of this process image (VmHWM; unlike ru_maxrss it is not inherited on exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run_stage(stage: str, path: Path) -> dict[str, float | int | str]:
    """Run one stage in this (fresh) process; return seconds per step, rows and peak RSS."""
    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from retailsage.data.cleaning import clean_transactions
    from retailsage.data.loader import iter_transaction_chunks, load_transactions

    result: dict[str, float | int | str] = {"stage": stage}
    csv = path.name.endswith((".csv", ".csv.gz"))
    start, cpu_start = time.perf_counter(), time.process_time()
    if stage == "import":
        rows = 0
    elif stage == "read:pandas":
        frame = pd.read_csv(path) if csv else pd.read_parquet(path)
        rows = len(frame)
    elif stage == "read:pyarrow":
        table = pacsv.read_csv(path) if csv else pq.read_table(path)
        rows = table.num_rows
    elif stage == "stream":  # bounded memory: 1M-row chunks, nothing kept
        rows = sum(len(chunk) for chunk in iter_transaction_chunks(path, chunk_rows=1_000_000))
    else:
        frame = load_transactions(path)
        rows = len(frame)
        result["load_s"] = time.perf_counter() - start
        if "clean" in stage:
            mark = time.perf_counter()
            frame = clean_transactions(frame)
            result["clean_s"] = time.perf_counter() - mark
        if "featurize" in stage:
            from retailsage.features.gap import gap_training_rows

            mark = time.perf_counter()
            features = gap_training_rows(frame)
            result["featurize_s"] = time.perf_counter() - mark
            result["feature_rows"] = len(features)
    result["total_s"] = time.perf_counter() - start
    result["cpu_s"] = time.process_time() - cpu_start
    result["rows"] = rows
    result["peak_mib"] = _peak_mib()
    return result


def _stage_in_subprocess(stage: str, path: Path) -> dict[str, float | int | str] | None:
    """Run a stage in a fresh interpreter; ``None`` when it cannot run (missing module)."""
    command = [sys.executable, __file__, "--stage", stage, "--input", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {stage:<22} skipped: {reason}")
        return None
    parsed: dict[str, float | int | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def _featurize_available() -> bool:
    command = [sys.executable, "-c", "import retailsage.features.gap"]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _print_row(name: str, result: dict[str, float | int | str]) -> None:
    rows = int(result["rows"])
    total = float(result["total_s"])
    rate = f"{rows / total:>13,.0f}" if rows and total else f"{'-':>13}"
    steps = "  ".join(
        f"{key[:-2]} {float(result[key]):.3f}s"
        for key in ("load_s", "clean_s", "featurize_s")
        if key in result
    )
    print(
        f"  {name:<22} {rows:>11,} rows {total:>7.3f} s (cpu {float(result['cpu_s']):>6.3f} s)"
        f" {rate} rows/s  peak {float(result['peak_mib']):>6.0f} MiB  {steps}"
    )


def _bench_input(label: str, path: Path, stages: tuple[str, ...]) -> dict[str, dict]:
    print(f"\n{label}: {path.name} ({path.stat().st_size / 2**20:.1f} MiB on disk)")
    results: dict[str, dict] = {}
    for stage in stages:
        result = _stage_in_subprocess(stage, path)
        if result is not None:
            results[stage] = result
            _print_row(stage, result)
    return results


def _python(code: str) -> str:
    """Run Python code in a fresh interpreter (keeps this orchestrating process small)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout


def _generate(rows: int, directory: Path) -> Path:
    path = directory / f"synthetic_{rows}.parquet"
    start = time.perf_counter()
    _python(
        "from retailsage.data.synthetic import iter_generated_chunks as g, write_transactions as w;"
        f"w(g({rows}, chunk_rows=1_000_000, seed=0), {str(path)!r})"
    )
    seconds = time.perf_counter() - start
    print(f"generated {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s, incl. write)")
    return path


def _generate_in_memory(rows: int) -> None:
    """Time generate_transactions alone (one shard, no write) in a fresh process."""
    code = (
        "import time,resource,json;"
        "from retailsage.data.synthetic import generate_transactions as g;"
        "t=time.perf_counter();c=time.process_time();"
        f"f=g({rows},seed=0);"
        "s=time.perf_counter()-t;c=time.process_time()-c;"
        "print(json.dumps([s,c,resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024]))"
    )
    seconds, cpu, peak = json.loads(_python(code))
    print(
        f"generate_transactions({rows:,}) in memory: {seconds:.2f} s (cpu {cpu:.2f} s, "
        f"{rows / seconds:,.0f} rows/s), peak {peak:,.0f} MiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000], help="generated sizes"
    )
    parser.add_argument("--stages", nargs="*", choices=STAGES, help="run only these stages")
    parser.add_argument("--no-real", action="store_true", help="skip the real data file")
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(_run_stage(args.stage, args.input)))
        return 0

    stages = tuple(args.stages or STAGES)
    if "load+clean+featurize" in stages and not _featurize_available():
        stages = tuple(stage for stage in stages if stage != "load+clean+featurize")
    with tempfile.TemporaryDirectory(prefix="retailsage-bench-") as tmp:
        directory = Path(tmp)
        if REAL.is_file() and not args.no_real:
            _bench_input("real UCI data (parquet)", REAL, stages)
            csv = directory / "online_retail.csv"
            _python(
                "from retailsage.data.loader import load_transactions as l;"
                "from retailsage.data.synthetic import write_transactions as w;"
                f"w(l({str(REAL)!r}), {str(csv)!r})"
            )
            _bench_input("real UCI data (CSV)", csv, tuple(s for s in CSV_STAGES if s in stages))
        elif not args.no_real:
            print(f"real data not found at {REAL}; skipping it")
        timings: dict[int, float] = {}  # CPU seconds: robust on a shared machine
        for rows in args.sizes:
            print()
            _generate_in_memory(rows)
            path = _generate(rows, directory)
            results = _bench_input(f"generated {rows:,} rows", path, stages)
            if "load+clean" in results:
                timings[rows] = float(results["load+clean"]["cpu_s"])
        sizes = sorted(timings)
        for small, big in itertools.pairwise(sizes):
            ratio = timings[big] / timings[small]
            print(
                f"\nload+clean {big:,} vs {small:,} rows: {ratio:.2f}x the CPU time for "
                f"{big / small:.0f}x the rows; per-row cost ratio {ratio / (big / small):.2f} "
                "(1.00 = linear)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
