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
        catch_up: prints the execution's pending history events (the current run's
            :meth:`ExecutionWatcher.poll`); called before a job or Lambda prints, so its lines
            appear under the state that runs it. Never called while holding the printer lock.
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
    catch_up: Callable[[], Any] | None = None
    _steps: dict[str, int | None] = field(default_factory=dict)
    _unshown: set[str] = field(default_factory=set)
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
            self._steps.clear()
            self._unshown.clear()

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

    def _catch_up(self) -> None:
        """Print the history events not printed yet (see ``catch_up``)."""
        if self.catch_up is not None:
            self.catch_up()

    def on_lambda_start(self, function: str) -> None:
        """A Lambda invocation is about to run: show the state it runs in first.

        Args:
            function: the function name.
        """
        self._catch_up()

    def on_lambda_error(self, function: str, error_type: str, message: str) -> None:
        """Report a failed Lambda invocation (also those inside a Distributed Map).

        Args:
            function: the function name.
            error_type: the exception's class name.
            message: its message.
        """
        self.line(f"   ! Lambda {function} raised {error_type}: {_short(message)}")

    def on_metric(self, job_name: str, name: str, value: float, step: int | None = None) -> None:
        """Report a metric line streamed from the training job.

        Args:
            job_name: the training job.
            name: metric name.
            value: metric value.
            step: the epoch/round of a per-iteration value; ``None`` for a final one.
        """
        if not self.metrics:
            self._catch_up()  # the first metric of the job: "-> Train Model" first
        self.metrics[name] = value
        self._steps[name] = step
        now = time.monotonic()
        # per-iteration metrics arrive hundreds of times a second; show each at most once a
        # second, and every metric's last value when the job ends (flush_metrics)
        if now - self._shown.get(name, -math.inf) >= self.metric_interval_s:
            self._shown[name] = now
            self._unshown.discard(name)
            self.line(f"   {_metric_text(name, value, step)}")
        else:
            self._unshown.add(name)

    def flush_metrics(self) -> None:
        """Print the last value (and step) of every metric whose last value was not shown.

        Called when the training job ends, so the last streamed line of each metric is its
        final value, the one the summary reports.
        """
        for name in sorted(self._unshown):
            self.line(f"   {_metric_text(name, self.metrics[name], self._steps.get(name))}")
        self._unshown.clear()

    def on_training_output(self, job_name: str, output_data_dir: Path) -> None:
        """Remember where the training job's reports are.

        Args:
            job_name: the training job.
            output_data_dir: its ``output/data`` directory.
        """
        self.flush_metrics()
        self.training_output = output_data_dir

    def on_rows_scored(self, job_name: str, rows: int) -> None:
        """Report records written by the transform job.

        Args:
            job_name: the transform job.
            rows: records just written.
        """
        self._catch_up()
        with self._lock:
            self.rows_scored += rows
            total = self.rows_scored
        self.line(f"   scored {rows:,} rows ({total:,} so far)")


def _metric_text(name: str, value: float, step: int | None) -> str:
    """``name=value`` plus `` (step n)`` for per-iteration values, `` (final)`` otherwise."""
    return f"{name}={value:.6g} " + ("(final)" if step is None else f"(step {step})")


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


class ExecutionWatcher:
    """Prints an execution's new history events; thread-safe.

    Job and Lambda threads call :meth:`poll` before they print, so their lines appear under the
    state that runs them.
    """

    def __init__(
        self, sfn: Any, execution_arn: str, on_event: Callable[[dict[str, Any]], None]
    ) -> None:
        """Bind the watcher to one execution.

        Args:
            sfn: a boto3 Step Functions client.
            execution_arn: the execution.
            on_event: called once per event, in order.
        """
        self._sfn = sfn
        self._arn = execution_arn
        self._on_event = on_event
        self._seen = 0
        self._lock = threading.Lock()

    def poll(self) -> dict[str, Any]:
        """Pass every event not seen yet to ``on_event``.

        Returns:
            The ``DescribeExecution`` response read before the history.
        """
        with self._lock:
            described: dict[str, Any] = self._sfn.describe_execution(executionArn=self._arn)
            events = list(history_events(self._sfn, self._arn))
            for event in events[self._seen :]:
                self._on_event(event)
            self._seen = len(events)
            return described

    @property
    def seen(self) -> int:
        """The number of history events passed to ``on_event`` so far."""
        return self._seen


def watch_execution(
    sfn: Any,
    execution_arn: str,
    on_event: Callable[[dict[str, Any]], None],
    *,
    poll_s: float = 0.2,
    max_poll_s: float = 1.0,
    timeout_s: float = 3600.0,
    watcher: ExecutionWatcher | None = None,
) -> dict[str, Any]:
    """Poll an execution until it ends, passing each new history event to ``on_event``.

    Args:
        sfn: a boto3 Step Functions client.
        execution_arn: the execution.
        on_event: called once per event, in order.
        poll_s: seconds between polls while the history advances.
        max_poll_s: the interval grows (doubling) up to this while nothing new happens. Each
            poll re-reads the whole history through moto; at a fixed 0.2 s that took about a
            tenth of the process's CPU during a long Write Predictions state, from the writer
            (job and Lambda threads still poll before they print, so their lines stay in order).
        timeout_s: give up (and raise) after this long.
        watcher: the watcher to poll (one shared with the job/Lambda threads); a new one on
            ``sfn``, ``execution_arn`` and ``on_event`` when omitted.

    Returns:
        The final ``DescribeExecution`` response.

    Raises:
        TimeoutError: the execution did not end within ``timeout_s``.
    """
    watcher = watcher or ExecutionWatcher(sfn, execution_arn, on_event)
    deadline = time.monotonic() + timeout_s
    interval = poll_s
    while time.monotonic() < deadline:
        before = watcher.seen
        described = watcher.poll()
        if described["status"] in _TERMINAL:
            return described
        interval = poll_s if watcher.seen > before else min(max_poll_s, interval * 2)
        time.sleep(interval)
    raise TimeoutError(f"execution {execution_arn} still running after {timeout_s:.0f} s")
