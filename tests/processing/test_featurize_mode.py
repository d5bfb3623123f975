"""The image's ``featurize`` mode against the SageMaker Processing contract (no Docker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from retailsage.core.errors import DataError, UserError
from retailsage.core.paths import BASE_DIR_ENV
from retailsage.data.loader import load_transactions
from retailsage.data.synthetic import generate_transactions, write_transactions
from retailsage.features.featurize import FeaturizeSpec, featurize
from retailsage.processing.contract import ProcessingPaths, read_job
from retailsage.processing.featurize_job import main
from retailsage.train.local import ENTRYPOINT

ARGS = ["--model-type", "xgboost", "--training-instances", "2", "--min-scoring-objects", "3"]


def _tree(base: Path, hosts: tuple[str, ...] = ("algo-1",), current: str = "algo-1") -> Path:
    """A Processing tree whose job config names non-default local paths."""
    config = {
        "ProcessingJobName": "featurize-test",
        "ProcessingInputs": [
            {"InputName": "raw", "S3Input": {"LocalPath": "/opt/ml/processing/in/files"}}
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"LocalPath": "/opt/ml/processing/out/t"}},
                {"OutputName": "scoring", "S3Output": {"LocalPath": "/opt/ml/processing/out/s"}},
            ]
        },
    }
    (base / "config").mkdir(parents=True)
    (base / "config" / "processingjobconfig.json").write_text(json.dumps(config))
    resources = {"current_host": current, "hosts": list(hosts)}
    (base / "config" / "resourceconfig.json").write_text(json.dumps(resources))
    raw = base / "processing" / "in" / "files" / "2011" / "transactions.parquet"
    write_transactions(generate_transactions(2_000, seed=3), raw)
    return raw.parent.parent


def _entrypoint_featurize(base: Path) -> subprocess.CompletedProcess[str]:
    """Run ``entrypoint.sh featurize ARGS`` against the tree at ``base``, as the image would."""
    env = {**os.environ, BASE_DIR_ENV: str(base), "RETAILSAGE_PYTHON": sys.executable}
    command = [str(ENTRYPOINT), "featurize", *ARGS]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_contract_maps_the_job_config_into_the_relocated_tree(tmp_path: Path) -> None:
    _tree(tmp_path, hosts=("algo-2", "algo-1"), current="algo-2")
    job = read_job(ProcessingPaths.from_env({BASE_DIR_ENV: str(tmp_path)}))
    assert job.name == "featurize-test"
    assert job.inputs["raw"] == tmp_path / "processing" / "in" / "files"
    assert job.outputs == {
        "train": tmp_path / "processing" / "out" / "t",
        "scoring": tmp_path / "processing" / "out" / "s",
    }
    assert not job.is_first_host
    assert ProcessingPaths.from_env({}).base == Path("/opt/ml")
    with pytest.raises(UserError, match="not under /opt/ml/processing/"):
        ProcessingPaths(tmp_path).local("/opt/ml/model")


def test_defaults_apply_without_config_files(tmp_path: Path) -> None:
    job = read_job(ProcessingPaths(tmp_path))
    assert job.inputs["raw"] == tmp_path / "processing" / "input" / "raw"
    assert job.outputs["train"] == tmp_path / "processing" / "output" / "train"
    assert job.is_first_host and job.hosts == ("algo-1",)


def test_entrypoint_featurize_writes_what_the_shared_featurize_builds(tmp_path: Path) -> None:
    raw_dir = _tree(tmp_path)
    done = _entrypoint_featurize(tmp_path)
    assert done.returncode == 0, done.stderr
    expected = featurize(
        load_transactions(raw_dir),
        FeaturizeSpec("xgboost", training_instances=2, min_scoring_objects=3),
    )
    out = tmp_path / "processing" / "out"
    assert _files(out / "t") == dict(expected.train_objects)  # customer buckets, same bytes
    assert _files(out / "s") == dict(expected.scoring_objects)
    assert len(expected.train_objects) > 1 and len(expected.scoring_objects) == 3
    message = json.loads((tmp_path / "output" / "message").read_text())
    assert message["train_rows"] == expected.train_rows > 0
    assert message["scoring_rows"] == expected.scoring_rows
    assert message["train_objects"] == len(expected.train_objects)
    assert message["eval_cutoff"] == expected.eval_cutoff is not None


def test_bad_input_writes_a_user_error_and_exits_non_zero(tmp_path: Path) -> None:
    raw_dir = _tree(tmp_path)
    for path in raw_dir.rglob("*.parquet"):
        path.unlink()
    bad = raw_dir / "bad.csv"
    bad.write_text("InvoiceNo,Quantity\n1,2\n")
    done = _entrypoint_featurize(tmp_path)
    assert done.returncode == 1
    message = (tmp_path / "output" / "message").read_text()
    assert message.startswith("UserError: ")
    assert "bad.csv" in message or "column" in message.lower()
    assert not (tmp_path / "processing" / "out").exists()  # nothing half-written


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--model-type", "nope"], "invalid choice"),
        (["--model-type", "xgboost", "--as-of", "yesterday"], "--as-of"),
        (["--training-instances", "2"], "--model-type"),
    ],
)
def test_bad_arguments_are_user_errors(tmp_path: Path, argv: list[str], reason: str) -> None:
    _tree(tmp_path)
    assert main(argv, ProcessingPaths(tmp_path)) == 1
    message = (tmp_path / "output" / "message").read_text()
    assert message.startswith("UserError: featurize arguments") and reason in message


def test_empty_input_and_nothing_left_fail_with_a_reason(tmp_path: Path) -> None:
    assert main(["--model-type", "lstm"], ProcessingPaths(tmp_path)) == 1
    assert "holds no files" in (tmp_path / "output" / "message").read_text()
    other = tmp_path / "other"
    raw = other / "processing" / "input" / "raw" / "t.parquet"
    lines = generate_transactions(200, seed=1).assign(CustomerID=pd.NA)  # no known customer
    write_transactions(lines, raw)
    assert main(["--model-type", "xgboost"], ProcessingPaths(other)) == 1
    assert "no purchases by known customers" in (other / "output" / "message").read_text()


def test_a_host_that_is_not_the_first_exits_cleanly_without_output(tmp_path: Path) -> None:
    _tree(tmp_path, hosts=("algo-1", "algo-2"), current="algo-2")
    assert main(ARGS, ProcessingPaths(tmp_path)) == 0
    assert not (tmp_path / "processing" / "out").exists()
    assert not (tmp_path / "output" / "message").exists()


def test_bad_arguments_are_a_user_error_not_a_data_error() -> None:
    from retailsage.processing.featurize_job import parse_spec

    with pytest.raises(UserError, match="featurize arguments") as info:
        parse_spec(["--model-type", "prophet"])
    assert not isinstance(info.value, DataError)
