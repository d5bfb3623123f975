"""Runs the deployed state machine end to end on this machine: moto + the local job runners.

:class:`LocalPipeline` synthesizes the CDK app once, starts moto with its Step Functions engine,
creates the stacks' resources and installs the runners; :meth:`LocalPipeline.execute` then runs
any number of executions in that session (the tests run all three model families in one).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from retailsage.core.errors import UserError
from retailsage.pipeline import gc_policy, s3io
from retailsage.pipeline.asl import LocalAccount
from retailsage.pipeline.deployment import REPO_ROOT, Deployment, synthesize
from retailsage.pipeline.drift_check import check_run_drift
from retailsage.pipeline.export import ExportResult, export_run, is_run_item, marker_complete
from retailsage.pipeline.faults import FaultPlan
from retailsage.pipeline.lambda_runner import LocalLambdaRunner
from retailsage.pipeline.local_aws import LocalResources, ResourceFactory, moto_session
from retailsage.pipeline.moto_patches import patched_moto, stored_item_count, stored_items
from retailsage.pipeline.processing_runner import ProcessingRunner
from retailsage.pipeline.progress import ExecutionWatcher, ProgressPrinter, watch_execution
from retailsage.pipeline.sagemaker_runner import LocalJobLauncher, TrainingRunner
from retailsage.pipeline.summary import RunSummary, summarize
from retailsage.pipeline.transform_runner import TransformRunner

_EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")

DEFAULT_ROWS = 30_000
"""Rows of generated transactions when no ``--data`` is given."""

DEFAULT_CACHE_DIR = REPO_ROOT / "build" / "local-pipeline" / "cdk.out"
"""Synthesized assemblies, keyed by a fingerprint of their sources (``build/`` is ignored)."""

DEFAULT_QUALITY_THRESHOLDS: dict[str, float] = {
    # validation:improvement_over_best_baseline must reach this margin: 1 - model error / best
    # same-run baseline error (MAE for the gap families, 1 - injected-error AUC for pca_kmeans)
    "xgboost": 0.05,
    "lstm": 0.05,
    "pca_kmeans": 0.05,
}
"""Gate margins of the model types the schedule does not run (the schedule's own model type
uses the schedule's margin); the gate's metric and direction come from the stack."""


@dataclass(frozen=True)
class RunOptions:
    """One local execution.

    Attributes:
        model_type: ``xgboost``, ``lstm`` or ``pca_kmeans``.
        data: a transactions file or directory; ``None`` generates ``rows`` transactions.
        rows: generated rows when ``data`` is ``None``.
        seed: seed of the generated data.
        hyperparameters: overrides sent in the execution input (strings, as SageMaker wants).
        quality_threshold: the gate threshold; the model type's default when ``None``.
        inject_failure: a Task state to fail on purpose, or ``None``.
        run_id: the execution name; generated from the time and model type when ``None``.
        featurize: ``lambda`` or ``processing`` (the ``Featurize Data`` SageMaker Processing
            job) forces where the run featurizes; ``None`` leaves it to the extract step
            (``auto``: the Lambda unless the input exceeds its limit).
        drift_threshold: the PSI alarm threshold of the drift check after the run;
            ``RETAILSAGE_DRIFT_PSI_THRESHOLD`` (or 0.2) when ``None``.
    """

    model_type: str = "xgboost"
    data: Path | None = None
    rows: int = DEFAULT_ROWS
    seed: int = 0
    hyperparameters: dict[str, str] = field(default_factory=dict)
    quality_threshold: float | None = None
    inject_failure: str | None = None
    run_id: str | None = None
    featurize: str | None = None
    drift_threshold: float | None = None

    def __post_init__(self) -> None:
        """Reject a run id that is not a valid execution name, and fewer than 1 generated row."""
        if self.run_id is not None and _EXECUTION_NAME.fullmatch(self.run_id) is None:
            raise UserError(f"run id {self.run_id!r} must be 1-80 letters, digits, '-' or '_'")
        if self.data is None and self.rows < 1:  # checked here, before the stacks synthesize
            raise UserError(f"--rows must be at least 1, got {self.rows}")

    def execution_name(self) -> str:
        """The execution name (job names are derived from it, so it is short and safe).

        Returns:
            ``run_id``, or ``<UTC time>-<model type>``.
        """
        if self.run_id:
            return self.run_id
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{self.model_type.replace('_', '-')}"


class LocalPipeline:
    """A moto session with the stacks deployed and the local runners installed."""

    def __init__(
        self,
        stream: TextIO,
        runs_dir: Path = Path("runs"),
        account: LocalAccount | None = None,
        cache_dir: Path = DEFAULT_CACHE_DIR,
    ) -> None:
        """Configure the session; nothing starts before ``__enter__``.

        Args:
            stream: where progress lines go.
            runs_dir: each run's reports are copied to ``runs_dir/<run id>/``.
            account: the local account and region (moto's defaults when omitted).
            cache_dir: where synthesized cloud assemblies are kept between runs.
        """
        self.cache_dir = cache_dir
        self.account = account or LocalAccount()
        self.runs_dir = runs_dir
        self.printer = ProgressPrinter(stream)
        self.faults = FaultPlan()
        self._stack = ExitStack()
        self._work_dir = Path()
        self.deployment: Deployment | None = None
        self.resources = LocalResources()
        self._clients: dict[str, Any] = {}
        self._executed: set[str] = set()

    def __enter__(self) -> LocalPipeline:
        """Synthesize, start moto, create the resources and install the runners."""
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop moto and remove the scratch directory."""
        self._stack.close()

    def _start(self) -> None:
        """Everything ``__enter__`` does, in order."""
        self._work_dir = Path(
            self._stack.enter_context(tempfile.TemporaryDirectory(prefix="retailsage-run-"))
        )
        started = time.perf_counter()
        self.deployment = synthesize(self.account, self.cache_dir)
        seconds = time.perf_counter() - started
        self.printer.line(f"synthesized {len(self.deployment.templates)} stacks in {seconds:.1f} s")
        self._stack.enter_context(moto_session())
        import boto3

        session = boto3.Session(region_name=self.account.region)
        for service in ("s3", "stepfunctions", "dynamodb"):
            self._clients[service] = session.client(service, region_name=self.account.region)
        factory = ResourceFactory(self.deployment.resolver, self.deployment.assembly_dir, session)
        self.resources = factory.create_all()
        s3 = self._clients["s3"]
        jobs = self._work_dir / "jobs"
        training = TrainingRunner(s3, jobs, self.printer)
        transform = TransformRunner(s3, jobs, self.printer)
        processing = ProcessingRunner(s3, jobs)
        self.launcher = LocalJobLauncher(training, transform, self.faults, processing)
        invoker = LocalLambdaRunner(
            self.resources.lambda_code,
            self.faults,
            self.printer.on_lambda_error,
            self.printer.on_lambda_start,
        )
        self._stack.callback(gc_policy.release)  # what the Lambda invocations froze
        self._stack.enter_context(patched_moto(invoker, self.launcher))
        # first out on exit (Ctrl-C mid-job included): no training process or server outlives us
        self._stack.callback(self.launcher.join, 30.0)
        self._stack.callback(transform.stop)
        self._stack.callback(processing.stop)
        self._stack.callback(training.stop)

    @property
    def data_bucket(self) -> str:
        """The data bucket's name."""
        return str(self._deployment().config.names.data_bucket)

    @property
    def table_name(self) -> str:
        """The predictions table's name."""
        return str(self._deployment().config.names.predictions_table)

    def _deployment(self) -> Deployment:
        """The deployment, or an error when the session has not started."""
        if self.deployment is None:
            raise RuntimeError("LocalPipeline is not started; use it as a context manager")
        return self.deployment

    def execute(self, options: RunOptions) -> RunSummary:
        """Upload the data, start one execution, show its progress and summarize it.

        Args:
            options: what to run.

        Returns:
            The run's summary (also when the execution failed).
        """
        deployment = self._deployment()
        run_id = options.execution_name()
        started = time.perf_counter()
        self.printer.reset()
        self.faults.arm(options.inject_failure, deployment.definition())
        source_prefix = self._upload_data(options, run_id)
        execution_input = self._execution_input(options, source_prefix)
        self.printer.line(
            f"run {run_id}: {options.model_type}, input {json.dumps(execution_input)}"
        )
        sfn = self._clients["stepfunctions"]
        if run_id in self._executed:
            self._recreate_state_machine()
        self._executed.add(run_id)
        arn = sfn.start_execution(
            stateMachineArn=self._state_machine_arn(),
            name=run_id,
            input=json.dumps(execution_input),
        )["executionArn"]
        watcher = ExecutionWatcher(sfn, arn, self.printer.on_event)
        self.printer.catch_up = watcher.poll
        try:
            described = watch_execution(sfn, arn, self.printer.on_event, watcher=watcher)
        finally:
            self.printer.catch_up = None
        self.launcher.join(timeout_s=30)
        report_dir = self.runs_dir / run_id
        predictions = self.export_predictions(
            run_id, self.run_name(run_id), report_dir, self.printer.last_state
        )
        summary = summarize(
            run_id=run_id,
            described=described,
            printer=self.printer,
            report_dir=report_dir,
            table_items=self.count_items(),
            wall_s=time.perf_counter() - started,
            quality_threshold=execution_input["quality_threshold"],
            predictions=predictions,
        )
        drift = check_run_drift(
            self._clients["s3"], summary.output, self.runs_dir / run_id, options.drift_threshold
        )
        return replace(summary, drift_lines=tuple(drift))

    def run_name(self, run_id: str) -> str:
        """The run name the extract derives from an execution name (items' sort-key prefix).

        Args:
            run_id: the execution name.

        Returns:
            ``<job prefix>-<run id>`` made SageMaker-safe.
        """
        from lambdas.extract.naming import run_name

        return run_name(self._deployment().config.names.job_prefix, run_id)

    def export_predictions(
        self, run_id: str, run_name: str, run_dir: Path, last_state: str | None = None
    ) -> ExportResult:
        """Export the run's items to ``run_dir/predictions.{parquet,csv,json}``.

        Reads the table's stored items in one pass (moto's paged Scan is quadratic; see
        :func:`~retailsage.pipeline.moto_patches.stored_items`) and the run's marker with a
        GetItem: a run without the marker is exported but recorded as incomplete.

        Args:
            run_id: the execution name.
            run_name: the items' sort-key prefix.
            run_dir: ``runs/<run id>/``.
            last_state: the execution's last state (recorded for ``pipeline show``).

        Returns:
            What was written.
        """
        from lambdas.write_predictions.records import PARTITION_KEY, RUN_MARKER_PARTITION, SORT_KEY

        marker = (
            self._clients["dynamodb"]
            .get_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": RUN_MARKER_PARTITION}, SORT_KEY: {"S": run_name}},
            )
            .get("Item")
        )
        stored = stored_items(
            self.account.account_id, self.account.region, self.table_name, run_name
        )
        items = (item for item in stored if is_run_item(item, run_name))
        return export_run(
            items,
            run_id=run_id,
            complete=marker_complete(marker),
            run_dir=run_dir,
            last_state=last_state,
        )

    def _state_machine_arn(self) -> str:
        """The pipeline state machine's ARN."""
        return self.resources.state_machines[self._deployment().state_machine_id]

    def _recreate_state_machine(self) -> None:
        """Delete and re-create the state machine from the same definition.

        Execution names are unique per state machine, as in AWS. A local re-run of a run id
        (to show that re-running writes no duplicates) needs the same execution name, since
        the run name, job names and item keys all derive from it.
        """
        sfn = self._clients["stepfunctions"]
        arn = self._state_machine_arn()
        role = sfn.describe_state_machine(stateMachineArn=arn)["roleArn"]
        name = arn.rsplit(":", 1)[-1]
        sfn.delete_state_machine(stateMachineArn=arn)
        definition = json.dumps(self._deployment().definition())
        created = sfn.create_state_machine(name=name, definition=definition, roleArn=role)
        self.resources.state_machines[self._deployment().state_machine_id] = created[
            "stateMachineArn"
        ]

    def _execution_input(self, options: RunOptions, source_prefix: str) -> dict[str, Any]:
        """The execution input: the schedule's configured input with this run's overrides.

        The schedule's hyperparameters apply when the run uses the schedule's model type (they
        are that family's); the run's own ``--hp`` values win.
        """
        defaults = dict(self._deployment().config.schedule.execution_input)
        scheduled = defaults.get("model_type") == options.model_type
        threshold = options.quality_threshold
        if threshold is None:
            threshold = (
                float(defaults["quality_threshold"])
                if scheduled
                else DEFAULT_QUALITY_THRESHOLDS[options.model_type]
            )
        hyperparameters: dict[str, str] = {}
        if scheduled:
            hyperparameters.update(
                {k: str(v) for k, v in dict(defaults.get("hyperparameters", {})).items()}
            )
        hyperparameters.update(options.hyperparameters)
        execution_input: dict[str, Any] = {
            "model_type": options.model_type,
            "hyperparameters": hyperparameters,
            "quality_threshold": threshold,
            "source_prefix": source_prefix,
        }
        if options.featurize is not None:
            execution_input["featurize"] = options.featurize
        return execution_input

    def _upload_data(self, options: RunOptions, run_id: str) -> str:
        """Put the run's transactions under ``<raw prefix><run id>/``; return that prefix."""
        prefix = f"{self._deployment().config.raw_prefix}{run_id}/"
        if options.data is None:
            from retailsage.data.synthetic import generate_transactions, write_transactions

            files = [self._work_dir / "data" / run_id / "transactions.parquet"]
            write_transactions(generate_transactions(options.rows, seed=options.seed), files[0])
        elif options.data.is_dir():
            files = sorted(p for p in options.data.rglob("*") if p.is_file())
        else:
            files = [options.data]
        for path in files:
            s3io.upload_file(
                self._clients["s3"], path, f"s3://{self.data_bucket}/{prefix}{path.name}"
            )
        return prefix

    def count_items(self) -> int:
        """Count the items in the predictions table (every run so far, run markers included).

        Returns:
            The item count, from moto's storage (a ``Select=COUNT`` Scan pages quadratically).
        """
        return stored_item_count(self.account.account_id, self.account.region, self.table_name)

    def scan_items(self) -> list[dict[str, Any]]:
        """Return every item of the predictions table (for tests and inspection).

        Returns:
            The items in DynamoDB's attribute-value form.
        """
        paginator = self._clients["dynamodb"].get_paginator("scan")
        return [
            item for page in paginator.paginate(TableName=self.table_name) for item in page["Items"]
        ]
