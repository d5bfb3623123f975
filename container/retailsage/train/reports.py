"""The job's reports in ``output/data/``: ``metrics.json`` and ``report.json``.

SageMaker packs ``output/data/`` into ``output.tar.gz`` next to ``model.tar.gz``. ``metrics.json``
is a flat object using the metric-line names (``validation:mae``, ``baseline:median:mae``, ...)
so that a pipeline step can read the same figures CloudWatch shows; non-finite values become
``null`` (JSON has no NaN).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.json"


def json_metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """Return the metrics sorted by name, with NaN and infinities as ``None``.

    Args:
        metrics: metric name -> value.

    Returns:
        A JSON-safe copy.
    """
    values = {name: float(metrics[name]) for name in sorted(metrics)}
    return {name: v if math.isfinite(v) else None for name, v in values.items()}


def write_metrics(output_dir: Path, metrics: Mapping[str, float]) -> Path:
    """Write the final metrics as one flat JSON object, keys sorted.

    Args:
        output_dir: ``output/data/``.
        metrics: metric name -> value.

    Returns:
        The file written.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / METRICS_FILE
    path.write_text(json.dumps(json_metrics(metrics), indent=2) + "\n")
    return path


def write_report(output_dir: Path, report: Mapping[str, Any]) -> Path:
    """Write the job report (configs, data description, metrics, timings).

    Args:
        output_dir: ``output/data/``.
        report: JSON-serializable content; dates and paths are written as strings.

    Returns:
        The file written.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / REPORT_FILE
    path.write_text(json.dumps(report, indent=2, default=str, allow_nan=False) + "\n")
    return path
