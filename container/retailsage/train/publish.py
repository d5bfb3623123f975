"""All-or-nothing model output: the model is written to a staging directory, then published.

SageMaker uploads whatever ``/opt/ml/model`` holds, also for a failed job, and a local run packs
it into ``model.tar.gz``; a job that fails after ``save`` (evaluation, reports) must therefore
leave nothing there. :func:`staged_model_dir` yields a fresh directory next to the model
directory (same file system, so publishing is a rename per file); :func:`publish` moves its
content into the model directory once everything else succeeded, and takes back what it moved
when a move fails. The staging directory is always removed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".retailsage-model-staging-"


@contextmanager
def staged_model_dir(model_dir: Path) -> Iterator[Path]:
    """Yield an empty staging directory beside ``model_dir``; remove it on exit.

    Args:
        model_dir: the job's model directory (``/opt/ml/model``).

    Yields:
        The staging directory (in ``model_dir``'s parent, outside the uploaded tree).
    """
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=model_dir.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    """Delete a file or a directory tree, if present."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def publish(staging: Path, model_dir: Path) -> list[Path]:
    """Move every entry of ``staging`` into ``model_dir`` (replacing same-named entries).

    Args:
        staging: the fully written staging directory.
        model_dir: the destination (created if needed).

    Returns:
        The published paths, sorted.

    Raises:
        OSError: a move failed; the entries already moved were deleted again first, so the
            model directory holds none of this job's files.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    moved: list[Path] = []
    try:
        for entry in sorted(staging.iterdir()):
            target = model_dir / entry.name
            _remove(target)
            shutil.move(str(entry), str(target))
            moved.append(target)
    except OSError:
        logger.error("publishing the model failed; removing the %d files moved", len(moved))
        for target in moved:
            _remove(target)
        raise
    return moved
