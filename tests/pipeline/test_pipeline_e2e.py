"""The synthesized state machine, end to end on moto with the real Lambda, train and serve code.

One moto session (one synth) serves every test; each model family runs once on small generated
data with tiny hyperparameters, and the failure paths run on the same deployment.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from retailsage.models.registry import MODEL_TYPES
from retailsage.pipeline import states
from retailsage.pipeline.run import LocalPipeline, RunOptions
from retailsage.pipeline.summary import RunSummary

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local-pipeline")]

# the gap models score one row per customer (about 25 here); the anomaly model scores every
# transaction line, so it gets fewer rows to keep the DynamoDB writes short
ROWS = {"xgboost": 3_000, "lstm": 3_000, "pca_kmeans": 1_000}
TINY: dict[str, dict[str, str]] = {
    "xgboost": {"num_round": "20", "early_stopping_rounds": "5"},
    "lstm": {"epochs": "2", "hidden_size": "8", "early_stopping_epochs": "2"},
    "pca_kmeans": {"n_clusters": "4", "n_init": "1"},
}
PREDICTION = {
    "xgboost": "predicted_gap_days",
    "lstm": "predicted_gap_days",
    "pca_kmeans": "anomaly_score",
}


def _options(model_type: str, **overrides: Any) -> RunOptions:
    values: dict[str, Any] = {
        "model_type": model_type,
        "rows": ROWS[model_type],
        "hyperparameters": TINY[model_type],
        "run_id": f"e2e-{model_type.replace('_', '-')}",
    }
    values.update(overrides)
    return RunOptions(**values)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    runs_dir = tmp_path_factory.mktemp("runs")
    with LocalPipeline(io.StringIO(), runs_dir=runs_dir) as local:
        yield local


@pytest.fixture(scope="module")
def runs(pipeline: LocalPipeline) -> dict[str, RunSummary]:
    return {model_type: pipeline.execute(_options(model_type)) for model_type in MODEL_TYPES}


@pytest.fixture(scope="module")
def items_by_run(pipeline: LocalPipeline, runs: dict[str, RunSummary]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for item in pipeline.scan_items():  # one scan (moto's is slow) shared by the family tests
        grouped.setdefault(item["prediction_key"]["S"].split("#")[0], []).append(item)
    return grouped


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_pipeline_scores_every_row_into_one_item_each(
    runs: dict[str, RunSummary], items_by_run: dict[str, list[Any]], model_type: str
) -> None:
    summary = runs[model_type]
    assert summary.succeeded, summary.lines()
    assert summary.last_state == states.PIPELINE_SUCCEEDED
    assert [t.name for t in summary.timings if t.name in states.HAPPY_PATH] == list(
        states.HAPPY_PATH
    )
    assert summary.output is not None
    assert summary.rows_scored == summary.output["extract"]["scoring_rows"] > 0
    items = items_by_run.get(summary.output["extract"]["run_name"], [])
    assert len(items) == summary.rows_scored == summary.items_written
    keys = {(i["customer_id"]["S"], i["prediction_key"]["S"]) for i in items}
    assert len(keys) == len(items)
    values = [float(item[PREDICTION[model_type]]["N"]) for item in items]
    assert all(math.isfinite(v) for v in values)
    if model_type == "pca_kmeans":
        # a boolean, stored as BOOL or as the number 0/1
        flags = {item["is_anomaly"].get("BOOL", item["is_anomaly"].get("N")) for item in items}
        assert flags <= {True, False, "0", "1"}
    else:
        assert min(values) >= 0.0
        assert 0.0 < sum(values) / len(values) < 400.0  # mean gap in days within the data span


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_reports_and_metrics_are_copied_locally(
    runs: dict[str, RunSummary], model_type: str
) -> None:
    summary = runs[model_type]
    assert summary.report_dir is not None
    assert (summary.report_dir / "metrics.json").is_file()
    assert summary.metrics
    if model_type != "pca_kmeans":
        assert summary.metrics["validation:mae"] is not None
        assert any(name.startswith("baseline:") for name in summary.metrics)


def test_rerun_of_the_same_run_leaves_the_item_count_unchanged(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    before = pipeline.count_items()
    again = pipeline.execute(_options("xgboost"))
    assert again.succeeded, again.lines()
    assert again.items_written == runs["xgboost"].items_written
    assert pipeline.count_items() == before


def test_injected_failure_is_caught_notified_and_fails_the_execution(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    summary = pipeline.execute(
        _options("xgboost", run_id="e2e-inject", inject_failure=states.TRAIN_MODEL)
    )
    assert summary.status == "FAILED"
    assert summary.last_state == states.PIPELINE_FAILED
    names = [t.name for t in summary.timings]
    assert names[:3] == [states.EXTRACT_DATA, states.TRAIN_MODEL, states.NOTIFY_FAILURE]
    assert summary.error == "States.TaskFailed"
    assert "InjectedFailure" in (summary.cause or "")
    assert any("failure: States.TaskFailed: InjectedFailure" in line for line in summary.lines())


def test_lambda_failure_carries_the_exception_name(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    summary = pipeline.execute(
        _options("pca_kmeans", run_id="e2e-inject-extract", inject_failure=states.EXTRACT_DATA)
    )
    assert summary.status == "FAILED"
    assert summary.error == "InjectedFailure"
    assert [t.name for t in summary.timings][:2] == [states.EXTRACT_DATA, states.NOTIFY_FAILURE]


def test_model_below_the_quality_threshold_is_rejected(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    summary = pipeline.execute(_options("xgboost", run_id="e2e-rejected", quality_threshold=0.0))
    assert summary.last_state == states.MODEL_REJECTED
    assert summary.metrics["validation:mae"] is not None
    assert summary.metrics["validation:mae"] > 0.0
    assert summary.rows_scored == 0
    assert states.CREATE_MODEL not in [t.name for t in summary.timings]
    assert any(line.startswith("  model rejected: ") for line in summary.lines())
    assert summary.quality_threshold == 0.0


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_scored_batch_gets_a_drift_report(runs: dict[str, RunSummary], model_type: str) -> None:
    summary = runs[model_type]
    assert summary.report_dir is not None
    report = json.loads((summary.report_dir / "drift.json").read_text())
    assert report["rows"] == summary.rows_scored
    assert report["psi"] and all(value >= 0 for value in report["psi"].values())
    assert set(report["drifted"]) == {c for c, v in report["psi"].items() if v >= 0.2}
    assert any(line.startswith("  input drift (PSI") for line in summary.lines())
