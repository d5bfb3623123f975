"""Runs one recorded SageMaker Processing job: ``entrypoint.sh <ContainerArguments>`` locally.

What SageMaker does for ``CreateProcessingJob``, without Docker: write
``config/processingjobconfig.json`` and ``config/resourceconfig.json`` into a ``/opt/ml``-shaped
tree, download every ``S3Input`` prefix to its ``LocalPath`` (mapped into the tree), run the
image's ENTRYPOINT (this checkout's ``entrypoint.sh``) with ``ContainerArguments`` and the job's
``Environment`` and ``SAGEMAKER_BASE_DIR`` pointing at the tree, then upload every ``S3Output``
``LocalPath`` (``EndOfJob``) and record ``ExitMessage`` (``output/message``) on moto's job. A
non-zero exit fails the job with that message as ``FailureReason``.

A multi-instance job runs its first host only: the ``featurize`` mode does its work there and
any other host exits at once without output (``docs/pipeline.md``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retailsage.core.errors import UserError
from retailsage.core.paths import BASE_DIR_ENV
from retailsage.pipeline import s3io
from retailsage.pipeline.sagemaker_runner import (
    FAILURE_REASON_LIMIT,
    fail_processing,
    failure_reason,
    now,
    run_streaming,
)
from retailsage.processing.contract import ProcessingPaths
from retailsage.train.local import ENTRYPOINT

logger = logging.getLogger(__name__)


def job_config(job: Any) -> dict[str, Any]:
    """Return ``processingjobconfig.json``: the job's CreateProcessingJob request.

    Args:
        job: moto's ``FakeProcessingJob`` (with ``environment`` and ``processing_resources``
            recorded by :mod:`retailsage.pipeline.moto_patches`).

    Returns:
        The request fields SageMaker writes into the file.
    """
    return {
        "ProcessingJobArn": job.arn,
        "ProcessingJobName": job.processing_job_name,
        "AppSpecification": job.app_specification or {},
        "Environment": getattr(job, "environment", None) or {},
        "ProcessingInputs": job.processing_inputs or [],
        "ProcessingOutputConfig": job.processing_output_config or {},
        "ProcessingResources": getattr(job, "processing_resources", None) or {},
        "RoleArn": job.role_arn,
        "StoppingCondition": job.stopping_condition or {},
    }


def host_names(job: Any) -> list[str]:
    """Return ``algo-1 .. algo-n`` for the job's ``ClusterConfig.InstanceCount``.

    Args:
        job: moto's ``FakeProcessingJob``.

    Returns:
        The host names.
    """
    cluster = (getattr(job, "processing_resources", None) or {}).get("ClusterConfig") or {}
    return [f"algo-{index}" for index in range(1, max(1, int(cluster.get("InstanceCount", 1))) + 1)]


def processing_command(job: Any) -> list[str]:
    """Return the argv of the job's container: the image's ENTRYPOINT and its arguments.

    Args:
        job: moto's ``FakeProcessingJob``.

    Returns:
        ``[entrypoint.sh, *ContainerArguments]``.

    Raises:
        UserError: the job overrides ``ContainerEntrypoint`` (only the image's ENTRYPOINT
            has a local stand-in).
    """
    spec = job.app_specification or {}
    if spec.get("ContainerEntrypoint"):
        raise UserError("the local runner runs the image's ENTRYPOINT; ContainerEntrypoint is set")
    return [str(ENTRYPOINT), *(str(arg) for arg in spec.get("ContainerArguments") or [])]


def processing_env(job: Any, base: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Return the container's environment: the parent's, the job's ``Environment``, the tree.

    Args:
        job: moto's ``FakeProcessingJob``.
        base: the job's ``/opt/ml`` tree.
        environ: the parent environment.

    Returns:
        The environment (``AWS_*`` dropped: the container reads and writes only local paths).
    """
    env = {k: v for k, v in environ.items() if not k.startswith("AWS_")}
    env.update({str(k): str(v) for k, v in (getattr(job, "environment", None) or {}).items()})
    env.update({BASE_DIR_ENV: str(base), "RETAILSAGE_PYTHON": sys.executable})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ProcessingRunner:
    """Runs processing jobs with this checkout's ``entrypoint.sh`` in a subprocess."""

    def __init__(self, s3: Any, work_dir: Path) -> None:
        """Bind the runner to its S3 client and scratch directory.

        Args:
            s3: a boto3 S3 client (moto).
            work_dir: where each job gets a ``<job name>/opt_ml`` tree.
        """
        self._s3 = s3
        self._work_dir = work_dir
        self._processes: set[subprocess.Popen[str]] = set()

    def stop(self) -> None:
        """Terminate every container process still running (the session is ending)."""
        for process in list(self._processes):
            process.terminate()

    def run(self, job: Any) -> None:
        """Run the job to completion and record the outcome on moto's job object.

        Args:
            job: moto's ``FakeProcessingJob`` (status ``InProgress``).

        Raises:
            UserError: an input prefix is empty, or a ``LocalPath`` is outside
                ``/opt/ml/processing/`` (the launcher turns this into ``FailureReason``).
        """
        paths = ProcessingPaths(self._work_dir / job.processing_job_name / "opt_ml")
        config = job_config(job)
        hosts = host_names(job)
        paths.job_config_file.parent.mkdir(parents=True, exist_ok=True)
        paths.job_config_file.write_text(json.dumps(config, default=str), encoding="utf-8")
        paths.resource_config_file.write_text(
            json.dumps({"current_host": hosts[0], "hosts": hosts}), encoding="utf-8"
        )
        for item in config["ProcessingInputs"]:
            source = item["S3Input"]
            s3io.download_prefix(self._s3, source["S3Uri"], paths.local(source["LocalPath"]))
        code = self._execute(job, paths.base)
        message = (
            paths.message_file.read_text(errors="replace")[:FAILURE_REASON_LIMIT]
            if paths.message_file.is_file()
            else ""
        )
        if message:
            job.exit_message = message
        if code != 0:
            fail_processing(job, failure_reason(paths.message_file, code, "processing"))
            return
        for item in config["ProcessingOutputConfig"].get("Outputs") or []:
            target = item["S3Output"]
            s3io.upload_tree(self._s3, paths.local(target["LocalPath"]), target["S3Uri"])
        job.processing_end_time = job.last_modified_time = now()
        job.processing_job_status = "Completed"

    def _execute(self, job: Any, base: Path) -> int:
        """Run the container process, logging its output; return its exit code."""

        def on_line(line: str) -> None:
            logger.debug("[%s] %s", job.processing_job_name, line.rstrip())

        env = processing_env(job, base, os.environ)
        return run_streaming(processing_command(job), env, self._processes, on_line)
