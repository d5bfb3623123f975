"""As-of round 6: how low can the as-of MAE go with this information? (benchmark only)

Usage:
    .venv/bin/python benchmarks/asof_ceiling.py --cutoff 2011-09-01 2011-07-01
    .venv/bin/python benchmarks/asof_ceiling.py --synthetic --cutoff 2011-09-01

Two checks of the issue-12 target (xgboost as-of MAE <= 11.9 on the real file at
D = 2011-09-01, H = 60), both next to the defaults fitted as ``retailsage evaluate
--model-type xgboost --cutoff D --horizon 60 --set nthread=2`` fits them
(``features.protocols.split_asof``, default config, no validation set, predictions capped at H):

1. **Same-season ceiling (diagnostic, not a method).** The customers scored as of D are split
   into 5 folds (seed 0); each fold is predicted by a model that also saw the *test window's own
   labels* of the other 4 folds: ``test_only`` (those rows alone), ``train+test`` (the usual
   training snapshots plus those rows) and ``train+test x5`` (the test rows repeated 5 times).
   Depths 3, 4 and 6. If the error came from the shift into the autumn (no training label window
   covers September-October), these models, which see that season's labels, would do markedly
   better than the honest defaults.
2. **Product reorder-cycle features** (an information source no earlier round used), each from
   the distinct (customer, StockCode, day) purchases strictly before the snapshot day S: for the
   customer's products bought on >= 2 days, the mean interval between purchases ("cycle") and the
   expected next purchase of that product (last + cycle - S, "due"); per customer the share and
   count of such repeat products, the min and median due, the count and share due in
   [-H/2, H), the median own cycle (``cycles_own``); the median over the last order day's
   products of the product's population cycle (median over customers with >= 2 days, products
   with >= 3 such customers) and days since the last order over it (``cycles_pop``);
   ``cycles_all`` = both groups.

It also splits the defaults' absolute error between customers who buy within H and those who do
not, to show where the error sits.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from asof_cli import asof_parser, load_raw

from retailsage.data.cleaning import clean_transactions
from retailsage.data.schema import CUSTOMER_ID, INVOICE_DATE, STOCK_CODE
from retailsage.features.gap import AS_OF_DATE
from retailsage.features.protocols import Split, split_asof
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig

OWN = (
    "repeat_product_share",
    "repeat_products",
    "due_min",
    "due_median",
    "due_within_h",
    "due_within_h_share",
    "own_cycle_median",
)
POP = ("last_basket_pop_cycle", "recency_over_pop_cycle")
FOLDS = 5


class Purchases:
    """Distinct (customer, product, day) purchases of the clean lines, sorted."""

    def __init__(self, clean: pd.DataFrame) -> None:
        """Index the clean lines with a customer code by customer and StockCode."""
        clean = clean.loc[clean[CUSTOMER_ID].notna().to_numpy()]
        codes, self.customers = pd.factorize(clean[CUSTOMER_ID].astype("string"), sort=True)
        frame = pd.DataFrame(
            {
                "c": codes,
                "p": pd.factorize(clean[STOCK_CODE])[0],
                "d": clean[INVOICE_DATE].to_numpy().astype("datetime64[D]").astype(np.int64),
            }
        )
        self.frame = frame.drop_duplicates().reset_index(drop=True)

    def cycles(self, as_of: pd.Timestamp, horizon: int) -> pd.DataFrame:
        """Reorder-cycle features of every customer with a purchase before ``as_of``."""
        s = int(as_of.to_datetime64().astype("datetime64[D]").astype(np.int64))
        pairs = (
            self.frame.loc[self.frame["d"].to_numpy() < s]
            .groupby(["c", "p"], sort=False)["d"]
            .agg(["min", "max", "count"])
            .reset_index()
        )
        repeat = pairs.loc[pairs["count"] >= 2].copy()
        repeat["cycle"] = (repeat["max"] - repeat["min"]) / (repeat["count"] - 1)
        repeat["due"] = repeat["max"] + repeat["cycle"] - s
        by_product = repeat.groupby("p")["cycle"].agg(["median", "size"])
        population = by_product.loc[by_product["size"] >= 3, "median"]
        last_day = pairs.groupby("c")["max"].max()
        newest = pairs.loc[pairs["max"].to_numpy() == pairs["c"].map(last_day).to_numpy()]
        newest = newest.assign(pop_cycle=newest["p"].map(population))
        index = pd.Index(last_day.index)
        rep = repeat.groupby("c")
        out = pd.DataFrame(index=index)
        out["repeat_products"] = rep.size().reindex(index).fillna(0.0)
        out["repeat_product_share"] = out["repeat_products"] / pairs.groupby("c").size()
        out["due_min"] = rep["due"].min().reindex(index)
        out["due_median"] = rep["due"].median().reindex(index)
        window = repeat.loc[(repeat["due"] >= -horizon / 2) & (repeat["due"] < horizon)]
        out["due_within_h"] = window.groupby("c").size().reindex(index).fillna(0.0)
        out["due_within_h_share"] = out["due_within_h"] / out["repeat_products"].replace(0, np.nan)
        out["own_cycle_median"] = rep["cycle"].median().reindex(index)
        out["last_basket_pop_cycle"] = newest.groupby("c")["pop_cycle"].median().reindex(index)
        out["recency_over_pop_cycle"] = (s - last_day) / out["last_basket_pop_cycle"]
        out[CUSTOMER_ID] = self.customers[index.to_numpy()].astype("string")
        return out.reset_index(drop=True)

    def join(self, rows: pd.DataFrame, columns: tuple[str, ...], horizon: int) -> pd.DataFrame:
        """Left-join each snapshot row with its customer's ``columns`` as of its date."""
        parts = []
        for as_of, group in rows.groupby(AS_OF_DATE, sort=False):
            features = self.cycles(pd.Timestamp(str(as_of)), horizon)[[CUSTOMER_ID, *columns]]
            merged = group.reset_index().merge(features, on=CUSTOMER_ID, how="left")
            parts.append(merged.set_index("index"))
        return pd.concat(parts).loc[rows.index]


def fit_predict(
    train: pd.DataFrame, test: pd.DataFrame, horizon: int, **settings: int
) -> np.ndarray:
    """Fit the xgboost defaults (plus ``settings``) and predict ``test``, capped at ``horizon``."""
    model = XGBoostGap(XGBoostGapConfig(nthread=2, **settings)).fit(train.reset_index(drop=True))
    predicted = model.predict(test.reset_index(drop=True))["predicted_gap_days"]
    return np.minimum(predicted.to_numpy(np.float64), float(horizon))


def mae(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(predicted - truth)))


def same_season(split: Split, horizon: int, depth: int, repeat: int, with_train: bool) -> float:
    """Cross-fitted MAE of models that see the other folds' test-window labels."""
    test = split.test.reset_index(drop=True)
    fold = np.random.default_rng(0).integers(0, FOLDS, len(test))
    predicted = np.zeros(len(test))
    for k in range(FOLDS):
        parts = [test.loc[fold != k]] * repeat
        if with_train:
            parts.insert(0, split.train)
        train = pd.concat(parts, ignore_index=True)
        predicted[fold == k] = fit_predict(train, test.loc[fold == k], horizon, max_depth=depth)
    return mae(predicted, test[split.target].to_numpy(np.float64))


def run_cutoff(
    clean: pd.DataFrame, purchases: Purchases, cutoff: str, horizon: int, ceiling: bool
) -> list[tuple[str, float, str]]:
    """Every figure for one cutoff as (name, MAE, note)."""
    split = split_asof(clean, cutoff, horizon)
    truth = split.test[split.target].to_numpy(np.float64)
    started = time.perf_counter()
    defaults = fit_predict(split.train, split.test, horizon)
    buyers = truth < horizon
    error = np.abs(defaults - truth)
    share = error[buyers].sum() / error.sum()
    results = [
        ("defaults", mae(defaults, truth), f"fit+predict {time.perf_counter() - started:.1f} s"),
        (
            "defaults, error split",
            float(error[buyers].mean()),
            f"MAE over the {buyers.mean():.1%} who buy within H (those carry {share:.1%} of "
            f"the total error); {error[~buyers].mean():.3f} over the rest",
        ),
        ("constant H", mae(np.full_like(truth, float(horizon)), truth), "scale"),
    ]
    for name, columns in (("cycles_all", OWN + POP), ("cycles_own", OWN), ("cycles_pop", POP)):
        train = purchases.join(split.train, columns, horizon)
        test = purchases.join(split.test, columns, horizon)
        results.append((name, mae(fit_predict(train, test, horizon), truth), "honest"))
    if ceiling:
        for depth in (3, 4, 6):
            for label, repeat, with_train in (
                ("test_only", 1, False),
                ("train+test", 1, True),
                ("train+test x5", 5, True),
            ):
                value = same_season(split, horizon, depth, repeat, with_train)
                note = "sees the test window's labels of the other folds: NOT a method"
                results.append((f"same-season {label}, depth {depth}", value, note))
    return results


def main() -> None:
    """Parse the arguments, run every cutoff and print one line per figure."""
    parser = asof_parser(__doc__)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the same-season check")
    args = parser.parse_args()
    name, raw = load_raw(args)
    clean = clean_transactions(raw)
    purchases = Purchases(clean)
    for cutoff in args.cutoff:
        for label, value, note in run_cutoff(
            clean, purchases, cutoff, args.horizon, not args.no_ceiling
        ):
            print(f"{name} D={cutoff} H={args.horizon} {label}: MAE {value:.3f} | {note}")


if __name__ == "__main__":
    main()
