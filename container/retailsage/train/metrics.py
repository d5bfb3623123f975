"""Training metric lines on stdout and the matching SageMaker ``MetricDefinitions``.

Every metric is printed on its own line as ``<name>=<value>;`` (optionally followed by
`` step=<n>``), flushed at once, so SageMaker's log scanner publishes the first capture group of
the regex of :func:`metric_regex` to CloudWatch. :data:`METRIC_DEFINITIONS` is the single list the
infrastructure code passes to ``AlgorithmSpecification.MetricDefinitions`` (at most 40 entries).
"""

from __future__ import annotations

import logging
import math
import re
import sys
from collections.abc import Mapping
from typing import TextIO

logger = logging.getLogger(__name__)

MAX_METRIC_DEFINITIONS = 40

METRIC_NAMES: tuple[str, ...] = (
    # per epoch / iteration, reported by the families through TrainingHooks.on_metric
    "train:loss",
    "validation:loss",
    # final evaluation of the gap regressors (xgboost, lstm)
    "validation:mae",
    "validation:rmse",
    "validation:medae",
    "baseline:median:mae",
    "baseline:median:rmse",
    "baseline:median:medae",
    "baseline:customer_mean:mae",
    "baseline:customer_mean:rmse",
    "baseline:customer_mean:medae",
    # as-of target (target=asof): probability quality, dates before the as-of day, baselines
    "validation:brier",
    "validation:past_date_share",
    "baseline:constant:mae",
    "baseline:constant:rmse",
    "baseline:constant:medae",
    "baseline:median_gap:mae",
    "baseline:median_gap:rmse",
    "baseline:median_gap:medae",
    "baseline:residual_life:mae",
    "baseline:residual_life:rmse",
    "baseline:residual_life:medae",
    # final evaluation of the anomaly detector (pca_kmeans)
    "validation:roc_auc",
    "validation:average_precision",
    "validation:anomaly_rate",
    "train:anomaly_rate",
    "train:anomaly_threshold",
    # errors injected into the evaluation lines (pca_kmeans on transaction lines)
    "validation:injected_roc_auc",
    "validation:injected_average_precision",
    "baseline:random:injected_roc_auc",
    # the quality gate's metric (retailsage.train.gate), every family
    "validation:improvement_over_best_baseline",
)
"""Every metric name the job may print; each has one definition below."""


def metric_regex(name: str) -> str:
    r"""Return the SageMaker regex that captures one metric's value.

    Not anchored: the scanned log text may carry a prefix (a tab shows up as ``#011``). No
    metric name ends with another one (a unit test checks it), so each regex matches only the
    lines of its own metric.

    Args:
        name: the metric name, e.g. ``validation:mae``.

    Returns:
        A regex such as ``validation:mae=(\S+?);`` whose first group is the value.
    """
    return rf"{re.escape(name)}=(\S+?);"


METRIC_DEFINITIONS: list[dict[str, str]] = [
    {"Name": name, "Regex": metric_regex(name)} for name in METRIC_NAMES
]
"""``AlgorithmSpecification.MetricDefinitions`` for the training job."""


def format_metric(name: str, value: float, step: int | None = None) -> str:
    """Render one metric line.

    Args:
        name: the metric name.
        value: its value.
        step: the epoch or boosting round, when the metric is reported per iteration.

    Returns:
        ``"<name>=<value>;"`` plus ``" step=<n>"`` when a step is given.
    """
    line = f"{name}={value:.6g};"
    return line if step is None else f"{line} step={step}"


class MetricWriter:
    """Prints metric lines to a stream, one per line, flushed immediately.

    Used as ``TrainingHooks.on_metric`` (``writer(name, value, step)``) and for the final
    metrics (:meth:`write_all`). Non-finite values are logged, not printed, because CloudWatch
    cannot store them.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        """Create a writer.

        Args:
            stream: where the lines go; ``sys.stdout`` (looked up at write time) when omitted.
        """
        self._stream = stream
        self.last: dict[str, float] = {}

    def __call__(self, name: str, value: float, step: int | None = None) -> None:
        """Print one metric line (the ``on_metric`` hook signature).

        Args:
            name: the metric name.
            value: its value.
            step: the epoch or round, if any.
        """
        value = float(value)
        self.last[name] = value
        if not math.isfinite(value):
            logger.warning("metric %s is not finite (%s); not printed", name, value)
            return
        stream = self._stream or sys.stdout
        stream.write(format_metric(name, value, step) + "\n")
        stream.flush()

    def write_all(self, metrics: Mapping[str, float]) -> None:
        """Print every final metric, sorted by name.

        Args:
            metrics: name -> value.
        """
        for name in sorted(metrics):
            self(name, metrics[name])
