"""Per-call cost of scoring with the ``pca_kmeans`` detector at 1 row and at 1,000 rows.

Usage:
    .venv/bin/python benchmarks/anomaly_score_cost.py [--repeats 2000]

Fits the current defaults and, as the baseline in the same run, the previous defaults (one
KMeans of 8 clusters, robust scaling, PCA at 80 % variance) on a generated 12-column numeric
table (table mode), then times

* ``score``: the numeric core, ``ProjectionModel.score`` on the feature matrix (what the model
  itself costs per request);
* ``predict``: ``PcaKmeansAnomaly.predict`` on a DataFrame (input validation, scoring and the
  output frame), the call the serving app makes.

Each figure is the median of ``--repeats`` timed calls after a warm-up, in milliseconds per
call and per row.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from retailsage.models.pca_kmeans import PcaKmeansAnomaly, PcaKmeansConfig

PREVIOUS_DEFAULTS = PcaKmeansConfig(
    n_components=0.8,
    n_clusters=8,
    min_clusters=8,
    small_cluster_share=0.0,
    scaling="robust",
    clip_sigma=0.0,
)


def median_ms(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``call`` in milliseconds."""
    for _ in range(min(50, repeats)):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def main() -> int:
    """Fit both configurations and print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(12, 12))
    table = pd.DataFrame(
        rng.normal(size=(20_000, 12)) @ mixing, columns=[f"x{j}" for j in range(12)]
    )
    print(f"{'config':<18}{'rows':>6}{'score ms':>10}{'/row':>9}{'predict ms':>12}{'/row':>9}")
    for name, config in (("defaults", PcaKmeansConfig()), ("previous", PREVIOUS_DEFAULTS)):
        model = PcaKmeansAnomaly(config).fit(table)
        projection = model.projection_
        assert projection is not None
        for rows in (1, 1000):
            frame = table.iloc[:rows]
            matrix = model.features(frame)
            score = median_ms(lambda p=projection, m=matrix: p.score(m), args.repeats)
            repeats = args.repeats if rows == 1 else max(20, args.repeats // 20)
            predict = median_ms(lambda d=model, f=frame: d.predict(f), repeats)
            print(
                f"{name:<18}{rows:>6}{score:>10.4f}{score / rows:>9.4f}"
                f"{predict:>12.4f}{predict / rows:>9.4f}"
            )
        centroids = len(projection.centroids)
        print(f"  {name}: {centroids} centroids, {projection.components.shape[0]} components")
    return 0


if __name__ == "__main__":
    sys.exit(main())
