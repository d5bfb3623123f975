"""What a training job does around ``fit``: the task kinds and the data they hand over.

A task turns the channels into the frames a family fits on (:meth:`Task.prepare`) and evaluates
the fitted model on the held-out rows (:meth:`Task.evaluate`). Gap regressors (``xgboost``,
``lstm``) and the anomaly detector (``pca_kmeans``) need different data and metrics, so each
kind has its own module; this one holds the shared shapes and the ``model_type`` -> task map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from retailsage.models.base import ModelFamily
from retailsage.train.channels import ChannelData
from retailsage.train.config import JobConfig


@dataclass(frozen=True)
class PreparedData:
    """The frames handed to ``fit`` and kept for evaluation.

    Attributes:
        train: rows the family fits on.
        validation: rows for early stopping and per-iteration metrics (``None`` if there are
            none to give the family).
        evaluation: rows the final metrics are computed on.
        labels: ground-truth anomaly labels aligned with ``evaluation`` (anomaly task only).
        description: how the data was obtained, for ``report.json``.
        refit_train: rows of the final refit on all the data (``refit_full``: as-of snapshots
            up to the last day - horizon, after the holdout fit was evaluated); ``None``: the
            holdout model is the one saved.
    """

    train: pd.DataFrame
    validation: pd.DataFrame | None
    evaluation: pd.DataFrame
    labels: pd.Series | None = None
    description: dict[str, Any] = field(default_factory=dict)
    refit_train: pd.DataFrame | None = None


@dataclass(frozen=True)
class Evaluation:
    """Final metrics and the report section of one job.

    Attributes:
        metrics: flat name -> value, with the metric-line names (``validation:mae``, ...).
        report: details for ``report.json`` (row counts, holdout, plot files).
    """

    metrics: dict[str, float]
    report: dict[str, Any]


class Task(Protocol):
    """The data preparation and evaluation of one kind of model."""

    def prepare(
        self, job: JobConfig, train: ChannelData, validation: ChannelData | None
    ) -> PreparedData:
        """Read and featurize the channels and cut the evaluation rows."""
        ...

    def evaluate(
        self, model: ModelFamily, data: PreparedData, output_dir: Path, manifest: dict[str, Any]
    ) -> Evaluation:
        """Compute the final metrics and write the plots into ``output_dir``."""
        ...


def task_for(model_type: str) -> Task:
    """Return the task for a model type.

    Args:
        model_type: a registered family name (validated by :class:`JobConfig`).

    Returns:
        The anomaly task for ``pca_kmeans``, the gap task for every other family.
    """
    if model_type == "pca_kmeans":
        from retailsage.train.anomaly_task import AnomalyTask

        return AnomalyTask()
    from retailsage.train.gap_task import GapTask

    return GapTask()
