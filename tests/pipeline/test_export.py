"""Predictions export (runs/<id>/predictions.*), its read-back (`pipeline show`), moto reads."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from retailsage.cli import main as retailsage_main
from retailsage.pipeline import cli, moto_patches
from retailsage.pipeline.export import (
    META_FILE,
    export_run,
    is_run_item,
    items_frame,
    list_runs,
    marker_complete,
    read_run,
)
from retailsage.pipeline.progress import ExecutionWatcher, ProgressPrinter

RUN = "retailsage-local-r1"


def _item(customer: str, key: str, score: float) -> dict[str, dict[str, Any]]:
    return {
        "customer_id": {"S": customer},
        "prediction_key": {"S": key},
        "anomaly_score": {"N": str(score)},
        "is_anomaly": {"BOOL": score > 1},
        "InvoiceNo": {"S": "536365"},
        "run_name": {"S": RUN},
        "note": {"NULL": True},
    }


ITEMS = [_item("12347", f"{RUN}#2", 0.5), _item("12346", f"{RUN}#1", 2.5)]
MARKER = {
    "customer_id": {"S": "_run"},
    "prediction_key": {"S": RUN},
    "run_status": {"S": "complete"},
}


def test_items_frame_types_values_and_sorts_by_key() -> None:
    frame = items_frame(ITEMS)
    assert list(frame.columns[:2]) == ["customer_id", "prediction_key"]
    assert frame["customer_id"].tolist() == ["12346", "12347"]
    assert frame["anomaly_score"].tolist() == [2.5, 0.5]
    assert frame["is_anomaly"].tolist() == [True, False]
    assert frame["note"].isna().all()


def test_run_items_exclude_the_marker_and_other_runs() -> None:
    assert is_run_item(ITEMS[0], RUN)
    assert not is_run_item(MARKER, RUN)
    assert not is_run_item(_item("1", "retailsage-local-r10#1", 1.0), RUN)
    assert is_run_item(_item("1", RUN, 1.0), RUN)
    assert marker_complete(MARKER)
    assert not marker_complete(None)
    assert not marker_complete({**MARKER, "run_status": {"S": "started"}})


def test_export_writes_parquet_csv_and_meta_read_back_by_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = export_run(ITEMS, run_id="r1", complete=True, run_dir=tmp_path / "r1")
    assert result.rows == 2
    assert pd.read_parquet(result.parquet)["prediction_key"].tolist() == [f"{RUN}#1", f"{RUN}#2"]
    parquet = pd.read_parquet(result.parquet)
    csv = pd.read_csv(result.csv, dtype={"customer_id": str, "InvoiceNo": str})
    assert csv.columns.tolist() == parquet.columns.tolist()
    for column in ("customer_id", "prediction_key", "anomaly_score", "is_anomaly", "InvoiceNo"):
        assert csv[column].tolist() == parquet[column].tolist(), column
    assert csv["note"].isna().all()
    assert json.loads((tmp_path / "r1" / META_FILE).read_text())["complete"] is True
    assert any("12346" in line for line in result.preview)
    run = read_run(tmp_path, "r1")
    assert (run.rows, run.complete) == (2, True)
    assert run.frame().equals(pd.read_parquet(result.parquet))

    code = cli.show_command(argparse.Namespace(run_id="r1", rows=1, runs_dir=tmp_path))
    out = capsys.readouterr().out
    assert code == 0
    assert "2 predictions" in out and "12346" in out and "1 more rows" in out


def test_show_refuses_an_incomplete_run_and_lists_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export_run(ITEMS[:1], run_id="partial", complete=False, run_dir=tmp_path / "partial",
               last_state="Pipeline Failed")  # fmt: skip
    export_run([], run_id="rejected", complete=False, run_dir=tmp_path / "rejected",
               last_state="Model Rejected")  # fmt: skip
    code = cli.show_command(argparse.Namespace(run_id="partial", rows=5, runs_dir=tmp_path))
    out = capsys.readouterr().out
    assert code == 1
    assert "INCOMPLETE" in out and "12347" not in out
    assert [run.run_id for run in list_runs(tmp_path)] == ["partial", "rejected"]
    assert cli.show_command(argparse.Namespace(run_id=None, rows=5, runs_dir=tmp_path)) == 0
    listing = capsys.readouterr().out
    assert "partial   1 rows, INCOMPLETE (not published; Pipeline Failed)" in listing
    assert "no predictions (Model Rejected)" in listing
    assert retailsage_main(["pipeline", "show", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert "no exported predictions for run 'nope'" in capsys.readouterr().err


def test_stored_items_equal_a_scan_and_count_without_paging() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "customer_id", "KeyType": "HASH"},
                {"AttributeName": "prediction_key", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "customer_id", "AttributeType": "S"},
                {"AttributeName": "prediction_key", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        other = _item("9", "retailsage-local-other#1", 1.0)
        for item in (*ITEMS, MARKER, other):
            client.put_item(TableName="t", Item=item)
        scanned = client.scan(TableName="t")["Items"]
        stored = list(moto_patches.stored_items("123456789012", "us-east-1", "t", RUN))
        expected = [i for i in scanned if i["prediction_key"]["S"].startswith(RUN)]
        key = lambda i: (i["customer_id"]["S"], i["prediction_key"]["S"])  # noqa: E731
        assert sorted(stored, key=key) == sorted(expected, key=key)
        assert moto_patches.stored_item_count("123456789012", "us-east-1", "t") == 4


def test_final_metric_values_are_printed_last_with_their_step() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, metric_interval_s=3600)
    printer.on_metric("job", "validation:mae", 9.9, 1)
    printer.on_metric("job", "validation:mae", 9.695, 2)  # throttled
    printer.on_metric("job", "validation:mae", 9.334, None)  # the final evaluation, throttled
    printer.on_metric("job", "validation:rmse", 12.0, None)
    printer.on_training_output("job", Path("out"))
    lines = [line.strip() for line in stream.getvalue().splitlines()]
    assert lines == [
        "validation:mae=9.9 (step 1)",
        "validation:rmse=12 (final)",
        "validation:mae=9.334 (final)",
    ]


class _History:
    """A Step Functions client stub whose history grows as the test says."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        return {"status": "RUNNING"}

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": list(self.events)}


def test_lambda_and_job_lines_follow_the_state_that_runs_them() -> None:
    import datetime as dt

    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    history = _History()
    watcher = ExecutionWatcher(history, "arn", printer.on_event)
    printer.catch_up = watcher.poll
    stamp = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    history.events.append(
        {"type": "MapStateEntered", "timestamp": stamp,
         "stateEnteredEventDetails": {"name": "Write Predictions"}}
    )  # fmt: skip
    # the poller has not seen the event yet; the Lambda starts and logs
    printer.on_lambda_start("writer")
    printer.line("writer log line")
    printer.on_rows_scored("job", 3)
    watcher.poll()  # the regular poll prints nothing twice
    assert stream.getvalue().splitlines() == [
        "-> Write Predictions",
        "writer log line",
        "   scored 3 rows (3 so far)",
    ]


def test_watcher_backs_off_while_nothing_happens_and_resets_on_news(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from retailsage.pipeline import progress

    history = _History()
    statuses = iter(["RUNNING"] * 7 + ["SUCCEEDED"])
    history.describe_execution = lambda **_: {"status": next(statuses)}  # type: ignore[method-assign]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 4:  # something happens after the fourth wait
            history.events.append({"type": "TaskStateEntered"})

    monkeypatch.setattr(progress.time, "sleep", sleep)
    seen: list[dict[str, Any]] = []
    described = progress.watch_execution(history, "arn", seen.append, poll_s=0.2, max_poll_s=1.0)
    assert described == {"status": "SUCCEEDED"}
    assert seen == [{"type": "TaskStateEntered"}]
    assert sleeps == [0.4, 0.8, 1.0, 1.0, 0.2, 0.4, 0.8]


def test_csv_export_quotes_what_needs_it(tmp_path: Path) -> None:
    awkward = {**ITEMS[0], "InvoiceNo": {"S": 'C536, "x"\nnext'}}
    result = export_run([awkward], run_id="r1", complete=True, run_dir=tmp_path / "r1")
    back = pd.read_csv(result.csv, dtype=str)
    assert back["InvoiceNo"].tolist() == ['C536, "x"\nnext']
    assert back["customer_id"].tolist() == ["12347"]
