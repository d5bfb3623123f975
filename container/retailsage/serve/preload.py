"""Import the served family's code in the gunicorn master, before workers fork.

Only code is imported (numpy, pandas, xgboost, ...), never the model: each worker still loads
its own model at boot, but no longer pays seconds of imports first, and the imported pages are
shared copy-on-write between workers. Failures here are ignored on purpose: the worker's own
load reports them properly (and its boot failure halts the server).
"""

from __future__ import annotations

import logging
from pathlib import Path

from retailsage.models.artifacts import read_manifest
from retailsage.models.registry import get_family

logger = logging.getLogger(__name__)


def import_family_code(model_dir: Path) -> str | None:
    """Import the module of the family named in ``model_dir/manifest.json``.

    Args:
        model_dir: the model directory the workers will load.

    Returns:
        The family name, or None when the manifest cannot be read (workers then fail loudly).
    """
    try:
        family = str(read_manifest(model_dir)["family"])
        get_family(family)
        import retailsage.serve.app  # noqa: F401 - Flask and the codecs, shared by workers
    except Exception as exc:
        logger.warning("could not pre-import the model family (%s); workers will load it", exc)
        return None
    return family
