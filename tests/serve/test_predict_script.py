"""scripts/predict.sh: help, usage errors, the loopback guard, and a real request."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from serve_helpers import gap_csv

from retailsage.serve.local_server import ServerProcess

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "predict.sh"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the script with ``args``; never more than a few seconds."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_help_goes_to_stdout_and_exits_zero() -> None:
    done = run("--help")
    assert done.returncode == 0
    assert "scripts/predict.sh FILE" in done.stdout and done.stderr == ""


def test_missing_arguments_are_a_usage_error() -> None:
    done = run()
    assert done.returncode == 2
    assert "scripts/predict.sh FILE" in done.stderr and done.stdout == ""


def test_non_loopback_urls_are_refused_before_any_request(tmp_path: Path) -> None:
    payload = tmp_path / "rows.csv"
    payload.write_text("1,2\n")
    done = run(str(payload), "text/csv", "text/csv", "http://10.0.0.1:8080/invocations")
    assert done.returncode == 2
    assert "not a loopback URL" in done.stderr


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_posts_the_file_and_prints_the_status(
    xgb_server: ServerProcess, gap_snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    payload = tmp_path / "rows.csv"
    payload.write_bytes(gap_csv(gap_snapshots.head(3)))
    done = run(str(payload), "text/csv", "application/json", f"{xgb_server.url}/invocations")
    assert done.returncode == 0, done.stderr
    body, status = done.stdout.rstrip("\n").rsplit("\n", 1)
    assert status == "[HTTP 200]"
    assert '"predicted_gap_days"' in body
