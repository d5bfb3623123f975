"""Each family trained end to end through `entrypoint.sh train` on generated data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from retailsage.models.artifacts import load_model
from retailsage.train import runner
from retailsage.train.metrics import METRIC_DEFINITIONS, METRIC_NAMES

from .conftest import run_entrypoint

FAMILIES = {
    "xgboost": (
        {"model_type": '"xgboost"', "num_round": "30", "checkpoint_every": "10", "nthread": "1"},
        [
            "validation:mae",
            "validation:rmse",
            "validation:medae",
            "validation:brier",
            "validation:past_date_share",
            "baseline:constant:mae",
            "baseline:median_gap:mae",
            "baseline:residual_life:mae",
        ],
    ),
    "lstm": (
        {
            "model_type": "lstm",
            "epochs": "3",
            "hidden_size": "8",
            "batch_size": "128",
            "device": "cpu",
            "eval_protocol": "p2cap",
            "horizon_days": "60",
        },
        ["validation:mae", "validation:rmse", "validation:medae", "baseline:median:mae"],
    ),
    "pca_kmeans": (
        {"model_type": "pca_kmeans", "n_clusters": "3", "n_init": "1"},
        [
            "validation:anomaly_rate",
            "train:anomaly_threshold",
            "validation:roc_auc",
            "validation:average_precision",
        ],
    ),
}


def metric_lines(stdout: str) -> dict[str, list[str]]:
    """What SageMaker would publish: name -> captured values, via the exported regexes."""
    return {d["Name"]: re.findall(d["Regex"], stdout) for d in METRIC_DEFINITIONS}


def input_tree(base: Path) -> list[tuple[str, int, int]]:
    """Every path under ``input/`` with its size and modification time."""
    return sorted(
        (str(p.relative_to(base)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in (base / "input").rglob("*")
    )


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_trains_through_the_entrypoint(family, tree, transactions_csv):
    hyperparameters, expected = FAMILIES[family]
    base = tree({"train": [transactions_csv]}, hyperparameters)
    before = input_tree(base)
    result = run_entrypoint(base)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (base / "output" / "failure").exists()
    # FastFile channels are read-only mounts: the job must not write anything under input/
    assert input_tree(base) == before

    manifest = json.loads((base / "model" / "manifest.json").read_text())
    assert manifest["family"] == family
    assert not any(p.suffix in (".pkl", ".joblib") for p in (base / "model").iterdir())
    model = load_model(base / "model")
    assert model.name == family
    # the drift reference: plain JSON over the model's own input columns, named by the manifest
    reference = json.loads((base / "model" / manifest["drift_reference"]).read_text())
    assert list(reference["columns"]) == list(model.input_columns)
    assert any(c["kind"] in ("numeric", "categorical") for c in reference["columns"].values())

    data = base / "output" / "data"
    metrics = json.loads((data / "metrics.json").read_text())
    assert set(expected) <= set(metrics)
    assert set(metrics) <= set(METRIC_NAMES)
    report = json.loads((data / "report.json").read_text())
    assert report["model_type"] == family
    assert report["metrics"] == metrics
    assert report["data"]["plots"]
    for plot in report["data"]["plots"]:
        assert (data / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    published = metric_lines(result.stdout)
    for name in expected:
        assert published[name], f"no {name} line in stdout"
        assert float(published[name][-1]) == pytest.approx(metrics[name], rel=1e-5)
    if family != "pca_kmeans":
        per_iteration = re.findall(r"^validation:mae=\S+; step=(\d+)$", result.stdout, re.M)
        assert len(per_iteration) >= 3


def test_featurized_gap_table_and_validation_channel(tree, tmp_path, transactions_csv):
    from retailsage.data.cleaning import clean_transactions
    from retailsage.data.loader import load_transactions
    from retailsage.features.gap import gap_training_rows
    from retailsage.features.protocols import temporal_holdout

    rows = gap_training_rows(clean_transactions(load_transactions(transactions_csv)))
    split = temporal_holdout(rows, "p1")
    train, validation = tmp_path / "train.parquet", tmp_path / "validation.csv.gz"
    split.train.to_parquet(train)
    split.test.to_csv(validation, index=False)
    base = tree(
        {"train": [train], "validation": [validation]},
        {"model_type": "xgboost", "num_round": "10", "nthread": "1", "target": "order_gap"},
    )
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 0
    report = json.loads((base / "output" / "data" / "report.json").read_text())
    assert report["data"]["holdout"] == "validation channel"
    assert report["data"]["evaluation_rows"] == len(split.test)


def test_numeric_table_trains_the_anomaly_detector(tree, tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    table = pd.DataFrame(rng.normal(size=(400, 4)), columns=["f1", "f2", "f3", "f4"])
    table.loc[:5, "f1"] = 25.0
    path = tmp_path / "features.csv"
    table.to_csv(path, index=False)
    base = tree({"train": [path]}, {"model_type": "pca_kmeans", "n_clusters": "2", "n_init": "1"})
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 0
    metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    assert 0 < metrics["validation:anomaly_rate"] < 0.1
    assert "validation:roc_auc" not in metrics
    manifest = json.loads((base / "model" / "manifest.json").read_text())
    assert manifest["input_columns"] == ["f1", "f2", "f3", "f4"]
