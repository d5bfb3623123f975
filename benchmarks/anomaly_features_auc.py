"""Check that the anomaly features let a plain PCA + KMeans detector find anomalies.

Usage:
    .venv/bin/python benchmarks/anomaly_features_auc.py [--data PATH] [--clusters 8]
        [--rate 0.01] [--seed 1]

Unsupervised throughout: scaler, PCA (95 % variance) and MiniBatchKMeans are fitted on all lines,
the score is the distance to the nearest centroid, and labels are used only to compute ROC-AUC.

* natural labels: non-merchandise stock codes (postage, fees, manual lines, discounts, samples,
  bank charges, bad-debt adjustments) or UnitPrice <= 0, on all de-duplicated real lines;
* injected errors: on the remaining lines, ``--rate`` of them get one error each (quantity
  x20-100, price x10-100, price x0.01-0.1, or a timestamp moved to 00:00-04:59).

The label list below exists only to score the benchmark; no feature names a stock code. The
baseline in the same run uses only the four raw signed-log magnitudes (quantity, abs_quantity,
unit_price, total_amount) with the same detector.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from retailsage.data.cleaning import prepare_anomaly_lines
from retailsage.data.loader import load_transactions
from retailsage.features.anomaly import ANOMALY_DISTANCE_COLUMNS, AnomalyFeaturizer

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"
NON_MERCHANDISE = {"POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE", "C2", "CRUK", "D", "S", "PADS"}
NON_MERCHANDISE |= {"B"}
RAW_COLUMNS = ["quantity", "abs_quantity", "unit_price", "total_amount"]
ERROR_KINDS = ("quantity x20-100", "price x10-100", "price x0.01-0.1", "off-hours time")


def natural_labels(lines: pd.DataFrame) -> np.ndarray:
    """True for non-merchandise lines and lines with a non-positive price."""
    code = lines["StockCode"].str.strip().str.upper()
    return (code.isin(NON_MERCHANDISE) | (lines["UnitPrice"] <= 0)).to_numpy(dtype=bool)


def inject(
    lines: pd.DataFrame, rate: float, seed: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Copy of ``lines`` with errors injected; returns (lines, is_error, kind per line or -1)."""
    rng = np.random.default_rng(seed)
    n = len(lines)
    chosen = rng.choice(n, int(rate * n), replace=False)
    kind = np.full(n, -1)
    kind[chosen] = rng.integers(0, len(ERROR_KINDS), len(chosen))
    quantity = lines["Quantity"].to_numpy().copy()
    price = lines["UnitPrice"].to_numpy().copy()
    stamp = lines["InvoiceDate"].to_numpy().copy()
    rows = np.flatnonzero(kind == 0)
    quantity[rows] *= rng.integers(20, 101, len(rows))
    rows = np.flatnonzero(kind == 1)
    price[rows] *= rng.uniform(10, 100, len(rows))
    rows = np.flatnonzero(kind == 2)
    price[rows] *= rng.uniform(0.01, 0.1, len(rows))
    rows = np.flatnonzero(kind == 3)
    minutes = rng.integers(0, 5 * 60, len(rows)).astype("timedelta64[m]")
    stamp[rows] = stamp[rows].astype("datetime64[D]") + minutes
    changed = lines.assign(Quantity=quantity, UnitPrice=price, InvoiceDate=stamp)
    return changed, kind >= 0, kind


def detector_scores(features: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Distance to the nearest KMeans centroid in standardized PCA space."""
    scaled = StandardScaler().fit_transform(features)
    projected = PCA(n_components=0.95, random_state=seed).fit_transform(scaled)
    kmeans = MiniBatchKMeans(n_clusters=clusters, random_state=seed, n_init=3, batch_size=4096)
    return np.asarray(kmeans.fit(projected).transform(projected).min(axis=1))


def report(name: str, labels: np.ndarray, scores: dict[str, np.ndarray]) -> None:
    """Print ROC-AUC of every score set."""
    cells = "  ".join(f"{key}={roc_auc_score(labels, value):.4f}" for key, value in scores.items())
    print(f"{name:<34} {cells}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"real data not found at {args.data}; pass --data", file=sys.stderr)
        return 2
    started = time.perf_counter()
    lines = prepare_anomaly_lines(load_transactions(args.data)).reset_index(drop=True)
    natural = natural_labels(lines)
    print(f"{len(lines):,} lines, natural anomaly rate {natural.mean():.4f}")
    columns = {"features": list(ANOMALY_DISTANCE_COLUMNS), "BASELINE raw": RAW_COLUMNS}

    def scores_for(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        features = AnomalyFeaturizer().fit(frame).transform(frame)
        return {
            key: detector_scores(features[cols].to_numpy(), args.clusters, args.seed)
            for key, cols in columns.items()
        }

    report("natural labels", natural, scores_for(lines))
    clean = lines.loc[~natural].reset_index(drop=True)
    injected, is_error, kind = inject(clean, args.rate, args.seed)
    scores = scores_for(injected)
    report(f"injected errors ({args.rate:.0%})", is_error, scores)
    for index, name in enumerate(ERROR_KINDS):
        subset = ~is_error | (kind == index)
        report(f"  {name}", is_error[subset], {k: v[subset] for k, v in scores.items()})
    print(f"wall time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
