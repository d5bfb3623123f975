"""Time the feature code on the real Online Retail file, against a plain-pandas baseline.

Usage:
    .venv/bin/python benchmarks/features_speed.py [--data ../shared/data/online_retail.parquet]
        [--repeat 5]

Prints the best-of-N wall time of each step. The baseline is the idiomatic pandas way to build
the same gap features (groupby-agg for orders, groupby-shift for lags, groupby-rolling for the
windows, groupby-cumsum); the script checks that both give the same values before timing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retailsage.data.cleaning import clean_transactions, prepare_anomaly_lines
from retailsage.data.loader import load_transactions
from retailsage.features.anomaly import AnomalyFeaturizer
from retailsage.features.gap import (
    LAG_COLUMNS,
    N_LAGS,
    TARGET,
    build_orders,
    gap_training_rows,
    snapshot_rows,
)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time in seconds over ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def pandas_baseline(clean: pd.DataFrame) -> pd.DataFrame:
    """The same gap features written with ordinary pandas groupby operations."""
    lines = clean.assign(
        order_date=clean["InvoiceDate"].dt.normalize(),
        amount=clean["Quantity"] * clean["UnitPrice"],
    )
    orders = (
        lines.groupby(["CustomerID", "order_date"], sort=True)
        .agg(
            order_value=("amount", "sum"),
            order_items=("Quantity", "sum"),
            order_lines=("amount", "size"),
            Country=("Country", "first"),
        )
        .reset_index()
    )
    by_customer = orders.groupby("CustomerID", sort=False)
    days = (orders["order_date"] - pd.Timestamp(0)).dt.days.astype(float)
    gap = days - by_customer["order_date"].shift(1).sub(pd.Timestamp(0)).dt.days
    orders["gap"] = gap
    by_customer = orders.groupby("CustomerID", sort=False)
    for k in range(1, N_LAGS + 1):
        orders[f"gap_lag_{k}"] = by_customer["gap"].shift(k - 1)
    for window in (3, 5):
        rolling = by_customer["gap"].rolling(window, min_periods=1)
        orders[f"gap_roll{window}_mean"] = rolling.mean().reset_index(level=0, drop=True)
        orders[f"gap_roll{window}_std"] = rolling.std().reset_index(level=0, drop=True)
    orders["cumulative_spend"] = by_customer["order_value"].cumsum()
    orders["cumulative_items"] = by_customer["order_items"].cumsum()
    next_day = by_customer["order_date"].shift(-1)
    orders[TARGET] = (next_day - orders["order_date"]).dt.days
    return orders


def check_same(ours: pd.DataFrame, baseline: pd.DataFrame) -> None:
    """Stop with an error unless the shared columns agree."""
    for name in (*LAG_COLUMNS, "gap_roll3_mean", "gap_roll5_std", "cumulative_spend", TARGET):
        np.testing.assert_allclose(
            ours[name].to_numpy(dtype=float),
            baseline[name].to_numpy(dtype=float),
            rtol=1e-9,
            err_msg=name,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"real data not found at {args.data}; pass --data", file=sys.stderr)
        return 2
    repeat = args.repeat
    timings: list[tuple[str, float, str]] = []
    load_s, raw = best_of(repeat, lambda: load_transactions(args.data))
    timings.append(("load_transactions", load_s, f"{len(raw):,} lines"))
    clean_s, clean = best_of(repeat, lambda: clean_transactions(raw))
    timings.append(("clean_transactions", clean_s, f"{len(clean):,} clean lines"))
    orders_s, orders = best_of(repeat, lambda: build_orders(clean))
    timings.append(("build_orders", orders_s, f"{len(orders):,} orders"))
    rows_s, rows = best_of(repeat, lambda: gap_training_rows(clean))
    timings.append(("gap_training_rows", rows_s, f"{len(rows):,} rows"))
    snap_s, snap = best_of(repeat, lambda: snapshot_rows(clean, "2011-09-30"))
    timings.append(("snapshot_rows(as_of=2011-09-30)", snap_s, f"{len(snap):,} customers"))
    base_s, base = best_of(repeat, lambda: pandas_baseline(clean))
    check_same(rows, base)
    timings.append(("BASELINE pandas groupby gap rows", base_s, "same values (checked)"))
    lines = prepare_anomaly_lines(raw)
    fit_s, featurizer = best_of(repeat, lambda: AnomalyFeaturizer().fit(lines))
    timings.append(("AnomalyFeaturizer.fit", fit_s, f"{len(lines):,} lines"))
    transform_s, _ = best_of(repeat, lambda: featurizer.transform(lines))
    timings.append(("AnomalyFeaturizer.transform", transform_s, f"{len(lines):,} lines"))
    for size in (1, 1000):
        batch = lines.iloc[:size]
        small_s, _ = best_of(repeat * 4, lambda batch=batch: featurizer.transform(batch))
        timings.append((f"AnomalyFeaturizer.transform({size} lines)", small_s, "per call"))
    for name, seconds, note in timings:
        print(f"{name:<42} {seconds * 1000:9.1f} ms   {note}")
    total = load_s + clean_s + rows_s
    print(f"{'load + clean + gap_training_rows':<42} {total * 1000:9.1f} ms")
    print(f"gap_training_rows speed-up over baseline: {base_s / rows_s:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
