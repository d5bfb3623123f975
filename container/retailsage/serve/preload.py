"""Import the served family's code in the gunicorn master, before workers fork.

Only code is imported (numpy, pandas, xgboost, ...), never the model: each worker still loads
its own model at boot, but no longer pays seconds of imports first, and the imported pages are
shared copy-on-write between workers. Failures here are ignored on purpose: the worker's own
load reports them properly (and its boot failure halts the server).
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

from retailsage.models.artifacts import read_manifest
from retailsage.models.registry import get_family

logger = logging.getLogger(__name__)

SKLEARN_FREE_FAMILIES = frozenset({"xgboost"})
"""Families whose serving path never touches scikit-learn (it is a training-only dependency)."""


def import_xgboost_without_sklearn() -> None:
    """Import xgboost with scikit-learn hidden, unless either is already imported.

    ``xgboost.compat`` imports scikit-learn (and through it scipy) only to base its
    ``XGBRegressor``-style wrappers on sklearn classes; serving calls ``Booster.inplace_predict``
    and never uses them, and that import is about two thirds of a worker's start-up. A ``None``
    entry in ``sys.modules`` makes ``import sklearn`` raise ImportError, which xgboost handles
    (its no-sklearn fallback); the entry is removed afterwards, so a later ``import sklearn``
    in this process works normally.
    """
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        return
    sys.modules["sklearn"] = None  # type: ignore[assignment]
    try:
        importlib.import_module("xgboost")
    finally:
        del sys.modules["sklearn"]


def import_family_code(model_dir: Path) -> str | None:
    """Import the module of the family named in ``model_dir/manifest.json``.

    Args:
        model_dir: the model directory the workers will load.

    Returns:
        The family name, or None when the manifest cannot be read (workers then fail loudly).
    """
    try:
        family = str(read_manifest(model_dir)["family"])
        if family in SKLEARN_FREE_FAMILIES:
            import_xgboost_without_sklearn()
        get_family(family)
        import retailsage.serve.app  # noqa: F401 - Flask and the codecs, shared by workers
    except Exception as exc:
        logger.warning("could not pre-import the model family (%s); workers will load it", exc)
        return None
    return family
