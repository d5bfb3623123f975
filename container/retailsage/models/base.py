"""The ``ModelFamily`` protocol every family implements, and the config base class.

Lifecycle (scikit-learn style): ``__init__`` stores the config only; ``fit`` returns ``self``
and replaces earlier state; learned attributes end in ``_``; ``predict`` before ``fit`` raises
:class:`~retailsage.core.errors.NotFittedError`; ``predict`` validates its input and raises
:class:`~retailsage.core.errors.BadInput` naming the column; it keeps row count and order.
Artifacts: ``save`` writes only the family's own files (no pickle, no joblib); the manifest is
written by :mod:`retailsage.models.artifacts`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import pandas as pd


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

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> Self:
        """Fit on ``train`` (and use ``validation`` for early stopping where supported)."""
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
