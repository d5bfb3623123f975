"""One host vs two hosts: the same gap model trained by 1 and by 2 local hosts, quality and time.

Generates transactions (or reads ``--data``), cleans them, writes ``4`` customer-bucket objects
(as the extract step does for 2 instances) and trains each ``--model`` twice with the local
multi-host runner: once on one host with all objects (the baseline, measured in the same run),
once on two hosts with ``ShardedByS3Key`` (objects dealt to the hosts, loopback collective).
Prints wall time (start of the hosts to their exit, Python start-up included) and holdout
MAE of each, and the MAE delta of two hosts against one.

    .venv/bin/python benchmarks/multihost_training.py [--rows 200000] [--model xgboost lstm]
    .venv/bin/python benchmarks/multihost_training.py --data ../shared/data/online_retail.parquet
    .venv/bin/python benchmarks/multihost_training.py --data F \
        --target asof --eval-cutoff 2011-09-01

Every host gets ``cores / hosts`` threads (``OMP_NUM_THREADS``), as separate instances would
not share cores; on a 2-core machine two hosts are no faster than one; the point measured here
is that the model is as good.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from retailsage.data.buckets import bucket_count, split_by_customer
from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.data.synthetic import generate_transactions
from retailsage.train.local_cluster import SHARDED, build_cluster, run_cluster

HYPERPARAMETERS = {
    "xgboost": {"model_type": "xgboost", "target": "order_gap"},
    "lstm": {"model_type": "lstm", "target": "order_gap", "device": "cpu", "epochs": "8"},
}


def write_buckets(lines_source: Path | None, rows: int, folder: Path) -> list[Path]:
    """Write the customer-bucket objects of 2 hosts; return their paths."""
    raw = load_transactions(lines_source) if lines_source else generate_transactions(rows, seed=7)
    lines = clean_transactions(raw)
    files = []
    for index, part in enumerate(split_by_customer(lines, bucket_count(2))):
        path = folder / f"part-{index:05d}.parquet"
        part.to_parquet(path, index=False)
        files.append(path)
    print(f"data: {len(lines):,} clean lines in {len(files)} customer-bucket objects")
    return files


def train(
    root: Path, files: list[Path], model: str, hosts: int, extra: dict[str, str]
) -> tuple[float, float]:
    """Run one job (``extra`` hyperparameters on top of the model's); return (wall s, MAE)."""
    cluster = build_cluster(
        root,
        {"train": files},
        {**HYPERPARAMETERS[model], **extra},
        instance_count=hosts,
        distribution={"train": SHARDED},
    )
    started = time.perf_counter()
    codes = run_cluster(cluster, on_line=lambda line: None)
    seconds = time.perf_counter() - started
    if any(codes):
        failure = (root / "output" / "failure").read_text()[:500]
        raise SystemExit(f"{model} on {hosts} host(s) failed {codes}: {failure}")
    metrics = json.loads((root / "output" / "data" / "metrics.json").read_text())
    return seconds, float(metrics["validation:mae"])


def main() -> None:
    """Run the comparison and print one line per job plus the deltas."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="generated transaction lines")
    parser.add_argument("--data", type=Path, help="a transactions file instead of generated data")
    parser.add_argument("--model", nargs="+", choices=sorted(HYPERPARAMETERS), default=["xgboost"])
    parser.add_argument("--target", choices=["order_gap", "asof"], default="order_gap")
    parser.add_argument("--eval-cutoff", help="eval_cutoff hyperparameter (YYYY-MM-DD)")
    args = parser.parse_args()
    extra = {"target": args.target}
    if args.eval_cutoff:
        extra["eval_cutoff"] = args.eval_cutoff
    with tempfile.TemporaryDirectory(prefix="multihost-bench-") as scratch:
        folder = Path(scratch)
        files = write_buckets(args.data, args.rows, folder)
        for model in args.model:
            one_s, one_mae = train(folder / f"{model}-1", files, model, 1, extra)
            two_s, two_mae = train(folder / f"{model}-2", files, model, 2, extra)
            print(f"target={args.target}")
            print(f"{model:<8} 1 host : wall {one_s:7.1f} s  holdout MAE {one_mae:7.3f} (baseline)")
            print(f"{model:<8} 2 hosts: wall {two_s:7.1f} s  holdout MAE {two_mae:7.3f}")
            delta = (two_mae - one_mae) / one_mae
            print(f"{model:<8} MAE delta 2 vs 1 host: {two_mae - one_mae:+.3f} ({delta:+.1%})")


if __name__ == "__main__":
    main()
