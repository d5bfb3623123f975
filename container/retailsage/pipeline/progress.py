"""Live progress of a local execution: states entered/exited, training metrics, rows scored."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class StateTiming:
    """How long one state took.

    Attributes:
        name: the state name.
        seconds: entered -> exited wall time.
    """

    name: str
    seconds: float


@dataclass
class ProgressPrinter:
    """Writes one line per event to a stream; thread-safe (jobs report from their threads).

    Also the :class:`~retailsage.pipeline.sagemaker_runner.JobObserver`, and it keeps what the
    summary needs: state timings, the last metrics, rows scored, the training output directory.

    Attributes:
        stream: where the lines go (the CLI passes ``sys.stdout``).
        timings: finished states, in order.
        metrics: the last value of every training metric.
        rows_scored: records written by transform jobs.
        training_output: the training job's ``output/data`` directory, once it finished.
        metric_interval_s: a metric's streamed value is shown at most this often.
        last_state: the last state entered.
    """

    stream: TextIO
    timings: list[StateTiming] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    rows_scored: int = 0
    training_output: Path | None = None
    last_state: str | None = None
    metric_interval_s: float = 1.0
    _entered: dict[str, dt.datetime] = field(default_factory=dict)
    _shown: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Forget the previous run (one printer serves every run of a session)."""
        with self._lock:
            self.timings.clear()
            self.metrics.clear()
            self.rows_scored = 0
            self.training_output = None
            self.last_state = None
            self._entered.clear()
            self._shown.clear()

    def line(self, text: str) -> None:
        """Write one line and flush.

        Args:
            text: the line, without its newline.
        """
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def on_event(self, event: dict[str, Any]) -> None:
        """Report one execution-history event (state entered/exited, task failures, retries).

        Args:
            event: an item of ``GetExecutionHistory``'s ``events``.
        """
        kind = event["type"]
        stamp = event["timestamp"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            self._entered[name] = stamp
            self.last_state = name
            self.line(f"-> {name}")
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            seconds = (stamp - self._entered.get(name, stamp)).total_seconds()
            self.timings.append(StateTiming(name, seconds))
            self.line(f"<- {name} ({seconds:.1f} s)")
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "MapRunFailed"):
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            cause = readable_cause(details.get("cause"))
            self.line(f"   ! {details.get('error', 'error')}: {_short(cause)}")

    def on_lambda_error(self, function: str, error_type: str, message: str) -> None:
        """Report a failed Lambda invocation (also those inside a Distributed Map).

        Args:
            function: the function name.
            error_type: the exception's class name.
            message: its message.
        """
        self.line(f"   ! Lambda {function} raised {error_type}: {_short(message)}")

    def on_metric(self, job_name: str, name: str, value: float) -> None:
        """Report a metric line streamed from the training job.

        Args:
            job_name: the training job.
            name: metric name.
            value: metric value.
        """
        self.metrics[name] = value
        now = time.monotonic()
        # per-iteration metrics arrive hundreds of times a second; show each at most once a
        # second (the summary has the final values)
        if now - self._shown.get(name, -math.inf) >= self.metric_interval_s:
            self._shown[name] = now
            self.line(f"   {name}={value:.6g}")

    def on_training_output(self, job_name: str, output_data_dir: Path) -> None:
        """Remember where the training job's reports are.

        Args:
            job_name: the training job.
            output_data_dir: its ``output/data`` directory.
        """
        self.training_output = output_data_dir

    def on_rows_scored(self, job_name: str, rows: int) -> None:
        """Report records written by the transform job.

        Args:
            job_name: the transform job.
            rows: records just written.
        """
        with self._lock:
            self.rows_scored += rows
            total = self.rows_scored
        self.line(f"   scored {rows:,} rows ({total:,} so far)")


def readable_cause(cause: str | None) -> str:
    """The human part of a Step Functions cause.

    Args:
        cause: the cause text: a Lambda error document, a ``Describe*Job`` document, or text.

    Returns:
        ``errorMessage`` or ``FailureReason`` when the cause is such a document, else the text.
    """
    if not cause:
        return ""
    try:
        document = json.loads(cause)
    except json.JSONDecodeError:
        return cause
    if isinstance(document, dict):
        for key in ("FailureReason", "errorMessage"):
            if key in document:
                return str(document[key])
    return cause


def _short(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def history_events(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    """Yield every event of an execution's history so far, in order.

    Args:
        sfn: a boto3 Step Functions client.
        execution_arn: the execution.

    Yields:
        History events.
    """
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return


def watch_execution(
    sfn: Any,
    execution_arn: str,
    on_event: Callable[[dict[str, Any]], None],
    *,
    poll_s: float = 0.2,
    timeout_s: float = 3600.0,
) -> dict[str, Any]:
    """Poll an execution until it ends, passing each new history event to ``on_event``.

    Args:
        sfn: a boto3 Step Functions client.
        execution_arn: the execution.
        on_event: called once per event, in order.
        poll_s: seconds between polls.
        timeout_s: give up (and raise) after this long.

    Returns:
        The final ``DescribeExecution`` response.

    Raises:
        TimeoutError: the execution did not end within ``timeout_s``.
    """
    seen = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        events = list(history_events(sfn, execution_arn))
        for event in events[seen:]:
            on_event(event)
        seen = len(events)
        if described["status"] in _TERMINAL:
            return described
        time.sleep(poll_s)
    raise TimeoutError(f"execution {execution_arn} still running after {timeout_s:.0f} s")
