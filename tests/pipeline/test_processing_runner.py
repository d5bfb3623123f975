"""``CreateProcessingJob`` on moto, run by the local processing runner (``entrypoint.sh``)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from retailsage.core.errors import UserError
from retailsage.data.synthetic import generate_transactions, write_transactions
from retailsage.pipeline.faults import FaultPlan
from retailsage.pipeline.moto_patches import LambdaOutcome, patched_moto
from retailsage.pipeline.processing_runner import ProcessingRunner, processing_command
from retailsage.pipeline.sagemaker_runner import LocalJobLauncher

BUCKET = "processing-test"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


@pytest.fixture
def sagemaker(tmp_path: Path) -> Iterator[tuple[Any, Any, Path]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        raw = tmp_path / "t.parquet"
        write_transactions(generate_transactions(1_500, seed=2), raw)
        s3.upload_file(str(raw), BUCKET, "raw/run/t.parquet")
        runner = ProcessingRunner(s3, tmp_path / "jobs")
        launcher = LocalJobLauncher(None, None, FaultPlan(), runner)  # type: ignore[arg-type]
        with patched_moto(lambda *_: LambdaOutcome(b"{}"), launcher):
            yield boto3.client("sagemaker", region_name="us-east-1"), s3, tmp_path / "jobs"
        launcher.join(30)


def _start(client: Any, name: str, arguments: list[str]) -> dict[str, Any]:
    def output(name: str) -> dict[str, Any]:
        return {
            "OutputName": name,
            "S3Output": {
                "S3Uri": f"s3://{BUCKET}/runs/{name}/",
                "LocalPath": f"/opt/ml/processing/output/{name}",
                "S3UploadMode": "EndOfJob",
            },
        }

    client.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={"ImageUri": "img:1", "ContainerArguments": arguments},
        Environment={"RETAILSAGE_TEST_FLAG": "on"},
        ProcessingInputs=[
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/raw/run/",
                    "LocalPath": "/opt/ml/processing/input/raw",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        ProcessingOutputConfig={"Outputs": [output("train"), output("scoring")]},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 5,
            }
        },
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described = client.describe_processing_job(ProcessingJobName=name)
        if described["ProcessingJobStatus"] not in ("InProgress", "Stopping"):
            return described
        time.sleep(0.1)
    raise AssertionError(f"processing job {name} did not finish")


def test_processing_job_downloads_runs_uploads_and_reports(sagemaker: Any) -> None:
    client, s3, jobs = sagemaker
    described = _start(client, "featurize-ok", ["featurize", "--model-type", "xgboost"])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    counts = json.loads(described["ExitMessage"])
    body = s3.get_object(Bucket=BUCKET, Key="runs/train/transactions.parquet")["Body"].read()
    assert len(pd.read_parquet(io.BytesIO(body))) == counts["train_rows"] > 0
    scoring = s3.get_object(Bucket=BUCKET, Key="runs/scoring/part-00000.jsonl")["Body"].read()
    assert len(scoring.splitlines()) == counts["scoring_rows"] > 0
    config_dir = jobs / "featurize-ok" / "opt_ml" / "config"
    config = json.loads((config_dir / "processingjobconfig.json").read_text())
    assert config["Environment"] == {"RETAILSAGE_TEST_FLAG": "on"}  # kept despite moto
    assert config["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    resources = json.loads((config_dir / "resourceconfig.json").read_text())
    assert resources == {"current_host": "algo-1", "hosts": ["algo-1"]}


def test_failed_container_fails_the_job_with_its_message(sagemaker: Any) -> None:
    client, s3, _ = sagemaker
    described = _start(client, "featurize-bad", ["featurize", "--model-type", "nope"])
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("UserError: featurize arguments")
    assert described["ExitMessage"].strip() == described["FailureReason"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/")  # no upload


def test_only_the_images_entrypoint_runs_locally() -> None:
    job = type("Job", (), {"app_specification": {"ContainerEntrypoint": ["python3"]}})()
    with pytest.raises(UserError, match="ContainerEntrypoint"):
        processing_command(job)
