"""End-to-end wall time of the local pipeline and the share of each state.

Measures, in one process and one moto session:
  * setup: CDK synthesis (cold with --cold, else from the build/ cache) + moto + resources;
  * baseline: the `make run` default (generated transactions, xgboost);
  * target: the real Online Retail data (../shared/data/online_retail.parquet), xgboost.

It also prints the time CPython's cyclic collector took in this process (gc.callbacks).
`--collector default` runs without the local pipeline's collector policy
(retailsage.pipeline.gc_policy: collector off during each in-process Lambda invocation, its
survivors frozen), for an A/B of that policy in separate processes at the same load.

Run:  .venv/bin/python benchmarks/pipeline_e2e.py [--cold] [--data PATH] [--rows N]
      [--model-type pca_kmeans] [--target-only] [--collector policy|default]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

from retailsage.pipeline import lambda_runner
from retailsage.pipeline.run import DEFAULT_CACHE_DIR, DEFAULT_ROWS, LocalPipeline, RunOptions
from retailsage.pipeline.summary import RunSummary

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail.parquet"


def _report(label: str, summary: RunSummary) -> None:
    print(f"\n== {label}: {summary.run_id} {summary.status} at {summary.last_state!r}")
    print(f"   execution wall time (upload -> summary): {summary.wall_s:.1f} s")
    print(f"   rows scored {summary.rows_scored:,}; items written {summary.items_written:,}")
    if summary.predictions is not None:
        export = summary.predictions
        state = "complete" if export.complete else "INCOMPLETE"
        print(f"   predictions export: {export.rows:,} rows ({state}) in {export.seconds:.1f} s")
    total = sum(t.seconds for t in summary.timings) or 1.0
    for timing in summary.timings:
        share = 100 * timing.seconds / total
        print(f"   {timing.name:<22} {timing.seconds:7.2f} s  {share:5.1f} %")
    for name in ("validation:mae", "baseline:median:mae", "baseline:last_gap:mae"):
        value = summary.metrics.get(name)
        if value is not None:
            print(f"   {name} = {value:.3f}")


class CollectorClock:
    """Adds up the wall time of every cyclic-collector run (``gc.callbacks``), by generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1

    def line(self) -> str:
        """One report line."""
        gen0, gen1, gen2 = self.collections
        return (
            f"cyclic collector: {self.seconds:.1f} s in {sum(self.collections):,} collections "
            f"(generation 0/1/2: {gen0:,}/{gen1:,}/{gen2:,})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REAL_DATA)
    parser.add_argument("--model-type", default="xgboost")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="baseline generated rows")
    parser.add_argument("--cold", action="store_true", help="synthesize into an empty cache")
    parser.add_argument(
        "--target-only", action="store_true", help="skip the generated-data baseline run"
    )
    parser.add_argument(
        "--collector",
        choices=("policy", "default"),
        default="policy",
        help="default: without the local pipeline's collector policy (the A/B baseline)",
    )
    args = parser.parse_args()
    if args.collector == "default":
        lambda_runner.invocation_gc = contextlib.nullcontext  # type: ignore[assignment]
    clock = CollectorClock()
    if not args.data.is_file():
        print(f"real data not found at {args.data}", file=sys.stderr)
        return 2
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    cache = Path(tempfile.mkdtemp(prefix="bench-cdk-")) if args.cold else DEFAULT_CACHE_DIR
    runs_dir = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    started = time.perf_counter()
    with LocalPipeline(io.StringIO(), runs_dir=runs_dir, cache_dir=cache) as pipeline:
        setup = time.perf_counter() - started
        print(
            f"setup ({'cold' if args.cold else 'cached'} synth + moto + resources): {setup:.1f} s"
        )
        baseline = None
        if not args.target_only:
            baseline = pipeline.execute(
                RunOptions(model_type=args.model_type, rows=args.rows, run_id="bench-generated")
            )
            _report(f"baseline: {args.rows:,} generated rows", baseline)
        target = pipeline.execute(
            RunOptions(model_type=args.model_type, data=args.data, run_id="bench-online-retail")
        )
        _report(f"target: {args.data.name}", target)
    goal = 120 if args.model_type == "pca_kmeans" else 60
    print(
        f"\nend to end, real data ({args.model_type}): setup {setup:.1f} s + execution "
        f"{target.wall_s:.1f} s = {setup + target.wall_s:.1f} s (goal <= {goal} s)"
    )
    print(f"{clock.line()}; collector policy: {args.collector}")
    return 0 if (baseline is None or baseline.succeeded) and target.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
