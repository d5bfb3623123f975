"""A generic numeric table through `entrypoint.sh train` (only ``model_type``) and serve."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from retailsage.serve.app import create_app
from retailsage.serve.settings import ServeSettings

from .conftest import run_entrypoint


def _labelled_table(seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Three blobs, one zero-inflated column, a compact outlier group and scattered outliers."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(3, 4))
    inliers = centres[rng.integers(0, 3, 900)] + rng.normal(size=(900, 4))
    group = centres.mean(axis=0) + 12.0 + 0.2 * rng.normal(size=(25, 4))  # masks at k >= 4
    scattered = rng.uniform(-20.0, 20.0, size=(15, 4))
    x = np.vstack([inliers, group, scattered])
    zero_inflated = np.where(rng.random(len(x)) < 0.85, 0.0, rng.exponential(3.0, len(x)))
    table = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(e=zero_inflated)
    labels = np.r_[np.zeros(900), np.ones(40)]
    order = rng.permutation(len(table))
    return table.iloc[order].reset_index(drop=True), labels[order]


def test_numeric_csv_trains_with_defaults_and_scores_through_serve(tree, tmp_path):
    table, labels = _labelled_table()
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    base = tree({"train": [path]}, {"model_type": "pca_kmeans"})
    result = run_entrypoint(base)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((base / "model" / "manifest.json").read_text())
    assert manifest["feature_spec"]["mode"] == "table"
    assert manifest["config"]["small_cluster_share"] == 0.5
    assert sorted(p.name for p in (base / "model").iterdir() if p.suffix == ".npz") == ["model.npz"]
    metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    assert {"validation:anomaly_rate", "train:anomaly_threshold"} <= set(metrics)

    app = create_app(base / "model", ServeSettings(model_dir=base / "model"))
    client = app.test_client()
    body = table.to_csv(header=False, index=False).encode()
    response = client.post(
        "/invocations",
        data=body,
        headers={"Content-Type": "text/csv", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.data[:500]
    predictions = response.get_json()["predictions"]
    assert len(predictions) == len(table)
    scores = np.array([p["anomaly_score"] for p in predictions])
    assert roc_auc_score(labels, scores) > 0.95  # the previous defaults: 0.72
    assert labels[np.argsort(-scores)[:40]].mean() >= 0.6  # precision at the outlier count
    flagged = np.array([p["is_anomaly"] for p in predictions])  # contamination 0.02: ~19 rows
    assert flagged[labels == 1].mean() > 10 * flagged[labels == 0].mean()
    bad = client.post("/invocations", data=b"1,2,3\n", headers={"Content-Type": "text/csv"})
    assert bad.status_code == 400 and "error" in (bad.get_json() or {})
