"""Training checkpoints: atomic writes, newest-first lookup, and pruning of old files.

SageMaker syncs ``/opt/ml/checkpoints`` to S3 while training runs, so a half-written file could
be uploaded. Every checkpoint is therefore written to a temporary name ending
``.sagemaker-ignore`` (which the sync skips) and moved into place with :func:`os.replace`.
Checkpoint names carry a zero-padded step so lexical order equals step order.

Every checkpoint also carries the job's fingerprint (data + hyperparameters, see
:mod:`retailsage.train.fingerprint`). :func:`resume_checkpoint` resumes the newest checkpoint only
carrying the job's fingerprint; newer checkpoints with another fingerprint are logged as a
warning and moved into ``superseded/`` (kept, never deleted), so they are not resumed and this
job's own checkpoints are not pruned in their favour.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
SUPERSEDED_DIR = "superseded"

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


def set_aside(directory: Path, paths: list[Path], label: str) -> Path:
    """Move checkpoint files into ``<directory>/superseded/<label>-<time>/`` (kept, not deleted).

    Args:
        directory: the checkpoint directory.
        paths: the checkpoint files to move.
        label: names the moved set (the family prefix and the start of its fingerprint).

    Returns:
        The folder the checkpoints were moved to.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = directory / SUPERSEDED_DIR / f"{label}-{stamp}"
    target.mkdir(parents=True, exist_ok=True)
    for path in paths:
        os.replace(path, target / path.name)
    return target


def resume_checkpoint(
    directory: Path | None,
    prefix: str,
    suffix: str,
    fingerprint: str | None,
    load: Callable[[Path], tuple[str | None, T]],
    notes: list[str],
) -> tuple[int, T] | None:
    """Load the newest checkpoint of a family that was written for this data and config.

    Checkpoints are read newest first. Those with another fingerprint (or none) are logged as a
    warning and moved into ``superseded/``, so they are neither resumed nor kept in place where
    pruning would favour them over this job's own checkpoints.

    Args:
        directory: the checkpoint directory (``None`` or absent: nothing to resume).
        prefix: the family's file prefix.
        suffix: the file extension including the dot.
        fingerprint: this job's fingerprint; ``None`` resumes whatever is newest.
        load: reads one checkpoint, returning ``(its fingerprint or None, loaded object)``.
        notes: receives one line per event: checkpoints ignored (and why), or the resume.

    Returns:
        ``(step, loaded object)``, or ``None`` when there is nothing (matching) to resume.
    """
    if directory is None:
        return None
    stale: list[tuple[int, Path, str | None]] = []
    resumed: tuple[int, T] | None = None
    for step, path in reversed(list_checkpoints(directory, prefix, suffix)):
        found, loaded = load(path)
        if fingerprint is None or found == fingerprint:
            resumed = (step, loaded)
            break
        stale.append((step, path, found))
    if stale and fingerprint is not None:
        step, _, found = stale[0]
        label = f"{prefix}-{(found or 'unknown')[:12]}"
        aside = set_aside(directory, [path for _, path, _ in stale], label)
        message = (
            f"ignoring {len(stale)} {prefix} checkpoint(s) in {directory} (newest: step {step}): "
            f"they were written for different data or hyperparameters (checkpoint fingerprint "
            f"{(found or 'none')[:12]}, this job {fingerprint[:12]}); moved to {aside}"
            + ("" if resumed else "; training starts from scratch")
        )
        LOGGER.warning(message)
        notes.append(message)
    if resumed is not None:
        message = f"resuming {prefix} from checkpoint {prefix}-{resumed[0]:08d}{suffix} "
        message += f"(step {resumed[0]})"
        LOGGER.info(message)
        notes.append(message)
    return resumed
