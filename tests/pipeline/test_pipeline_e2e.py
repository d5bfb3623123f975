"""The synthesized state machine, end to end on moto with the real Lambda, train and serve code.

One moto session (one synth) serves every test; each model family runs once on small generated
data with tiny hyperparameters, and the failure paths run on the same deployment.
"""

from __future__ import annotations

import argparse
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from lambdas.common.errors import WriteFailed
from lambdas.write_predictions.records import RUN_MARKER_PARTITION

from retailsage.evaluation.drift import MIN_BATCH_ROWS
from retailsage.models.registry import MODEL_TYPES
from retailsage.pipeline import states
from retailsage.pipeline.cli import show_command
from retailsage.pipeline.run import LocalPipeline, RunOptions
from retailsage.pipeline.summary import RunSummary
from retailsage.train.gate import IMPROVEMENT_METRIC as IMPROVEMENT

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


ACCEPT_ALL = -1000.0
"""A gate margin every tiny model passes (the gate itself is tested with a real margin below)."""
REJECT_ALL = 1.5
"""A margin no model reaches: the improvement over the best baseline is at most 1."""


def _options(model_type: str, **overrides: Any) -> RunOptions:
    values: dict[str, Any] = {
        "model_type": model_type,
        "rows": ROWS[model_type],
        "hyperparameters": TINY[model_type],
        "run_id": f"e2e-{model_type.replace('_', '-')}",
        "quality_threshold": ACCEPT_ALL,
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
        if item["customer_id"]["S"] == RUN_MARKER_PARTITION:
            continue  # the runs' completion markers
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
    exported = pipeline.runs_dir / runs["xgboost"].run_id / "predictions.parquet"
    first = pd.read_parquet(exported)
    again = pipeline.execute(_options("xgboost"))
    assert again.succeeded, again.lines()
    assert again.items_written == runs["xgboost"].items_written
    assert pipeline.count_items() == before
    # the rerun resumes the finished job's checkpoints at their end: the same predictions
    pd.testing.assert_frame_equal(pd.read_parquet(exported), first)


def test_injected_failure_is_caught_notified_and_fails_the_execution(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    summary = pipeline.execute(
        _options("xgboost", run_id="e2e-inject", inject_failure=states.TRAIN_MODEL)
    )
    assert summary.status == "FAILED"
    assert summary.last_state == states.PIPELINE_FAILED
    names = [t.name for t in summary.timings]
    assert names[:4] == [
        states.EXTRACT_DATA,
        states.WHERE_TO_FEATURIZE,
        states.TRAIN_MODEL,
        states.NOTIFY_FAILURE,
    ]
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
    before = _packages(pipeline)
    summary = pipeline.execute(
        _options("xgboost", run_id="e2e-rejected", quality_threshold=REJECT_ALL)
    )
    assert summary.last_state == states.MODEL_REJECTED
    assert summary.metrics["validation:mae"] is not None
    assert summary.metrics["validation:mae"] > 0.0
    assert summary.metrics[IMPROVEMENT] < REJECT_ALL
    assert summary.rows_scored == 0
    names = [t.name for t in summary.timings]
    assert states.REGISTER_MODEL not in names and states.CREATE_MODEL not in names
    assert any(line.startswith("  model rejected: ") for line in summary.lines())
    assert summary.quality_threshold == REJECT_ALL
    # nothing registered: the latest approved version is still the previous accepted model's
    assert _packages(pipeline) == before
    assert summary.predictions is not None and summary.predictions.rows == 0


def _packages(pipeline: LocalPipeline) -> list[dict[str, Any]]:
    import boto3

    client = boto3.client("sagemaker", region_name=pipeline.account.region)
    group = pipeline._deployment().config.names.model_package_group
    return list(
        client.list_model_packages(ModelPackageGroupName=group, SortBy="CreationTime")[
            "ModelPackageSummaryList"
        ]
    )


def test_gate_metric_is_the_improvement_over_the_best_same_run_baseline(
    runs: dict[str, RunSummary],
) -> None:
    for model_type in ("xgboost", "lstm"):
        metrics = runs[model_type].metrics
        best = min(
            v for k, v in metrics.items() if k.startswith("baseline:") and k.endswith(":mae")
        )
        assert metrics[IMPROVEMENT] == pytest.approx(1 - metrics["validation:mae"] / best, rel=1e-4)
        assert metrics["retailsage:quality_gate"] == pytest.approx(metrics[IMPROVEMENT], rel=1e-5)
    anomaly = runs["pca_kmeans"].metrics
    auc = anomaly["validation:injected_roc_auc"]
    assert 0.5 < auc <= 1.0
    assert anomaly[IMPROVEMENT] == pytest.approx(2 * auc - 1, rel=1e-4)


def test_accepted_models_are_registered_approved_in_the_group(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    packages = _packages(pipeline)
    assert len(packages) >= len(MODEL_TYPES)
    assert {p["ModelApprovalStatus"] for p in packages} == {"Approved"}
    registered = {runs[m].output["registry"]["model_package_arn"] for m in MODEL_TYPES}
    assert registered <= {p["ModelPackageArn"] for p in packages}


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_predictions_are_exported_complete_and_shown(
    runs: dict[str, RunSummary], model_type: str, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = runs[model_type]
    export = summary.predictions
    assert export is not None and export.complete
    assert export.rows == summary.items_written
    frame = pd.read_parquet(export.parquet)
    assert len(frame) == len(pd.read_csv(export.csv)) == summary.items_written
    assert frame[PREDICTION[model_type]].notna().all()
    assert any(line.strip().startswith("predictions:") for line in summary.lines())
    runs_dir = export.parquet.parent.parent
    assert show_command(argparse.Namespace(run_id=summary.run_id, rows=3, runs_dir=runs_dir)) == 0
    assert f"{export.rows:,} predictions" in capsys.readouterr().out


def test_run_marker_is_written_last_and_only_for_complete_runs(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    markers = [i for i in pipeline.scan_items() if i["customer_id"]["S"] == RUN_MARKER_PARTITION]
    published = {m["prediction_key"]["S"] for m in markers}
    for model_type in MODEL_TYPES:
        assert runs[model_type].output["extract"]["run_name"] in published
    assert all(m["run_status"] == {"S": "complete"} for m in markers)


def test_write_failure_leaves_an_unpublished_partial_run(
    pipeline: LocalPipeline,
    runs: dict[str, RunSummary],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import lambdas.write_predictions.writer as writer

    calls = []
    real = writer.batch_write

    def fail_second_object(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise WriteFailed("ValidationException: injected on the second object")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "batch_write", fail_second_object)
    summary = pipeline.execute(_options("xgboost", run_id="e2e-partial"))
    assert summary.status == "FAILED"
    assert states.PUBLISH_RUN not in [t.name for t in summary.timings]
    export = summary.predictions
    assert export is not None and 0 < export.rows < summary.rows_scored
    assert not export.complete
    assert any("INCOMPLETE run" in line for line in summary.lines())
    runs_dir = export.parquet.parent.parent
    assert show_command(argparse.Namespace(run_id="e2e-partial", rows=3, runs_dir=runs_dir)) == 1
    assert "INCOMPLETE" in capsys.readouterr().out


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_scored_batch_gets_a_drift_report(runs: dict[str, RunSummary], model_type: str) -> None:
    summary = runs[model_type]
    assert summary.report_dir is not None
    report = json.loads((summary.report_dir / "drift.json").read_text())
    assert report["rows"] == summary.rows_scored
    if report["rows"] < MIN_BATCH_ROWS:  # the small gap runs: no PSI, every input says why
        assert report["psi"] == {} and report["drifted"] == []
        assert any("too small for PSI" in reason for reason in report["skipped"].values())
    else:
        assert report["psi"] and all(value >= 0 for value in report["psi"].values())
        assert set(report["psi_raw"]) == set(report["psi"])
    assert set(report["drifted"]) == {c for c, v in report["psi"].items() if v >= 0.2}
    assert any(line.startswith("  input drift (PSI") for line in summary.lines())
    if model_type != "pca_kmeans":  # refit_full: the newest training snapshot is last day + 1 - H
        assert report["days_after_training"] == 60


def _objects(prefix_uri: str) -> dict[str, bytes]:
    """Every object under an ``s3://`` prefix (moto), by key relative to the prefix."""
    import boto3

    bucket, _, prefix = prefix_uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]
    return {
        key[len(prefix) :]: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys
    }


def test_processing_featurize_path_matches_the_lambda_path(
    pipeline: LocalPipeline, runs: dict[str, RunSummary]
) -> None:
    lambda_run = runs["xgboost"]
    summary = pipeline.execute(
        _options("xgboost", run_id="e2e-xgboost-processing", featurize="processing")
    )
    assert summary.succeeded, summary.lines()
    entered = [t.name for t in summary.timings]
    assert entered[1:4] == [states.WHERE_TO_FEATURIZE, states.FEATURIZE_DATA, states.TRAIN_MODEL]
    assert states.FEATURIZE_DATA not in [t.name for t in lambda_run.timings]
    assert summary.output is not None and lambda_run.output is not None
    extract, expected = summary.output["extract"], lambda_run.output["extract"]
    assert extract["featurize"] == "processing" and extract["train_rows"] == -1
    counts = summary.output["featurize"]["counts"]  # the job's ExitMessage, parsed
    assert counts["train_rows"] == expected["train_rows"] > 0
    assert counts["scoring_rows"] == expected["scoring_rows"] == summary.rows_scored
    # the same channel and scoring objects, byte for byte, under the run's own prefixes
    for uri in ("train_uri", "scoring_uri"):
        assert _objects(extract[uri]) == _objects(expected[uri]), uri
    # hence the same model quality and the same predictions
    assert summary.metrics["validation:mae"] == pytest.approx(
        lambda_run.metrics["validation:mae"], rel=1e-6
    )
    ours = pd.read_parquet(pipeline.runs_dir / summary.run_id / "predictions.parquet")
    theirs = pd.read_parquet(pipeline.runs_dir / lambda_run.run_id / "predictions.parquet")
    column = PREDICTION["xgboost"]
    pd.testing.assert_series_equal(
        ours.sort_values("customer_id")[column].reset_index(drop=True),
        theirs.sort_values("customer_id")[column].reset_index(drop=True),
        rtol=1e-6,
    )


def test_failed_processing_job_is_caught_and_notified(pipeline: LocalPipeline) -> None:
    summary = pipeline.execute(
        _options(
            "xgboost",
            run_id="e2e-processing-inject",
            featurize="processing",
            inject_failure=states.FEATURIZE_DATA,
        )
    )
    assert summary.status == "FAILED"
    assert [t.name for t in summary.timings][2:4] == [
        states.FEATURIZE_DATA,
        states.NOTIFY_FAILURE,
    ]
    assert summary.error == "States.TaskFailed"
    assert "InjectedFailure" in (summary.cause or "")
