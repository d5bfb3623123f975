"""As-of XGBoost variants (round 3): snapshot weekday, spacing/count, recency weighting, loss.

Usage:
    .venv/bin/python benchmarks/asof_variants.py [--data PATH | --synthetic]
        [--cutoff 2011-09-01 ...] [--horizon 60] [--variants NAME ...] [--threads 2]

Every variant trains the default ``XGBoostGap`` (``retailsage evaluate --protocol asof``: no
validation set, the default rounds) on as-of snapshots of the lines before ``D`` and scores the
customers with history before ``D`` as of ``D`` (truth: days to the first purchase on/after
``D``, capped at ``H``), with the best same-run baseline. Variants change one thing:

* ``default``: snapshots every 7 days back from ``D - H`` (30 dates).
* ``weekday``: the newest snapshot moved back to ``D``'s weekday (``D - 7 * ceil(H / 7)``),
  so every snapshot falls on the scoring weekday.
* ``weekday_count45`` / ``count45``: 45 dates instead of 30.
* ``every3_dow``: every 3 days over the same span (70 dates: all weekdays) plus the as-of
  weekday as a feature (``asof_weekday``; the scoring rows carry ``D``'s).
* ``halflife30`` / ``halflife120`` / ``halflife0``: ``recency_halflife_days``.
* ``huber`` / ``squared``: ``reg:pseudohubererror`` (``huber_slope`` 5; xgboost 3.1 warns that it
  ignores that key, so the slope is its default 1) / ``reg:squarederror``.
* ``rounds300`` / ``rounds600``: ``num_round`` (default 150).
* ``depth4`` / ``depth8``: ``max_depth``.

``--seed-bag N`` instead fits the defaults with seeds ``0..N-1`` and prints each MAE and that of
their averaged predictions (mean and median): a variance-reduction check.

``--inner-search N`` instead chooses hyperparameters by an inner temporal validation (no look at
the test window): the defaults and ``N`` random configurations (depth, leaf floor, eta, rounds,
subsample, colsample, recency half-life; seed 0) are scored as of ``D - H`` after training on
snapshots up to ``D - 2H``; the best one is refitted on the snapshots up to ``D - H`` and scored
as of ``D`` beside the defaults.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import numpy as np
import pandas as pd
from asof_cli import asof_parser, load_raw

from retailsage.data.cleaning import clean_transactions
from retailsage.evaluation.metrics import asof_baselines
from retailsage.features.asof import asof_rows_from_orders, snapshot_dates
from retailsage.features.gap import AS_OF_DATE, ORDER_DATE, TARGET, build_orders, order_features
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig

WEEKDAY = "asof_weekday"
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "weekday": {"align": True},
    "count45": {"count": 45},
    "weekday_count45": {"align": True, "count": 45},
    "every3_dow": {"every": 3, "count": 70, "weekday_feature": True},
    "halflife30": {"config": {"recency_halflife_days": 30.0}},
    "halflife120": {"config": {"recency_halflife_days": 120.0}},
    "halflife0": {"config": {"recency_halflife_days": 0.0}},
    "huber": {"config": {"objective": "reg:pseudohubererror", "huber_slope": 5.0}},
    "squared": {"config": {"objective": "reg:squarederror"}},
    "rounds300": {"config": {"num_round": 300}},
    "rounds600": {"config": {"num_round": 600}},
    "depth4": {"config": {"max_depth": 4}},
    "depth8": {"config": {"max_depth": 8}},
}


def evaluate(
    orders: pd.DataFrame, cutoff: str, horizon: int, variant: dict[str, Any], threads: int
) -> dict[str, Any]:
    """Fit one variant and score it as of ``cutoff``; return the figures."""
    day = pd.Timestamp(cutoff)
    history = orders.loc[(orders[ORDER_DATE] < day).to_numpy()].reset_index(drop=True)
    newest = day - pd.Timedelta(days=horizon)
    if variant.get("align"):
        newest = day - pd.Timedelta(days=7 * math.ceil(horizon / 7))
    dates = snapshot_dates(
        history[ORDER_DATE].min(), newest, variant.get("every", 7), variant.get("count", 30)
    )
    train = asof_rows_from_orders(history, dates, horizon)
    test = asof_rows_from_orders(orders, [day], horizon)
    if variant.get("weekday_feature"):
        train[WEEKDAY] = pd.to_datetime(train[AS_OF_DATE]).dt.day_of_week.astype(np.float64)
        test[WEEKDAY] = float(day.day_of_week)
    config = XGBoostGapConfig(nthread=threads, **variant.get("config", {}))
    started = time.perf_counter()
    model = XGBoostGap(config).fit(train)
    seconds = time.perf_counter() - started
    predicted = np.minimum(model.predict(test)["predicted_gap_days"].to_numpy(np.float64), horizon)
    truth = test[TARGET].to_numpy(np.float64)
    gaps = order_features(history)[TARGET].to_numpy(dtype=np.float64, na_value=np.nan)
    baselines = asof_baselines(train, test, gaps[~np.isnan(gaps)], horizon)
    best = min(baselines, key=lambda name: baselines[name]["mae"])
    return {
        "mae": float(np.mean(np.abs(predicted - truth))),
        "best": best,
        "best_mae": baselines[best]["mae"],
        "customers": len(test),
        "rows": len(train),
        "weekdays": sorted({d.day_name()[:3] for d in dates}),
        "seconds": seconds,
        "predicted": predicted,
        "truth": truth,
    }


SEARCH_SPACE: dict[str, list[Any]] = {
    "max_depth": [3, 4, 6, 8],
    "asof_min_child_fraction": [0.001, 0.003, 0.01, 0.03],
    "eta": [0.03, 0.05, 0.1],
    "num_round": [100, 150, 300],
    "subsample": [0.6, 0.8, 1.0],
    "colsample_bytree": [0.3, 0.5, 0.8, 1.0],
    "recency_halflife_days": [30.0, 60.0, 90.0],
}


def inner_search(orders: pd.DataFrame, cutoff: str, horizon: int, count: int, threads: int) -> str:
    """Choose a config as of ``D - H`` (inner validation), then score it and the defaults at D."""
    inner = str((pd.Timestamp(cutoff) - pd.Timedelta(days=horizon)).date())
    rng = random.Random(0)
    candidates: list[dict[str, Any]] = [{}]
    candidates += [{k: rng.choice(v) for k, v in SEARCH_SPACE.items()} for _ in range(count)]
    scored = [
        (evaluate(orders, inner, horizon, {"config": c}, threads)["mae"], i)
        for i, c in enumerate(candidates)
    ]
    best_inner, best = min(scored)
    chosen = candidates[best]
    at_d = evaluate(orders, cutoff, horizon, {"config": chosen}, threads)["mae"]
    default = evaluate(orders, cutoff, horizon, {}, threads)["mae"]
    return (
        f"D={cutoff} H={horizon} inner search ({count} + defaults, scored as of {inner}): chosen "
        f"{chosen or 'defaults'} inner MAE {best_inner:.3f} (defaults {scored[0][0]:.3f}) | "
        f"as of D: chosen {at_d:.3f}, defaults {default:.3f}"
    )


def seed_bag(orders: pd.DataFrame, cutoff: str, horizon: int, count: int, threads: int) -> str:
    """Fit the defaults with seeds ``0..count-1``; report each MAE and the averaged bag's."""
    runs = [
        evaluate(orders, cutoff, horizon, {"config": {"seed": seed}}, threads)
        for seed in range(count)
    ]
    truth = runs[0]["truth"]
    stacked = np.vstack([r["predicted"] for r in runs])
    each = [r["mae"] for r in runs]
    mean_bag = float(np.mean(np.abs(stacked.mean(axis=0) - truth)))
    median_bag = float(np.mean(np.abs(np.median(stacked, axis=0) - truth)))
    return (
        f"D={cutoff} H={horizon} seeds 0-{count - 1}: MAE "
        f"{' / '.join(f'{m:.3f}' for m in each)} (mean {np.mean(each):.3f}) | bag of {count}: "
        f"mean of predictions {mean_bag:.3f}, median {median_bag:.3f}"
    )


def main() -> None:
    """Parse the arguments and print one line per (data, cutoff, variant)."""
    parser = asof_parser(__doc__)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--inner-search", type=int, default=0, metavar="N")
    parser.add_argument("--seed-bag", type=int, default=0, metavar="N")
    args = parser.parse_args()
    name, raw = load_raw(args)
    orders = build_orders(clean_transactions(raw))
    if args.seed_bag:
        for cutoff in args.cutoff:
            print(f"{name} " + seed_bag(orders, cutoff, args.horizon, args.seed_bag, args.threads))
        return
    if args.inner_search:
        for cutoff in args.cutoff:
            print(f"{name} " + inner_search(orders, cutoff, args.horizon, args.inner_search, 2))
        return
    for cutoff in args.cutoff:
        for variant in args.variants:
            r = evaluate(orders, cutoff, args.horizon, VARIANTS[variant], args.threads)
            margin = 100 * (1 - r["mae"] / r["best_mae"])
            print(
                f"{name} D={cutoff} H={args.horizon} {variant}: MAE {r['mae']:.3f} | best baseline "
                f"{r['best']} {r['best_mae']:.2f} ({margin:+.1f} %) | {r['customers']} customers, "
                f"{r['rows']} rows, snapshot weekdays {','.join(r['weekdays'])} | "
                f"fit {r['seconds']:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
