"""Runs the SageMaker jobs moto records: ``entrypoint.sh train`` and ``entrypoint.sh serve``.

:class:`LocalJobLauncher` is the :class:`~retailsage.pipeline.moto_patches.JobLauncher`: each job
runs in a background thread (as SageMaker runs it asynchronously) and updates moto's job object,
so ``DescribeTrainingJob`` / ``DescribeTransformJob`` report the real status, final metrics and
``FailureReason``. The transform half lives in :mod:`retailsage.pipeline.transform_runner`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from retailsage.core.errors import RetailSageError, failure_kind
from retailsage.core.paths import BASE_DIR_ENV
from retailsage.pipeline import s3io
from retailsage.pipeline.faults import PROCESSING, TRAINING, TRANSFORM, FaultPlan
from retailsage.train.local import build_training_tree, pack_model, training_command
from retailsage.train.local_cluster import LocalCluster, build_cluster, run_cluster
from retailsage.train.metrics import METRIC_DEFINITIONS

logger = logging.getLogger(__name__)

STOPPED_CODES = frozenset({143, -15, -9})
"""Exit codes of a host stopped by SIGTERM/SIGKILL (after another host failed)."""
_STEP = re.compile(r";\s+step=(\d+)")

FAILURE_REASON_LIMIT = 1024
"""SageMaker surfaces the first 1,024 characters of ``/opt/ml/output/failure``."""


class JobObserver(Protocol):
    """Receives what the local jobs report while they run (the progress printer)."""

    def on_metric(self, job_name: str, name: str, value: float, step: int | None = None) -> None:
        """A metric line from the training job's stdout (``step``: its `` step=<n>``, if any)."""
        ...

    def on_training_output(self, job_name: str, output_data_dir: Path) -> None:
        """The training job finished; its ``output/data`` reports are in this directory."""
        ...

    def on_rows_scored(self, job_name: str, rows: int) -> None:
        """The transform job wrote ``rows`` more output records."""
        ...


@dataclass(frozen=True)
class MetricParser:
    """Extracts metric values from log lines with SageMaker ``MetricDefinitions`` regexes.

    Attributes:
        patterns: metric name -> compiled regex (first group is the value).
    """

    patterns: Mapping[str, re.Pattern[str]]

    @classmethod
    def from_definitions(cls, definitions: Sequence[Mapping[str, str]] | None) -> MetricParser:
        """Compile a job's definitions; the project's own list when the job has none.

        Args:
            definitions: ``AlgorithmSpecification.MetricDefinitions``.

        Returns:
            The parser.
        """
        chosen = definitions or METRIC_DEFINITIONS
        return cls({item["Name"]: re.compile(item["Regex"]) for item in chosen})

    def parse(self, line: str) -> dict[str, float]:
        """Return every metric the line reports.

        Args:
            line: one stdout line.

        Returns:
            name -> value, for each definition whose regex matches with a numeric value.
        """
        found: dict[str, float] = {}
        for name, pattern in self.patterns.items():
            match = pattern.search(line)
            if match is None:
                continue
            try:
                found[name] = float(match.group(1))
            except ValueError:
                continue
        return found


def failure_reason(failure_file: Path, exit_code: int, job_kind: str = "training") -> str:
    """Return ``FailureReason``: the failure file's first 1,024 characters, or a generic text.

    Args:
        failure_file: ``output/failure`` of the job's tree (``output/message`` of a
            processing job's).
        exit_code: the process exit code.
        job_kind: named in the generic text.

    Returns:
        The reason text.
    """
    if failure_file.is_file():
        text = failure_file.read_text(errors="replace").strip()
        if text:
            return text[:FAILURE_REASON_LIMIT]
    return f"AlgorithmError: the {job_kind} process exited with code {exit_code}"


def now() -> dt.datetime:
    """Return the current UTC time (what moto stores in job timestamps).

    Returns:
        An aware datetime.
    """
    return dt.datetime.now(dt.UTC)


class TrainingRunner:
    """Runs one recorded training job: stage, ``entrypoint.sh train``, pack, report."""

    def __init__(self, s3: Any, work_dir: Path, observer: JobObserver) -> None:
        """Bind the runner to its S3 client, scratch directory and observer.

        Args:
            s3: a boto3 S3 client (moto).
            work_dir: where each job gets a ``<job name>/`` tree.
            observer: receives metrics and the output directory.
        """
        self._s3 = s3
        self._work_dir = work_dir
        self._observer = observer
        self._processes: set[subprocess.Popen[str]] = set()

    def stop(self) -> None:
        """Terminate every training process still running (the session is ending)."""
        for process in list(self._processes):
            process.terminate()  # SIGTERM, as StopTrainingJob sends

    def run(self, job: Any) -> None:
        """Run the job to completion and record the outcome on moto's job object.

        Args:
            job: moto's ``FakeTrainingJob`` (status ``InProgress``).
        """
        base = self._work_dir / job.training_job_name
        checkpoint_uri = (job.checkpoint_config or {}).get("S3Uri")
        local_checkpoints = base / "opt_ml" / "checkpoints"
        channels = self._stage_channels(job, base / "staging")
        instances = instance_count(job)
        cluster = None
        if instances > 1:  # one tree per host; algo-1's is base/opt_ml
            cluster = build_cluster(
                base / "opt_ml",
                channels,
                job.hyper_parameters,
                instance_count=instances,
                distribution=channel_distribution(job),
                checkpoints=bool(checkpoint_uri),
            )
            tree = cluster.trees[0]
        else:
            tree = build_training_tree(
                base / "opt_ml",
                channels,
                job.hyper_parameters,
                checkpoint_dir=local_checkpoints if checkpoint_uri else None,
            )
        if checkpoint_uri and s3io.list_keys(self._s3, checkpoint_uri):
            for host_tree in cluster.trees if cluster else (tree,):  # resume, on every host
                s3io.download_prefix(self._s3, checkpoint_uri, host_tree.base / "checkpoints")
        job.secondary_status = "Training"
        started = time.monotonic()
        failure_file = tree.failure_file
        if cluster is not None:
            code, metrics, failure_file = self._train_cluster(job, cluster)
        else:
            code, metrics = self._train(job, base / "opt_ml")
        job.training_time_in_seconds = job.billable_time_in_seconds = max(
            1, round(time.monotonic() - started)
        )
        if checkpoint_uri:
            s3io.upload_tree(self._s3, local_checkpoints, checkpoint_uri)
        job.final_metric_data_list = [
            {"MetricName": name, "Value": value, "Timestamp": now()}
            for name, value in sorted(metrics.items())
        ]
        self._observer.on_training_output(job.training_job_name, tree.output_data_dir)
        if code != 0:
            _fail_training(job, failure_reason(failure_file, code))
            return
        job.secondary_status = "Uploading"
        model_uri = job.model_artifacts["S3ModelArtifacts"]
        s3io.upload_file(self._s3, pack_model(tree.model_dir, base / "model.tar.gz"), model_uri)
        output_uri = model_uri.rsplit("/", 1)[0] + "/output.tar.gz"
        s3io.upload_tar(self._s3, tree.output_data_dir, output_uri)
        job.training_end_time = job.last_modified_time = now()
        job.training_job_status = job.secondary_status = "Completed"

    def _stage_channels(self, job: Any, staging: Path) -> dict[str, list[Path]]:
        """Download each input channel's S3 prefix (File mode)."""
        channels: dict[str, list[Path]] = {}
        for channel in job.input_data_config:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            name = channel["ChannelName"]
            channels[name] = s3io.download_prefix(self._s3, uri, staging / name)
        return channels

    def _train_cluster(self, job: Any, cluster: LocalCluster) -> tuple[int, dict[str, float], Path]:
        """Run every host's ``entrypoint.sh train``; algo-1's lines carry the metrics.

        Returns the first failing host's exit code and failure file (a host that was only
        stopped because another failed comes last), or 0 and algo-1's.
        """
        metrics: dict[str, float] = {}
        on_line = self._metric_lines(job, metrics, f"{job.training_job_name} algo-1")
        env = training_env(job, cluster.trees[0].base, os.environ)  # each host sets its base
        env["PYTHONUNBUFFERED"] = "1"
        codes = run_cluster(cluster, on_line=on_line, running=self._processes, base_env=env)
        failed = sorted(
            (code in STOPPED_CODES, index) for index, code in enumerate(codes) if code != 0
        )
        if not failed:
            return 0, metrics, cluster.trees[0].failure_file
        index = failed[0][1]
        return codes[index], metrics, cluster.trees[index].failure_file

    def _train(self, job: Any, base: Path) -> tuple[int, dict[str, float]]:
        """Run ``entrypoint.sh train``, streaming its metric lines; return code and metrics."""
        env = training_env(job, base, os.environ)
        metrics: dict[str, float] = {}
        on_line = self._metric_lines(job, metrics, job.training_job_name)
        return run_streaming(training_command(base), env, self._processes, on_line), metrics

    def _metric_lines(
        self, job: Any, metrics: dict[str, float], label: str
    ) -> Callable[[str], None]:
        """Return the handler of a job's output lines: log, parse metrics, tell the observer.

        Args:
            job: moto's ``FakeTrainingJob`` (its ``MetricDefinitions``).
            metrics: updated with the last value of every metric seen.
            label: the log prefix.

        Returns:
            The line handler.
        """
        parser = MetricParser.from_definitions(job.algorithm_specification.get("MetricDefinitions"))

        def on_line(line: str) -> None:
            logger.debug("[%s] %s", label, line.rstrip())
            step = _STEP.search(line)
            for name, value in parser.parse(line).items():
                metrics[name] = value
                self._observer.on_metric(
                    job.training_job_name,
                    name,
                    value,
                    None if step is None else int(step.group(1)),
                )

        return on_line


def run_streaming(
    command: Sequence[str],
    env: Mapping[str, str],
    running: set[subprocess.Popen[str]],
    on_line: Callable[[str], None],
) -> int:
    """Run a job's container process, handing each output line to ``on_line``.

    Args:
        command: the argv.
        env: its environment.
        running: the process is in this set while it runs (so ``stop`` can terminate it).
        on_line: receives every stdout/stderr line.

    Returns:
        The exit code.
    """
    with subprocess.Popen(
        list(command),
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None  # guaranteed by stdout=PIPE
        running.add(process)
        try:
            for line in process.stdout:
                on_line(line)
            return process.wait()
        finally:
            running.discard(process)


def instance_count(job: Any) -> int:
    """The job's ``ResourceConfig.InstanceCount`` (1 when absent).

    Args:
        job: moto's ``FakeTrainingJob``.

    Returns:
        The number of training hosts.
    """
    return max(1, int((job.resource_config or {}).get("InstanceCount", 1)))


def channel_distribution(job: Any) -> dict[str, str]:
    """Each channel's ``S3DataDistributionType`` (``FullyReplicated`` when absent).

    Args:
        job: moto's ``FakeTrainingJob``.

    Returns:
        Channel name -> distribution type.
    """
    return {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"].get(
            "S3DataDistributionType", "FullyReplicated"
        )
        for channel in job.input_data_config
    }


def training_env(job: Any, base: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Return the environment of a local training process.

    With ``EnableNetworkIsolation`` SageMaker gives the container no AWS credentials or
    endpoints; the local run drops every ``AWS_*`` variable likewise, so a job that needed them
    would fail here as it would in SageMaker (the image needs none).

    Args:
        job: moto's ``FakeTrainingJob``.
        base: the job's ``/opt/ml`` tree.
        environ: the parent environment.

    Returns:
        The environment for ``entrypoint.sh train``.
    """
    env = dict(environ)
    if getattr(job, "enable_network_isolation", False):
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    env.update(
        {
            BASE_DIR_ENV: str(base),
            "RETAILSAGE_PYTHON": sys.executable,
            "TRAINING_JOB_NAME": job.training_job_name,
            "TRAINING_JOB_ARN": job.arn,
        }
    )
    return env


def _fail_training(job: Any, reason: str) -> None:
    """Record a failed training job on moto's job object."""
    job.failure_reason = reason
    job.training_end_time = job.last_modified_time = now()
    job.training_job_status = "Failed"
    job.secondary_status = "Failed"


def _fail_transform(job: Any, reason: str) -> None:
    """Record a failed transform job on moto's job object."""
    job.failure_reason = reason
    job.transform_end_time = job.last_modified_time = now()
    job.transform_job_status = "Failed"


class TransformJobRunner(Protocol):
    """Runs one recorded transform job (see :mod:`retailsage.pipeline.transform_runner`)."""

    def run(self, job: Any, backend: Any) -> None:
        """Run the job and record its outcome on moto's job object."""
        ...


class ProcessingJobRunner(Protocol):
    """Runs one recorded processing job (see :mod:`retailsage.pipeline.processing_runner`)."""

    def run(self, job: Any) -> None:
        """Run the job and record its outcome on moto's job object."""
        ...


def fail_processing(job: Any, reason: str) -> None:
    """Record a failed processing job on moto's job object.

    Args:
        job: moto's ``FakeProcessingJob``.
        reason: ``FailureReason`` (cut to 1,024 characters).
    """
    job.failure_reason = reason[:FAILURE_REASON_LIMIT]
    job.processing_end_time = job.last_modified_time = now()
    job.processing_job_status = "Failed"


class LocalJobLauncher:
    """Starts each recorded job in a background thread; failures become ``Failed`` jobs."""

    def __init__(
        self,
        training: TrainingRunner,
        transform: TransformJobRunner,
        faults: FaultPlan,
        processing: ProcessingJobRunner | None = None,
    ) -> None:
        """Bind the launcher to its runners.

        Args:
            training: runs training jobs.
            transform: runs transform jobs.
            faults: job kinds in ``faults.jobs`` fail on purpose (``--inject-failure``).
            processing: runs processing jobs (``None``: they fail, naming the missing runner).
        """
        self._training = training
        self._transform = transform
        self._processing = processing
        self._faults = faults
        self.threads: list[threading.Thread] = []

    def start_training(self, job: Any) -> None:
        """Start a training job (:class:`~retailsage.pipeline.moto_patches.JobLauncher`).

        Args:
            job: moto's ``FakeTrainingJob``.
        """
        run = lambda: self._training.run(job)  # noqa: E731
        self._launch(TRAINING, job.training_job_name, run, job, _fail_training)

    def start_transform(self, job: Any, backend: Any) -> None:
        """Start a transform job (:class:`~retailsage.pipeline.moto_patches.JobLauncher`).

        Args:
            job: moto's ``FakeTransformJob``.
            backend: moto's SageMaker backend (resolves the job's model).
        """
        run = lambda: self._transform.run(job, backend)  # noqa: E731
        self._launch(TRANSFORM, job.transform_job_name, run, job, _fail_transform)

    def start_processing(self, job: Any) -> None:
        """Start a processing job (:class:`~retailsage.pipeline.moto_patches.JobLauncher`).

        Args:
            job: moto's ``FakeProcessingJob``.
        """
        runner = self._processing
        if runner is None:
            fail_processing(job, "PlatformError: no local runner for processing jobs")
            return
        run = lambda: runner.run(job)  # noqa: E731
        self._launch(PROCESSING, job.processing_job_name, run, job, fail_processing)

    def _launch(
        self,
        kind: str,
        name: str,
        run: Callable[[], None],
        job: Any,
        fail: Callable[[Any, str], None],
    ) -> None:
        """Fail the job at once when ``--inject-failure`` names its kind, else start it."""
        if kind in self._faults.jobs:
            fail(job, f"InjectedFailure: failure injected into the {kind} job")
            return
        self._start(name, run, job, fail)

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for every job thread (used when the run ends).

        Args:
            timeout_s: how long to wait for each thread.
        """
        for thread in self.threads:
            thread.join(timeout_s)

    def _start(
        self, name: str, run: Callable[[], None], job: Any, fail: Callable[[Any, str], None]
    ) -> None:
        """Run ``run`` in a daemon thread; any exception fails the job with its kind."""

        def target() -> None:
            try:
                run()
            except RetailSageError as exc:
                fail(job, f"{failure_kind(exc)}: {exc}"[:FAILURE_REASON_LIMIT])
            except Exception as exc:  # a crash of the local runner itself
                logger.exception("local job %s crashed", name)
                fail(job, f"PlatformError: {type(exc).__name__}: {exc}"[:FAILURE_REASON_LIMIT])

        thread = threading.Thread(target=target, name=f"job-{name}", daemon=True)
        self.threads.append(thread)
        thread.start()
