"""Training checkpoints: atomic writes, newest-first lookup, and pruning of old files.

SageMaker syncs ``/opt/ml/checkpoints`` to S3 while training runs, so a half-written file could
be uploaded. Every checkpoint is therefore written to a temporary name ending
``.sagemaker-ignore`` (which the sync skips) and moved into place with :func:`os.replace`.
Checkpoint names carry a zero-padded step so lexical order equals step order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".sagemaker-ignore"
KEEP_LAST = 3
"""How many checkpoints of one family are kept; older ones are deleted after each write."""


def checkpoint_path(directory: Path, prefix: str, step: int, suffix: str) -> Path:
    """Return the path of the checkpoint taken after ``step`` iterations.

    Args:
        directory: the checkpoint directory.
        prefix: the family's file prefix, e.g. ``xgboost``.
        step: completed rounds or epochs.
        suffix: the file extension including the dot, e.g. ``.ubj``.

    Returns:
        ``<directory>/<prefix>-<step:08d><suffix>``.
    """
    return directory / f"{prefix}-{step:08d}{suffix}"


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Write a file through a ``.sagemaker-ignore`` temporary name, then rename it into place.

    Args:
        path: the final file path.
        write: writes the content to the temporary path it is given.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + TEMP_SUFFIX)
    write(temp)
    os.replace(temp, path)
    return path


def list_checkpoints(directory: Path | None, prefix: str, suffix: str) -> list[tuple[int, Path]]:
    """List completed checkpoints of one family, oldest first.

    Args:
        directory: the checkpoint directory (``None`` or absent: no checkpoints).
        prefix: the family's file prefix.
        suffix: the file extension including the dot.

    Returns:
        ``(step, path)`` pairs sorted by step; temporary files are never listed.
    """
    if directory is None or not directory.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{8}}){re.escape(suffix)}$")
    found = [
        (int(match.group(1)), path)
        for path in directory.iterdir()
        if (match := pattern.match(path.name)) is not None
    ]
    return sorted(found)


def newest_checkpoint(directory: Path | None, prefix: str, suffix: str) -> tuple[int, Path] | None:
    """Return the ``(step, path)`` of the newest checkpoint, or ``None`` when there is none."""
    found = list_checkpoints(directory, prefix, suffix)
    return found[-1] if found else None


def prune_checkpoints(directory: Path, prefix: str, suffix: str, keep: int = KEEP_LAST) -> None:
    """Delete all but the newest ``keep`` checkpoints of one family.

    Args:
        directory: the checkpoint directory.
        prefix: the family's file prefix.
        suffix: the file extension including the dot.
        keep: how many to keep.
    """
    for _, path in list_checkpoints(directory, prefix, suffix)[:-keep]:
        path.unlink(missing_ok=True)
