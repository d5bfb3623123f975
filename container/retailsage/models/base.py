"""The ``ModelFamily`` protocol every family implements, and the config base class.

Lifecycle (scikit-learn style): ``__init__`` stores the config only; ``fit`` returns ``self``
and replaces earlier state; learned attributes end in ``_``; ``predict`` before ``fit`` raises
:class:`~retailsage.core.errors.NotFittedError`; ``predict`` validates its input and raises
:class:`~retailsage.core.errors.BadInput` naming the column; it keeps row count and order.
Artifacts: ``save`` writes only the family's own files (no pickle, no joblib); the manifest is
written by :mod:`retailsage.models.artifacts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import pandas as pd

from retailsage.core.collective import SINGLE_HOST, Collective


def _no_metric(name: str, value: float, step: int) -> None:
    """Default metric sink: drop the value."""


def _never_stop() -> bool:
    """Default stop flag: never asked to stop."""
    return False


@dataclass
class TrainingHooks:
    """What the training runner lends a family's ``fit``: checkpoints, metrics, stop requests.

    Attributes:
        checkpoint_dir: where to write/resume checkpoints (``None`` disables checkpointing).
        checkpoint_every: iterations between checkpoints for iterative learners (XGBoost rounds;
            the LSTM checkpoints every epoch).
        on_metric: called as ``on_metric("validation:mae", 12.4, step)`` per epoch/iteration;
            the runner prints the stable ``name=value;`` line SageMaker's regexes scan.
        should_stop: returns True once SIGTERM arrived; a family then checkpoints and raises
            :class:`TrainingInterrupted` promptly.
        collective: the training hosts (multi-host jobs): statistics are reduced over it, and
            only its rank 0 writes checkpoints. A single host by default.
        fingerprint: digest of the job's data and hyperparameters; a family stores it in every
            checkpoint and resumes only from a checkpoint carrying the same one (``None``:
            no check, any checkpoint of the family is resumed).
        notes: what happened to checkpoints (resumed, or ignored and why), appended by the
            family for the job's report.
    """

    checkpoint_dir: Path | None = None
    checkpoint_every: int = 10
    on_metric: Callable[[str, float, int], None] = field(default=_no_metric)
    should_stop: Callable[[], bool] = field(default=_never_stop)
    collective: Collective = field(default=SINGLE_HOST)
    fingerprint: str | None = None
    notes: list[str] = field(default_factory=list)


class TrainingInterrupted(Exception):
    """Raised by ``fit`` after saving a checkpoint because ``should_stop()`` turned True."""


@runtime_checkable
class ModelFamily(Protocol):
    """One model family: fit / predict / save / load over pandas frames."""

    name: ClassVar[str]
    """Registry key; equals the ``model_type`` hyperparameter value."""
    config_cls: ClassVar[type[Any]]
    """Frozen dataclass of the family's hyperparameters."""
    output_columns: ClassVar[tuple[str, ...]]
    """Columns of the frame ``predict`` returns, in order."""
    format_version: ClassVar[int]
    """Bumped whenever the family's files change incompatibly."""

    config: Any

    def fit(
        self,
        train: pd.DataFrame,
        validation: pd.DataFrame | None = None,
        *,
        hooks: TrainingHooks | None = None,
    ) -> Self:
        """Fit on ``train`` (``validation`` for early stopping where supported).

        With ``hooks.checkpoint_dir`` set, iterative families write checkpoints there and
        resume from the newest one found at start.
        """
        ...

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predict one output row per input row, same order, columns ``output_columns``."""
        ...

    def save(self, model_dir: Path) -> dict[str, Any]:
        """Write the family's own files; return extra manifest fields (feature spec, ...)."""
        ...

    @classmethod
    def load(cls, model_dir: Path, manifest: dict[str, Any]) -> Self:
        """Rebuild a fitted model from its files and manifest without executing any code."""
        ...

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Columns ``predict`` needs, in the order a headerless CSV row carries them."""
        ...


@runtime_checkable
class Refittable(Protocol):
    """A family that can be refitted on all the data for the iterations a holdout fit chose."""

    def refit_config(self) -> Any:
        """The config of the refit: the early-stopped iteration count, early stopping off."""
        ...


@runtime_checkable
class DriftReporting(Protocol):
    """A family whose drift reference is not simply the frame its ``fit`` received."""

    def drift_inputs(self, train: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
        """The rows the model was fitted on (after its own filters) and the inputs it ignores."""
        ...
