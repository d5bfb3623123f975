"""Pure parts of the job runners and the progress printer: metrics, failures, joins, timings."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from retailsage.core.errors import UserError
from retailsage.pipeline.progress import ProgressPrinter, readable_cause
from retailsage.pipeline.sagemaker_runner import (
    FAILURE_REASON_LIMIT,
    MetricParser,
    failure_reason,
    training_env,
)
from retailsage.pipeline.transform_runner import join_with_input
from retailsage.train.metrics import METRIC_DEFINITIONS


def test_metric_parser_uses_the_job_definitions() -> None:
    parser = MetricParser.from_definitions([{"Name": "validation:mae", "Regex": "mae=(\\S+?);"}])
    assert parser.parse("validation:mae=12.5; step=3") == {"validation:mae": 12.5}
    assert parser.parse("validation:mae=nan-ish;") == {}
    assert parser.parse("nothing here") == {}


def test_metric_parser_defaults_to_the_project_definitions() -> None:
    parser = MetricParser.from_definitions(None)
    assert set(parser.patterns) == {item["Name"] for item in METRIC_DEFINITIONS}
    assert parser.parse("validation:rmse=3.25;") == {"validation:rmse": 3.25}


def test_failure_reason_is_the_failure_file_truncated(tmp_path: Path) -> None:
    failure = tmp_path / "failure"
    failure.write_text("UserError: bad eta\n" + "x" * 2000)
    reason = failure_reason(failure, 1)
    assert reason.startswith("UserError: bad eta")
    assert len(reason) == FAILURE_REASON_LIMIT


def test_failure_reason_without_a_failure_file_names_the_exit_code(tmp_path: Path) -> None:
    assert failure_reason(tmp_path / "failure", 137) == (
        "AlgorithmError: the training process exited with code 137"
    )


@pytest.mark.parametrize(
    ("content_type", "record", "prediction", "joined"),
    [
        (
            "application/jsonlines",
            b'{"CustomerID": 7}',
            b'{"predicted_gap_days": 3.5}',
            {"CustomerID": 7, "SageMakerOutput": {"predicted_gap_days": 3.5}},
        ),
        ("text/csv", b"7,2011-12-01", b"3.5", "7,2011-12-01,3.5"),
    ],
)
def test_join_with_input_follows_sagemaker(
    content_type: str, record: bytes, prediction: bytes, joined: object
) -> None:
    result = join_with_input(record, prediction, content_type)
    assert (json.loads(result) if content_type != "text/csv" else result.decode()) == joined


def test_join_with_input_rejects_non_object_json() -> None:
    with pytest.raises(UserError, match="JSON object"):
        join_with_input(b"[1, 2]", b"{}", "application/jsonlines")
    with pytest.raises(UserError, match="JSON object"):
        join_with_input(b'{"a": }', b'{"error": "bad line"}', "application/jsonlines")


@pytest.mark.parametrize(
    ("record", "prediction"),
    [
        (b'{"CustomerID": 7, "d": "a,}{\\"b"}', b'{"predicted_gap_days": 3.5}'),
        (b"  {}  ", b'{"p": 1}'),
        (b'{ "x" : [1, {"y": null}] }', b' {"p": [0.5, 2]} '),
        (b'{"SageMakerOutput": 1, "k": 2}', b'{"p": 1}'),
        (b'{"k": 2}', b'{"error": "bad line 1", "p": null}'),
    ],
)
def test_join_with_input_bytes_equal_a_parsed_join(record: bytes, prediction: bytes) -> None:
    expected = {**json.loads(record), "SageMakerOutput": json.loads(prediction)}
    assert json.loads(join_with_input(record, prediction, "application/jsonlines")) == expected


def _event(kind: str, name: str, second: int) -> dict[str, object]:
    detail = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
    stamp = dt.datetime(2026, 11, 22, 12, 0, second, tzinfo=dt.UTC)
    return {"type": kind, "timestamp": stamp, detail: {"name": name}}


def test_progress_printer_times_states_and_counts_rows() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    for event in (
        _event("TaskStateEntered", "Train Model", 0),
        _event("TaskStateExited", "Train Model", 12),
        _event("ChoiceStateEntered", "Quality Gate", 12),
    ):
        printer.on_event(event)
    printer.on_rows_scored("job", 10)
    printer.on_rows_scored("job", 5)
    assert [(t.name, t.seconds) for t in printer.timings] == [("Train Model", 12.0)]
    assert printer.last_state == "Quality Gate"
    assert printer.rows_scored == 15
    assert "<- Train Model (12.0 s)" in stream.getvalue()
    printer.reset()
    assert (printer.timings, printer.rows_scored, printer.last_state) == ([], 0, None)


def test_progress_printer_throttles_streamed_metrics() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, metric_interval_s=3600)
    for value in (3.0, 2.0, 1.0):
        printer.on_metric("job", "validation:mae", value)
    assert printer.metrics == {"validation:mae": 1.0}
    assert stream.getvalue().count("validation:mae") == 1


@pytest.mark.parametrize(
    ("cause", "readable"),
    [
        ('{"errorMessage": "no rows", "errorType": "NoNewData"}', "no rows"),
        ('{"TrainingJobStatus": "Failed", "FailureReason": "UserError: x"}', "UserError: x"),
        ("plain text", "plain text"),
        (None, ""),
    ],
)
def test_readable_cause(cause: str | None, readable: str) -> None:
    assert readable_cause(cause) == readable


@pytest.mark.parametrize("run_id", ["", "has space", "x" * 81, "slash/no"])
def test_run_options_reject_invalid_execution_names(run_id: str) -> None:
    from retailsage.pipeline.run import RunOptions

    with pytest.raises(UserError, match="run id"):
        RunOptions(run_id=run_id)


@pytest.mark.parametrize("rows", ["0", "-5"])
def test_pipeline_run_rejects_fewer_than_one_row_before_starting(
    rows: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from retailsage.cli import main
    from retailsage.pipeline import run

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the pipeline started despite the bad --rows")

    monkeypatch.setattr(run, "LocalPipeline", refuse)
    assert main(["pipeline", "run", "--rows", rows, "--runs-dir", str(tmp_path)]) == 2
    assert f"--rows must be at least 1, got {rows}" in capsys.readouterr().err


@pytest.mark.parametrize("isolated", [True, False])
def test_local_training_env_follows_network_isolation(tmp_path: Path, isolated: bool) -> None:
    job = SimpleNamespace(training_job_name="job", arn="arn:job", enable_network_isolation=isolated)
    parent = {"AWS_ACCESS_KEY_ID": "x", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "HOME": "/h"}
    env = training_env(job, tmp_path, parent)
    assert env["HOME"] == "/h"
    assert env["SAGEMAKER_BASE_DIR"] == str(tmp_path)
    assert env["TRAINING_JOB_NAME"] == "job"
    assert ("AWS_ACCESS_KEY_ID" in env) is not isolated
    assert ("AWS_ENDPOINT_URL" in env) is not isolated
