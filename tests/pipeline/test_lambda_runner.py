"""The in-process Lambda runner: real handler modules, their errors, environment and context."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from retailsage.core.errors import UserError
from retailsage.pipeline.faults import FaultPlan
from retailsage.pipeline.lambda_runner import LambdaCode, LocalLambdaRunner

HANDLER = """
import os

from helper import double


class NoNewData(Exception):
    pass


def lambda_handler(event, context):
    if event.get("empty"):
        raise NoNewData("nothing under raw/")
    return {
        "value": double(event["value"]),
        "bucket": os.environ["DATA_BUCKET"],
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


def _function(name: str = "extract") -> Any:
    return SimpleNamespace(
        function_name=name,
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        memory_size=256,
        timeout=30,
        environment_vars={"DATA_BUCKET": "bucket-a"},
    )


@pytest.fixture
def runner(tmp_path: Path) -> LocalLambdaRunner:
    (tmp_path / "handler.py").write_text(HANDLER)
    (tmp_path / "helper.py").write_text("def double(x):\n    return 2 * x\n")
    code = {"extract": LambdaCode(tmp_path, "handler.lambda_handler")}
    return LocalLambdaRunner(code, FaultPlan())


def test_runs_the_handler_with_environment_and_context(runner: LocalLambdaRunner) -> None:
    assert "DATA_BUCKET" not in os.environ
    outcome = runner(_function(), json.dumps({"value": 21}).encode())
    assert outcome.error_type is None
    result = json.loads(outcome.payload)
    assert result["value"] == 42
    assert result["bucket"] == "bucket-a"
    assert result["function"] == "extract"
    assert 0 < result["remaining_ms"] <= 30_000
    assert "DATA_BUCKET" not in os.environ  # restored after the call
    assert runner.invocations == {"extract": 1}


def test_raised_error_class_name_is_the_error_type(runner: LocalLambdaRunner) -> None:
    outcome = runner(_function(), json.dumps({"empty": True}).encode())
    assert outcome.error_type == "NoNewData"
    document = json.loads(outcome.payload)
    assert document["errorType"] == "NoNewData"
    assert document["errorMessage"] == "nothing under raw/"
    assert document["stackTrace"]


def test_injected_failure_replaces_the_handler(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text(HANDLER)
    faults = FaultPlan(functions={"extract"})
    runner = LocalLambdaRunner({"extract": LambdaCode(tmp_path, "handler.lambda_handler")}, faults)
    outcome = runner(_function(), b'{"value": 1}')
    assert outcome.error_type == "InjectedFailure"
    assert runner.invocations == {"extract": 1}


def test_function_without_local_code_fails_as_user_error(runner: LocalLambdaRunner) -> None:
    outcome = runner(_function("unknown"), b"{}")
    assert outcome.error_type == UserError.__name__
    assert "no local code" in json.loads(outcome.payload)["errorMessage"]
