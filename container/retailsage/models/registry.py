"""Registry of model families keyed by the ``model_type`` hyperparameter."""

from __future__ import annotations

import importlib

from retailsage.core.errors import HyperparameterError
from retailsage.models.base import ModelFamily

# model_type -> "module:Class"; imported lazily so serving an xgboost model never imports torch.
_FAMILIES: dict[str, str] = {
    "pca_kmeans": "retailsage.models.pca_kmeans:PcaKmeansAnomaly",
    "xgboost": "retailsage.models.xgboost_gap:XGBoostGap",
    "lstm": "retailsage.models.lstm_gap:LSTMGap",
}

MODEL_TYPES: tuple[str, ...] = tuple(_FAMILIES)


def get_family(model_type: str) -> type[ModelFamily]:
    """Return the family class registered under ``model_type``.

    Args:
        model_type: ``pca_kmeans``, ``xgboost`` or ``lstm``.

    Returns:
        The family class (not an instance).

    Raises:
        HyperparameterError: for an unknown model type, listing the valid ones.
    """
    target = _FAMILIES.get(model_type)
    if target is None:
        raise HyperparameterError(
            f"unknown model_type {model_type!r}; valid values are: {', '.join(MODEL_TYPES)}"
        )
    module_name, _, class_name = target.partition(":")
    family: type[ModelFamily] = getattr(importlib.import_module(module_name), class_name)
    return family
