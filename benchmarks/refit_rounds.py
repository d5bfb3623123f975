"""Refit on all the data vs the holdout model, and how many rounds/epochs the refit should get.

Usage:
    .venv/bin/python benchmarks/refit_rounds.py [--data PATH] [--cutoff 2011-09-01 ...]
        [--horizon 60] [--models xgboost lstm] [--synthetic] [--threads 2]
        [--scales 0.75 1 1.25 1.5]

Simulates what a training job with ``refit_full`` deploys, scored where it is used: the job
sees only the lines before ``D`` (its "today"). Its holdout (cutoff ``D - H``, training
snapshots up to ``D - 2H``) early-stops the family at ``n`` rounds/epochs; the refit is fitted
on the snapshots of every line before ``D`` (newest at ``D - H``) for ``round(n * s)``
iterations. Each model is scored as of ``D`` against the truth after ``D`` (the same rows and
truth as ``retailsage evaluate --protocol asof``). One line per model: the holdout model's MAE
and each scale's refit MAE, with the row counts of both training sets.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retailsage.data.cleaning import clean_transactions
from retailsage.evaluation.runner import load_source
from retailsage.features.protocols import refit_asof_rows, split_asof
from retailsage.models.registry import get_family

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"
THREADS = {"xgboost": "nthread", "lstm": "num_threads"}


def _mae(model: Any, test: pd.DataFrame, horizon: int) -> float:
    """MAE of the capped prediction as of ``D``."""
    predicted = model.predict(test)["predicted_gap_days"].to_numpy(dtype=np.float64)
    truth = test["gap_days"].to_numpy(dtype=np.float64)
    return float(np.mean(np.abs(np.minimum(predicted, horizon) - truth)))


def run(
    lines: pd.DataFrame,
    cutoff: str,
    horizon: int,
    model_type: str,
    threads: int,
    scales: list[float],
) -> str:
    """One data set, cutoff and family: the figure line."""
    day = pd.Timestamp(cutoff)
    known = lines.loc[pd.to_datetime(lines["InvoiceDate"]) < day]  # the job's data
    inner = split_asof(known, day - pd.Timedelta(days=horizon), horizon)
    test = split_asof(lines, day, horizon).test
    family: Any = get_family(model_type)
    config = family.config_cls(**{THREADS[model_type]: threads})
    started = time.perf_counter()
    holdout = family(config).fit(inner.train, inner.test)
    refit_config = holdout.refit_config()
    rounds = refit_config.num_round if model_type == "xgboost" else refit_config.epochs
    full = refit_asof_rows(known, horizon)
    figures = [f"holdout model {_mae(holdout, test, horizon):.3f} (n={rounds})"]
    for scale in scales:
        count = max(1, round(rounds * scale))
        key = "num_round" if model_type == "xgboost" else "epochs"
        model = family(dataclasses.replace(refit_config, **{key: count})).fit(full)
        figures.append(f"refit x{scale:g} ({count}) {_mae(model, test, horizon):.3f}")
    seconds = time.perf_counter() - started
    return (
        f"D={cutoff} H={horizon} {model_type}: "
        + " | ".join(figures)
        + f" | rows holdout {len(inner.train)} refit {len(full)} | {seconds:.0f} s"
    )


def main() -> None:
    """Parse the arguments and print one figure line per (data, cutoff, model)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cutoff", nargs="+", default=["2011-09-01"])
    parser.add_argument("--horizon", type=int, default=60)
    parser.add_argument("--models", nargs="+", default=["xgboost"])
    parser.add_argument("--synthetic", action="store_true", help="the generated data instead")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scales", nargs="+", type=float, default=[0.75, 1.0, 1.25, 1.5])
    args = parser.parse_args()
    name = "synthetic" if args.synthetic else args.data.name
    raw = load_source(None if args.synthetic else args.data)
    lines = clean_transactions(raw)
    for cutoff in args.cutoff:
        for model in args.models:
            line = run(lines, cutoff, args.horizon, model, args.threads, args.scales)
            print(f"{name} {line}", flush=True)


if __name__ == "__main__":
    main()
