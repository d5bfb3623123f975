"""Check that the anomaly features let a plain PCA + KMeans detector find anomalies.

Usage:
    .venv/bin/python benchmarks/anomaly_features_auc.py [--data PATH] [--clusters 8]
        [--rate 0.01] [--seed 1]

Unsupervised throughout: scaler, PCA (95 % variance) and MiniBatchKMeans are fitted on all lines,
the score is the distance to the nearest centroid, and labels are used only to compute ROC-AUC.

* natural labels and injected errors: exactly the definitions of
  ``retailsage.evaluation.anomaly_eval`` (``natural_test_set``, ``injected_test_set``; the only
  place labels are defined), applied to all de-duplicated real lines (no temporal split: this
  measures the features, ``retailsage evaluate --model-type pca_kmeans`` measures the family).

No feature names a stock code. The baseline in the same run uses only the four raw signed-log
magnitudes (quantity, abs_quantity, unit_price, total_amount) with the same detector.
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
from retailsage.evaluation.anomaly_eval import INJECTION_KINDS, injected_test_set, natural_test_set
from retailsage.features.anomaly import ANOMALY_DISTANCE_COLUMNS, AnomalyFeaturizer

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"
RAW_COLUMNS = ["quantity", "abs_quantity", "unit_price", "total_amount"]


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
    print(f"{len(lines):,} lines")
    columns = {"features": list(ANOMALY_DISTANCE_COLUMNS), "BASELINE raw": RAW_COLUMNS}

    def scores_for(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        features = AnomalyFeaturizer().fit(frame).transform(frame)
        return {
            key: detector_scores(features[cols].to_numpy(), args.clusters, args.seed)
            for key, cols in columns.items()
        }

    natural = natural_test_set(lines)  # drops cancellation lines: neither class
    kept = natural.lines.index.to_numpy()  # positions, since ``lines`` has a RangeIndex
    all_scores = scores_for(lines)  # fitted on every line, as a deployed detector would be
    report("natural labels", natural.labels, {k: v[kept] for k, v in all_scores.items()})
    injected = injected_test_set(lines, rate=args.rate, seed=args.seed)
    assert injected.kind is not None
    scores = scores_for(injected.lines)
    report(f"injected errors ({args.rate:.0%})", injected.labels, scores)
    for index, name in enumerate(INJECTION_KINDS):
        subset = (injected.labels == 0) | (injected.kind == index)
        report(f"  {name}", injected.labels[subset], {k: v[subset] for k, v in scores.items()})
    print(f"wall time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
