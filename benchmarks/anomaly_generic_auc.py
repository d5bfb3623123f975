"""ROC-AUC of the ``pca_kmeans`` defaults on generic labelled numeric tables vs Isolation Forest.

Usage:
    .venv/bin/python benchmarks/anomaly_generic_auc.py [--draws 5] [--sets iris,wine,...]
        [--set KEY=VALUE ...]   # override a default of the measured ``pca_kmeans`` config

Every table is built from data shipped in packages (no download), in the style of the ODDS
outlier benchmarks:

* scikit-learn's bundled classification sets with one class subsampled as the outliers (5 % of
  the inliers, a fresh subsample per draw): ``iris`` (virginica), ``wine`` (class 0),
  ``breast_cancer`` (malignant), ``digits`` (the digit 0 among 1-9);
* synthetic sets, regenerated per draw: ``blobs_uniform`` (5 Gaussian blobs of unequal spread +
  uniform noise over their bounding box), ``correlated`` (rank-3 data in 10 dimensions; outliers
  break the correlation but stay inside the marginal ranges), ``compact_outliers`` (3 blobs + one
  tight group of outliers: the masking case), ``zero_inflated`` (Gaussian, zero-inflated and
  Poisson columns; outliers are wide in the Gaussian part), ``gauss_uniform`` (20-D Gaussian +
  uniform noise).

Each table is fitted and scored transductively (all rows, no labels) through the family's real
code path: ``PcaKmeansAnomaly(PcaKmeansConfig()).fit(frame).predict(frame)`` on a DataFrame, i.e.
the ``table`` input mode. In the same run, on the same matrix: ``IsolationForest(random_state=0)``
(scikit-learn defaults) and the previous family defaults (robust scaling, PCA at 80 % variance, one
KMeans of 8 clusters, no size rule). Labels are used only for the AUC. Prints per-set means over
the draws, the overall means and the worst per-set gap to Isolation Forest.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from retailsage.core.hyperparameters import parse_hyperparameters
from retailsage.models.pca_kmeans import PcaKmeansAnomaly, PcaKmeansConfig

Table = tuple[np.ndarray, np.ndarray]
PREVIOUS_DEFAULTS = PcaKmeansConfig(
    n_components=0.8,
    n_clusters=8,
    min_clusters=8,
    small_cluster_share=0.0,
    scaling="robust",
    clip_sigma=0.0,
)
OUTLIER_SHARE = 0.05


def _subsampled(
    loader: Callable[..., object], outlier_class: int, rng: np.random.Generator
) -> Table:
    """One bundled scikit-learn set: the other classes are inliers, one class subsampled."""
    bunch = loader()
    x = np.asarray(bunch.data, dtype=np.float64)  # type: ignore[attr-defined]
    y = np.asarray(bunch.target)  # type: ignore[attr-defined]
    inliers, outliers = x[y != outlier_class], x[y == outlier_class]
    count = min(len(outliers), max(3, round(OUTLIER_SHARE * len(inliers))))
    picked = outliers[rng.choice(len(outliers), count, replace=False)]
    return _stack(inliers, picked)


def _stack(inliers: np.ndarray, outliers: np.ndarray) -> Table:
    """Rows and 0/1 labels (1 = outlier)."""
    labels = np.r_[np.zeros(len(inliers)), np.ones(len(outliers))]
    return np.vstack([inliers, outliers]), labels


def blobs_uniform(rng: np.random.Generator) -> Table:
    """Five blobs of unequal spread plus uniform noise over their bounding box."""
    seed = int(rng.integers(1 << 31))
    spread = rng.uniform(0.5, 2.0, 5)
    x, _ = datasets.make_blobs(2000, n_features=6, centers=5, cluster_std=spread, random_state=seed)
    return _stack(x, rng.uniform(x.min(axis=0), x.max(axis=0), (100, 6)))


def correlated(rng: np.random.Generator) -> Table:
    """Rank-3 data in 10 dimensions; the outliers break the correlation structure."""
    basis = rng.normal(size=(3, 10))
    inliers = rng.normal(size=(2000, 3)) @ basis + 0.1 * rng.normal(size=(2000, 10))
    outliers = rng.normal(size=(80, 3)) @ basis + rng.normal(size=(80, 10))
    return _stack(inliers, outliers)


def compact_outliers(rng: np.random.Generator) -> Table:
    """Three blobs and one tight group of 60 outliers away from them (the masking case)."""
    seed = int(rng.integers(1 << 31))
    x, _ = datasets.make_blobs(2000, n_features=5, centers=3, random_state=seed)
    centre = x.mean(axis=0) + 2.0 * rng.normal(size=5) + 8.0
    return _stack(x, centre + 0.3 * rng.normal(size=(60, 5)))


def zero_inflated(rng: np.random.Generator) -> Table:
    """Correlated Gaussian, zero-inflated exponential and Poisson columns; wide outliers."""
    mixing = rng.normal(size=(4, 4))

    def rows(n: int, wide: float) -> np.ndarray:
        gauss = rng.normal(size=(n, 4)) @ mixing if wide == 0 else wide * rng.normal(size=(n, 4))
        inflated = np.where(rng.random((n, 3)) < 0.8, 0.0, rng.exponential(2.0, (n, 3)))
        return np.hstack([gauss, inflated, rng.poisson(2.0, (n, 2))])

    return _stack(rows(2000, 0.0), rows(80, 4.0))


def gauss_uniform(rng: np.random.Generator) -> Table:
    """A 20-D standard Gaussian and uniform noise in [-4, 4]^20."""
    return _stack(rng.normal(size=(2000, 20)), rng.uniform(-4.0, 4.0, (60, 20)))


SETS: dict[str, Callable[[np.random.Generator], Table]] = {
    "iris": lambda rng: _subsampled(datasets.load_iris, 2, rng),
    "wine": lambda rng: _subsampled(datasets.load_wine, 0, rng),
    "breast_cancer": lambda rng: _subsampled(datasets.load_breast_cancer, 0, rng),
    "digits": lambda rng: _subsampled(datasets.load_digits, 0, rng),
    "blobs_uniform": blobs_uniform,
    "correlated": correlated,
    "compact_outliers": compact_outliers,
    "zero_inflated": zero_inflated,
    "gauss_uniform": gauss_uniform,
}


def family_scores(x: np.ndarray, config: PcaKmeansConfig) -> np.ndarray:
    """Fit and score a table through ``PcaKmeansAnomaly`` (table mode)."""
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(x.shape[1])])
    model = PcaKmeansAnomaly(config).fit(frame)
    return model.predict(frame)["anomaly_score"].to_numpy()


def evaluate(names: list[str], draws: int, config: PcaKmeansConfig) -> pd.DataFrame:
    """ROC-AUC per set and draw for ``config``, Isolation Forest and the previous defaults."""
    rows = []
    for name in names:
        for draw in range(draws):
            x, labels = SETS[name](np.random.default_rng([draw, len(name)]))
            forest = -IsolationForest(random_state=0).fit(x).score_samples(x)
            rows.append(
                {
                    "set": name,
                    "draw": draw,
                    "pca_kmeans": roc_auc_score(labels, family_scores(x, config)),
                    "isolation_forest": roc_auc_score(labels, forest),
                    "previous_defaults": roc_auc_score(labels, family_scores(x, PREVIOUS_DEFAULTS)),
                }
            )
    return pd.DataFrame(rows)


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    config = parse_hyperparameters(PcaKmeansConfig, overrides)
    names = [n for n in args.sets.split(",") if n]
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        print(f"unknown set(s) {unknown}; known: {', '.join(SETS)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = evaluate(names, args.draws, config)
    table = results.drop(columns="draw").groupby("set", sort=False).mean()
    spread = results.drop(columns="draw").groupby("set", sort=False).std(ddof=0)
    print(f"{'set':<18}{'pca_kmeans':>18}{'isolation_forest':>18}{'previous_defaults':>19}")
    for name, row in table.iterrows():
        cells = "".join(
            f"{row[c]:>12.3f} ±{spread.loc[name, c]:.3f}"
            for c in ("pca_kmeans", "isolation_forest", "previous_defaults")
        )
        print(f"{name!s:<18}{cells}")
    means = table.mean()
    print(f"{'MEAN':<18}" + "".join(f"{means[c]:>18.3f}" for c in table.columns))
    gap = (table["pca_kmeans"] - table["isolation_forest"]).min()
    print(f"worst per-set gap pca_kmeans - isolation_forest: {gap:+.3f}")
    print(f"pca_kmeans overrides: {overrides or 'none (defaults)'}")
    print(f"{args.draws} draws per set; wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
