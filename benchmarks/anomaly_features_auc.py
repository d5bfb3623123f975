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

No feature names a stock code, but ``is_nonstandard_code`` (the code's *shape*) reproduces most
of the hand-picked natural-label list, so natural labels are also scored without it
(``no code shape``), and on the price <= 0 lines alone (code-labelled lines left out). Baselines
in the same run: the four raw signed-log magnitudes (quantity, abs_quantity, unit_price,
total_amount) with the same detector, and the trivial two-input rules of
``retailsage.evaluation.anomaly_eval`` (natural: code shape + [price <= 0]; injected: the larger
item-relative |z| of price and quantity), which need no detector at all.
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
from retailsage.data.schema import UNIT_PRICE
from retailsage.evaluation.anomaly_eval import (
    CODE_SHAPE_FEATURE,
    INJECTION_KINDS,
    injected_rule_score,
    injected_test_set,
    natural_rule_score,
    natural_test_set,
)
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
    no_code = [c for c in ANOMALY_DISTANCE_COLUMNS if c != CODE_SHAPE_FEATURE]
    columns = {
        "features": list(ANOMALY_DISTANCE_COLUMNS),
        "no code shape": no_code,
        "BASELINE raw": RAW_COLUMNS,
    }

    def scores_for(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
        features = AnomalyFeaturizer().fit(frame).transform(frame)
        scores = {
            key: detector_scores(features[cols].to_numpy(), args.clusters, args.seed)
            for key, cols in columns.items()
        }
        return scores, features

    natural = natural_test_set(lines)  # drops cancellation lines: neither class
    kept = natural.lines.index.to_numpy()  # positions, since ``lines`` has a RangeIndex
    all_scores, features = scores_for(lines)  # fitted on every line, as deployed
    natural_scores = {k: v[kept] for k, v in all_scores.items()}
    rule = natural_rule_score(features.iloc[kept], natural.lines)
    report("natural labels", natural.labels, {**natural_scores, "RULE 2 inputs": rule})
    free = natural.lines[UNIT_PRICE].to_numpy() <= 0.0
    only = free | (natural.labels == 0)
    report(
        "  price <= 0 only",
        free[only].astype(int),
        {**{k: v[only] for k, v in natural_scores.items()}, "RULE 2 inputs": rule[only]},
    )
    injected = injected_test_set(lines, rate=args.rate, seed=args.seed)
    assert injected.kind is not None
    scores, injected_features = scores_for(injected.lines)
    scores["RULE 2 inputs"] = injected_rule_score(injected_features)
    report(f"injected errors ({args.rate:.0%})", injected.labels, scores)
    for index, name in enumerate(INJECTION_KINDS):
        subset = (injected.labels == 0) | (injected.kind == index)
        report(f"  {name}", injected.labels[subset], {k: v[subset] for k, v in scores.items()})
    print(f"wall time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
