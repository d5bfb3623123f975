"""As-of round 5: basket-composition features and an XGBoost + LSTM blend (benchmark only).

Usage (each prints one line per variant and a Markdown table at the end):
    .venv/bin/python benchmarks/asof_features_round4.py --cutoff 2011-09-01 2011-07-01
    .venv/bin/python benchmarks/asof_features_round4.py --synthetic --cutoff 2011-09-01

Both families are fitted exactly as ``retailsage evaluate --model-type {xgboost,lstm} --cutoff D
--horizon 60 --set num_threads=2`` fits them (``features.protocols.split_asof`` on the clean
lines, the family's default config, no validation set, predictions capped at ``H``), and each
variant is scored as of ``D`` against the truth after ``D``:

* ``xgboost`` / ``lstm``: the defaults (the same-run reference).
* ``xgb_basket``: ``xgboost`` with the basket features below added to every snapshot row.
* ``xgb_basket_core``: only the composition/size/price/returns groups (no hour, weekday or
  seasonal columns).
* ``blend50``: the mean of the ``xgboost`` and ``lstm`` predictions.
* ``blend_inner``: ``w * xgboost + (1 - w) * lstm`` with ``w`` in 0, 0.1, ..., 1 chosen on an
  inner temporal validation: both families fitted on the split at ``D - H`` (snapshots up to
  ``D - 2H``) and scored as of ``D - H``; the test window is never looked at.
* ``basket_blend50`` / ``basket_blend_inner``: the same with ``xgb_basket`` in place of
  ``xgboost``.
* ``blend_oracle`` / ``basket_blend_oracle``: the weight chosen on the test window itself, an
  upper bound printed for scale, NOT an honest method.

``--seeds N`` instead fits the base models with seeds ``0..N-1`` (both families' ``seed``) on the
split at ``D`` and prints each variant's mean MAE (the per-seed figures beside it), so a
difference can be read against the seed noise:
    .venv/bin/python benchmarks/asof_features_round4.py --seeds 3 --cutoff 2011-09-01 2011-07-01

Basket features of a customer as of a snapshot day ``S`` use only lines dated strictly before
``S`` (the clean purchase lines; cancellations from the raw lines, which ``clean_transactions``
drops): distinct StockCodes, share of lines in the customer's most-bought StockCode, mean
quantity per line and per invoice, mean unit price, lines per invoice, share of cancelled lines
(``InvoiceNo`` starting with ``C``), ``Country == United Kingdom``, mean and std of the invoices'
hour of day, distinct weekdays ordered on, share of seasonal lines (Description matching
CHRISTMAS|XMAS|ADVENT) over all history, and share of invoices in ``[S - 90, S)`` holding a
seasonal line (NaN when none).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from asof_cli import asof_parser, load_raw

from retailsage.core.hyperparameters import parse_hyperparameters
from retailsage.data.cleaning import clean_transactions
from retailsage.data.schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_NO,
    QUANTITY,
    STOCK_CODE,
    UNIT_PRICE,
)
from retailsage.evaluation.metrics import asof_baselines
from retailsage.features.gap import AS_OF_DATE
from retailsage.features.protocols import Split, split_asof
from retailsage.models.registry import get_family

SEASONAL = "CHRISTMAS|XMAS|ADVENT"
TIME_COLUMNS = ("hour_mean", "hour_std", "distinct_weekdays")
SEASONAL_COLUMNS = ("seasonal_line_share", "seasonal_invoice_share_90d")
WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)


@dataclass
class Lines:
    """Line- and invoice-level arrays of the customers' purchases, for fast per-date masks."""

    customers: pd.Index
    line_customer: np.ndarray
    line_day: np.ndarray
    line_quantity: np.ndarray
    line_price: np.ndarray
    line_seasonal: np.ndarray
    pair_code: np.ndarray
    pair_customer: np.ndarray
    invoice_customer: np.ndarray
    invoice_day: np.ndarray
    invoice_hour: np.ndarray
    invoice_weekday: np.ndarray
    invoice_seasonal: np.ndarray
    cancel_customer: np.ndarray
    cancel_day: np.ndarray
    is_uk: np.ndarray


def _day(values: pd.Series) -> np.ndarray:
    """Day numbers (days since the epoch) of a datetime series."""
    return values.to_numpy().astype("datetime64[D]").astype(np.int64)


def prepare_lines(raw: pd.DataFrame, clean: pd.DataFrame) -> Lines:
    """Index the clean purchase lines and the raw cancellations by customer code."""
    clean = clean.loc[clean[CUSTOMER_ID].notna().to_numpy()].reset_index(drop=True)
    codes, customers = pd.factorize(clean[CUSTOMER_ID].astype("string"), sort=True)
    seasonal = clean[DESCRIPTION].fillna("").str.contains(SEASONAL, regex=True).to_numpy(bool)
    pair_code, pair_keys = pd.factorize(
        codes.astype(np.int64) * 1_000_000 + pd.factorize(clean[STOCK_CODE])[0], sort=True
    )
    invoice_code, _ = pd.factorize(clean[INVOICE_NO])
    first = pd.Series(np.arange(len(clean))).groupby(invoice_code).first().to_numpy()
    invoice_seasonal = np.bincount(invoice_code, weights=seasonal, minlength=len(first)) > 0
    stamps = clean[INVOICE_DATE].iloc[first]
    cancelled = raw[INVOICE_NO].astype("string").str.startswith("C").fillna(False).to_numpy(bool)
    cancels = raw.loc[cancelled & raw[CUSTOMER_ID].notna().to_numpy(bool)]
    cancel_customer = customers.get_indexer(pd.Index(cancels[CUSTOMER_ID].astype("string")))
    known = cancel_customer >= 0
    uk = np.zeros(len(customers), dtype=np.float64)
    uk[codes] = (clean[COUNTRY] == "United Kingdom").to_numpy(bool)
    return Lines(
        customers=customers,
        line_customer=codes.astype(np.int64),
        line_day=_day(clean[INVOICE_DATE]),
        line_quantity=clean[QUANTITY].to_numpy(np.float64),
        line_price=clean[UNIT_PRICE].to_numpy(np.float64),
        line_seasonal=seasonal.astype(np.float64),
        pair_code=pair_code.astype(np.int64),
        pair_customer=np.asarray(pair_keys, dtype=np.int64) // 1_000_000,
        invoice_customer=codes[first].astype(np.int64),
        invoice_day=_day(stamps),
        invoice_hour=stamps.dt.hour.to_numpy(np.float64),
        invoice_weekday=stamps.dt.day_of_week.to_numpy(np.int64),
        invoice_seasonal=invoice_seasonal.astype(np.float64),
        cancel_customer=cancel_customer[known].astype(np.int64),
        cancel_day=_day(cancels[INVOICE_DATE])[known],
        is_uk=uk,
    )


def basket_features(lines: Lines, as_of: pd.Timestamp) -> pd.DataFrame:
    """Basket features of every customer from the lines strictly before ``as_of``."""
    day = np.int64(as_of.to_datetime64().astype("datetime64[D]").astype(np.int64))
    n = len(lines.customers)
    keep = lines.line_day < day
    cust = lines.line_customer[keep]
    n_lines = np.bincount(cust, minlength=n).astype(np.float64)
    pair_counts = np.bincount(lines.pair_code[keep], minlength=len(lines.pair_customer))
    used = pair_counts > 0
    distinct = np.bincount(lines.pair_customer[used], minlength=n).astype(np.float64)
    top = np.zeros(n)
    np.maximum.at(top, lines.pair_customer[used], pair_counts[used].astype(np.float64))
    quantity = np.bincount(cust, weights=lines.line_quantity[keep], minlength=n)
    price = np.bincount(cust, weights=lines.line_price[keep], minlength=n)
    seasonal = np.bincount(cust, weights=lines.line_seasonal[keep], minlength=n)
    inv = lines.invoice_day < day
    inv_cust = lines.invoice_customer[inv]
    n_invoices = np.bincount(inv_cust, minlength=n).astype(np.float64)
    hours = lines.invoice_hour[inv]
    hour_sum = np.bincount(inv_cust, weights=hours, minlength=n)
    hour_sq = np.bincount(inv_cust, weights=hours * hours, minlength=n)
    weekday_seen = np.zeros((n, 7), dtype=bool)
    weekday_seen[inv_cust, lines.invoice_weekday[inv]] = True
    recent = inv & (lines.invoice_day >= day - 90)
    recent_count = np.bincount(lines.invoice_customer[recent], minlength=n).astype(np.float64)
    recent_seasonal = np.bincount(
        lines.invoice_customer[recent], weights=lines.invoice_seasonal[recent], minlength=n
    )
    cancels = np.bincount(lines.cancel_customer[lines.cancel_day < day], minlength=n).astype(
        np.float64
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        hour_mean = hour_sum / n_invoices
        frame = pd.DataFrame(
            {
                CUSTOMER_ID: lines.customers.astype("string").array,
                "distinct_products": distinct,
                "top_product_share": top / n_lines,
                "items_per_line": quantity / n_lines,
                "items_per_invoice": quantity / n_invoices,
                "lines_per_invoice": n_lines / n_invoices,
                "mean_unit_price": price / n_lines,
                "cancel_line_share": cancels / (cancels + n_lines),
                "is_uk": lines.is_uk,
                "hour_mean": hour_mean,
                "hour_std": np.sqrt(np.maximum(hour_sq / n_invoices - hour_mean**2, 0.0)),
                "distinct_weekdays": weekday_seen.sum(axis=1).astype(np.float64),
                "seasonal_line_share": seasonal / n_lines,
                "seasonal_invoice_share_90d": recent_seasonal / recent_count,
            }
        )
    return frame.loc[n_lines > 0].reset_index(drop=True)


def with_basket(rows: pd.DataFrame, lines: Lines, drop: tuple[str, ...]) -> pd.DataFrame:
    """Left-join each snapshot row with its customer's basket features as of its date."""
    parts = []
    for as_of, group in rows.groupby(AS_OF_DATE, sort=False):
        features = basket_features(lines, pd.Timestamp(str(as_of))).drop(columns=list(drop))
        merged = group.reset_index().merge(features, on=CUSTOMER_ID, how="left")
        parts.append(merged.set_index("index"))
    return pd.concat(parts).loc[rows.index]


def fit_predict(
    model_type: str, train: pd.DataFrame, test: pd.DataFrame, horizon: int, seed: int = 0
) -> Any:
    """Fit a family's defaults (``num_threads=2`` as in the docs' command) and predict ``test``."""
    family: Any = get_family(model_type)  # the runner's cast: families take their config
    settings = {"num_threads": "2"} if model_type == "lstm" else {"nthread": "2"}
    settings["seed"] = str(seed)
    config = parse_hyperparameters(family.config_cls, settings)
    started = time.perf_counter()
    model = family(config).fit(train)
    seconds = time.perf_counter() - started
    predicted = model.predict(test)["predicted_gap_days"].to_numpy(np.float64)
    return np.minimum(predicted, float(horizon)), seconds


def predictions(
    split: Split, lines: Lines, horizon: int, log: str, seed: int = 0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Predictions of the base models on ``split.test`` and its truth."""
    out: dict[str, np.ndarray] = {}
    runs: list[tuple[str, str, tuple[str, ...] | None]] = [
        ("xgboost", "xgboost", None),
        ("lstm", "lstm", None),
        ("xgb_basket", "xgboost", ()),
        ("xgb_basket_core", "xgboost", TIME_COLUMNS + SEASONAL_COLUMNS),
    ]
    for name, family, drop in runs:
        train, test = split.train, split.test
        if drop is not None:
            train, test = with_basket(train, lines, drop), with_basket(test, lines, drop)
        out[name], seconds = fit_predict(family, train, test, horizon, seed)
        print(f"  {log} {name}: fitted in {seconds:.1f} s", flush=True)
    return out, split.test[split.target].to_numpy(np.float64)


def mae(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(predicted - truth)))


def best_weight(base: dict[str, np.ndarray], truth: np.ndarray, xgb: str) -> float:
    """The blend weight of ``xgb`` (vs ``lstm``) with the lowest MAE on these rows."""
    scores = [mae(w * base[xgb] + (1 - w) * base["lstm"], truth) for w in WEIGHTS]
    return float(WEIGHTS[int(np.argmin(scores))])


def run_cutoff(
    clean: pd.DataFrame, lines: Lines, cutoff: str, horizon: int
) -> dict[str, tuple[float, str]]:
    """Every variant's MAE as of ``cutoff`` (with a note), plus the best same-run baseline."""
    inner_day = str((pd.Timestamp(cutoff) - pd.Timedelta(days=horizon)).date())
    inner_split = split_asof(clean, inner_day, horizon)
    inner, inner_truth = predictions(inner_split, lines, horizon, f"inner {inner_day}")
    split = split_asof(clean, cutoff, horizon)
    base, truth = predictions(split, lines, horizon, f"D={cutoff}")
    results = {
        name: (mae(p, truth), f"inner {mae(inner[name], inner_truth):.3f}")
        for name, p in base.items()
    }
    for prefix, xgb in (("", "xgboost"), ("basket_", "xgb_basket")):
        results[f"{prefix}blend50"] = (mae((base[xgb] + base["lstm"]) / 2, truth), "w 0.5")
        w = best_weight(inner, inner_truth, xgb)
        blended = w * base[xgb] + (1 - w) * base["lstm"]
        results[f"{prefix}blend_inner"] = (mae(blended, truth), f"w {w:.1f} (inner)")
        oracle = best_weight(base, truth, xgb)
        results[f"{prefix}blend_oracle"] = (
            mae(oracle * base[xgb] + (1 - oracle) * base["lstm"], truth),
            f"w {oracle:.1f} chosen ON THE TEST WINDOW (upper bound, not a method)",
        )
    assert split.gaps is not None
    baselines = asof_baselines(split.train, split.test, split.gaps, horizon)
    best = min(baselines, key=lambda name: baselines[name]["mae"])
    results["best baseline"] = (baselines[best]["mae"], best)
    return results


def run_seeds(
    clean: pd.DataFrame, lines: Lines, cutoff: str, horizon: int, seeds: int
) -> dict[str, tuple[float, str]]:
    """Paired seed check: each base model and the 50/50 blends with seeds ``0..seeds-1``."""
    split = split_asof(clean, cutoff, horizon)
    scores: dict[str, list[float]] = {}
    for seed in range(seeds):
        base, truth = predictions(split, lines, horizon, f"D={cutoff} seed {seed}", seed)
        base["blend50"] = (base["xgboost"] + base["lstm"]) / 2
        base["basket_blend50"] = (base["xgb_basket"] + base["lstm"]) / 2
        for name, predicted in base.items():
            scores.setdefault(name, []).append(mae(predicted, truth))
    return {
        name: (float(np.mean(values)), " / ".join(f"{v:.3f}" for v in values))
        for name, values in scores.items()
    }


def main() -> None:
    """Parse the arguments, run every cutoff and print the figures."""
    parser = asof_parser(__doc__)
    parser.add_argument(
        "--seeds", type=int, default=0, metavar="N", help="paired seed check (mean of N seeds)"
    )
    args = parser.parse_args()
    name, raw = load_raw(args)
    clean = clean_transactions(raw)
    lines = prepare_lines(raw, clean)
    table: dict[str, dict[str, tuple[float, str]]] = {}
    for cutoff in args.cutoff:
        table[cutoff] = (
            run_seeds(clean, lines, cutoff, args.horizon, args.seeds)
            if args.seeds
            else run_cutoff(clean, lines, cutoff, args.horizon)
        )
        for variant, (value, note) in table[cutoff].items():
            print(f"{name} D={cutoff} H={args.horizon} {variant}: MAE {value:.3f} | {note}")
    print(f"\n| variant | {' | '.join(f'{name} {c}' for c in args.cutoff)} |")
    print(f"|---|{'---:|' * len(args.cutoff)}")
    for variant in table[args.cutoff[0]]:
        cells = " | ".join(f"{table[c][variant][0]:.3f}" for c in args.cutoff)
        print(f"| {variant} | {cells} |")


if __name__ == "__main__":
    main()
