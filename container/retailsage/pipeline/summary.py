"""The end-of-run summary: outcome, model metrics vs baselines, rows scored, items, reports."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retailsage.pipeline.progress import ProgressPrinter, StateTiming, readable_cause
from retailsage.pipeline.states import MODEL_REJECTED

METRICS_FILE = "metrics.json"
GATE_METRIC = "retailsage:quality_gate"
"""The quality gate's metric: a MetricDefinition the pipeline stack adds
(``infra.stacks.constructs.sagemaker_states.GATE_METRIC``) over each family's gate metric line."""


@dataclass(frozen=True)
class RunSummary:
    """What one local execution did.

    Attributes:
        run_id: the execution name.
        status: ``SUCCEEDED``, ``FAILED``, ...
        last_state: the last state entered (``Pipeline Succeeded``, ``Model Rejected``, ...).
        error: the execution's error (failed executions), else ``None``.
        cause: the execution's cause (failed executions), else ``None``.
        metrics: the training job's final metrics (``metrics.json``, else the streamed lines).
        rows_scored: records the transform job wrote.
        items_written: items the write step reports having written.
        table_items: items in the predictions table after the run (all runs so far).
        report_dir: the local copy of the job's ``output/data``, if training ran.
        timings: seconds per state, in order.
        wall_s: wall time of the execution, upload to summary.
        output: the execution output (succeeded executions).
        quality_threshold: the gate threshold the execution ran with.
        drift_lines: the input-drift check of the scored batch (``pipeline.drift_check``).
    """

    run_id: str
    status: str
    last_state: str | None
    error: str | None
    cause: str | None
    metrics: dict[str, float | None]
    rows_scored: int
    items_written: int
    table_items: int
    report_dir: Path | None
    timings: list[StateTiming] = field(default_factory=list)
    wall_s: float = 0.0
    output: dict[str, Any] | None = None
    quality_threshold: float | None = None
    drift_lines: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        """Whether the execution ended ``SUCCEEDED``."""
        return self.status == "SUCCEEDED"

    def lines(self) -> list[str]:
        """Render the summary for the terminal.

        Returns:
            One string per line.
        """
        out = [f"run {self.run_id}: {self.status} at {self.last_state!r} in {self.wall_s:.1f} s"]
        if self.error:
            reason = readable_cause(self.cause).strip().splitlines() or [""]
            out.append(f"  failure: {self.error}: {reason[0]}".rstrip())
        out.extend(_metric_lines(self.metrics))
        if self.last_state == MODEL_REJECTED:
            gate = self.metrics.get(GATE_METRIC)
            shown = "n/a" if gate is None else f"{gate:.4g}"
            out.append(
                f"  model rejected: {GATE_METRIC} = {shown} misses the threshold "
                f"{self.quality_threshold}"
            )
        out.append(f"  rows scored: {self.rows_scored:,}")
        out.append(
            f"  items written: {self.items_written:,} (table now holds {self.table_items:,})"
        )
        out.extend(self.drift_lines)
        if self.report_dir is not None:
            out.append(f"  reports and plots: {self.report_dir}")
        total = sum(t.seconds for t in self.timings) or 1.0
        for timing in self.timings:
            share = 100 * timing.seconds / total
            out.append(f"  {timing.name:<20} {timing.seconds:7.1f} s {share:5.1f} %")
        return out


def _metric_lines(metrics: dict[str, float | None]) -> list[str]:
    """``validation:*`` metrics, each with the ``baseline:*:<metric>`` values beside it."""
    lines = []
    for name in sorted(k for k in metrics if not k.startswith("baseline:")):
        value = metrics[name]
        metric = name.split(":", 1)[-1]
        baselines = {
            key.split(":")[1]: v
            for key, v in metrics.items()
            if key.startswith("baseline:") and key.endswith(f":{metric}") and v is not None
        }
        shown = "n/a" if value is None else f"{value:.4g}"
        versus = ", ".join(f"{b} {v:.4g}" for b, v in sorted(baselines.items()))
        lines.append(f"  {name} = {shown}" + (f" (baselines: {versus})" if versus else ""))
    return lines


def _items_written(output: dict[str, Any] | None) -> int:
    """Sum the ``written`` counts the write step left in the execution output."""
    if output is None:
        return 0
    found = 0

    def walk(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            if isinstance(node.get("written"), int) and "read" in node:
                found += int(node["written"])
                return
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(output)
    return found


def summarize(
    *,
    run_id: str,
    described: dict[str, Any],
    printer: ProgressPrinter,
    report_dir: Path,
    table_items: int,
    wall_s: float,
    quality_threshold: float | None = None,
) -> RunSummary:
    """Build the summary of a finished execution and copy its reports locally.

    Args:
        run_id: the execution name.
        described: the final ``DescribeExecution`` response.
        printer: the progress printer that watched the run.
        report_dir: ``runs/<run id>/``; the training job's ``output/data`` is copied there.
        table_items: items in the predictions table now.
        wall_s: wall time of the run.
        quality_threshold: the gate threshold of the execution input.

    Returns:
        The summary.
    """
    copied = None
    source = printer.training_output
    if source is not None and source.is_dir() and any(source.iterdir()):
        shutil.copytree(source, report_dir, dirs_exist_ok=True)
        copied = report_dir
    # the streamed values (the gate metric among them), then the job's final metrics.json
    metrics: dict[str, float | None] = dict(printer.metrics)
    if copied is not None and (copied / METRICS_FILE).is_file():
        metrics.update(json.loads((copied / METRICS_FILE).read_text()))
    output = json.loads(described["output"]) if described.get("output") else None
    return RunSummary(
        run_id=run_id,
        status=described["status"],
        last_state=printer.last_state,
        error=described.get("error"),
        cause=described.get("cause"),
        metrics=metrics,
        rows_scored=printer.rows_scored,
        items_written=_items_written(output),
        table_items=table_items,
        report_dir=copied,
        timings=list(printer.timings),
        wall_s=wall_s,
        output=output,
        quality_threshold=quality_threshold,
    )
