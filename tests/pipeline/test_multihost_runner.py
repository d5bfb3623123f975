"""The local SageMaker runner honours InstanceCount and ShardedByS3Key (moto S3, real hosts)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from retailsage.data.buckets import split_by_customer
from retailsage.data.cleaning import clean_transactions
from retailsage.data.synthetic import generate_transactions
from retailsage.pipeline.sagemaker_runner import TrainingRunner, channel_distribution
from retailsage.train.local_cluster import host_tree_root

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("multi-host")]
BUCKET = "runner-bucket"


class Recorder:
    """The observer: keeps what the runner reports."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.outputs: list[Path] = []

    def on_metric(self, job_name: str, name: str, value: float, step: int | None = None) -> None:
        self.metrics[name] = value

    def on_training_output(self, job_name: str, output_data_dir: Path) -> None:
        self.outputs.append(output_data_dir)

    def on_rows_scored(self, job_name: str, rows: int) -> None:
        raise AssertionError("no transform here")


def training_job(name: str, instances: int, distribution: str) -> Any:
    """A stand-in for moto's FakeTrainingJob with the fields the runner reads and writes."""
    return SimpleNamespace(
        training_job_name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        hyper_parameters={
            "model_type": "xgboost",
            "num_round": "40",
            "nthread": "1",
            "target": "order_gap",
        },
        checkpoint_config=None,
        input_data_config=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/train/",
                        "S3DataDistributionType": distribution,
                    }
                },
            }
        ],
        resource_config={"InstanceCount": instances, "InstanceType": "ml.m5.xlarge"},
        algorithm_specification={},
        model_artifacts={"S3ModelArtifacts": f"s3://{BUCKET}/models/{name}/output/model.tar.gz"},
    )


def test_a_two_instance_job_runs_two_hosts_on_sharded_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETAILSAGE_COLLECTIVE_TIMEOUT_S", "60")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    lines = clean_transactions(generate_transactions(6_000, seed=9))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for index, part in enumerate(split_by_customer(lines, 4)):
            body = io.BytesIO()
            part.to_parquet(body, index=False)
            s3.put_object(
                Bucket=BUCKET, Key=f"train/part-{index:05d}.parquet", Body=body.getvalue()
            )
        job = training_job("mh-job", 2, "ShardedByS3Key")
        assert channel_distribution(job) == {"train": "ShardedByS3Key"}
        recorder = Recorder()
        TrainingRunner(s3, tmp_path, recorder).run(job)
        assert job.training_job_status == "Completed", getattr(job, "failure_reason", "")
        model = s3.get_object(Bucket=BUCKET, Key="models/mh-job/output/model.tar.gz")["Body"]
        with tarfile.open(fileobj=io.BytesIO(model.read())) as archive:
            assert "manifest.json" in archive.getnames()
    algo1 = tmp_path / "mh-job" / "opt_ml"
    algo2 = host_tree_root(algo1, "algo-2")
    assert len(list((algo1 / "input/data/train").iterdir())) == 2
    assert len(list((algo2 / "input/data/train").iterdir())) == 2
    resource = json.loads((algo2 / "input/config/resourceconfig.json").read_text())
    assert resource["current_host"] == "algo-2" and resource["hosts"] == ["algo-1", "algo-2"]
    assert recorder.metrics["validation:mae"] > 0
    assert {m["MetricName"] for m in job.final_metric_data_list} >= {"validation:mae"}
    report = json.loads((recorder.outputs[0] / "report.json").read_text())
    assert report["data"]["training_hosts"] == ["algo-1", "algo-2"]
