"""The job fingerprint: which data and which hyperparameters a checkpoint was written for.

A checkpoint is resumed only by a job with the same fingerprint (see
:func:`retailsage.models.checkpoints.resume_checkpoint`), so a re-run on new data or with new
hyperparameters starts from scratch instead of silently continuing an old model.

- Data: the SHA-256 of every channel file's content, with its name and size. Content rather than
  modification times, because SageMaker downloads the channels afresh when a spot job restarts
  (new mtimes, same bytes) and that restart must resume. Cost: 6.4 ms for the 3.6 MB
  ``online_retail.parquet``, 3.5 % of ``load_transactions`` on it (183 ms), measured with
  ``benchmarks/fingerprint_cost.py``.
- Hyperparameters: the parsed job and family configs with their defaults filled in (so
  ``eta=0.05`` and an omitted ``eta`` agree), minus :data:`RESUME_NEUTRAL_KEYS`, which only say
  how long to train, how often to checkpoint or how many threads to use; raising ``num_round``
  and resuming remains a continuation of the same model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from retailsage.core.hyperparameters import to_hyperparameters
from retailsage.train.channels import ChannelData
from retailsage.train.config import ResolvedConfig

RESUME_NEUTRAL_KEYS = frozenset(
    {
        "checkpoint_every",
        "num_round",
        "epochs",
        "early_stopping_rounds",
        "early_stopping_epochs",
        "nthread",
        "num_threads",
        "device",
        "refit_full",
    }
)
"""Hyperparameters that may change between a job and the job resuming its checkpoints."""


def file_digest(path: Path) -> str:
    """Return the SHA-256 hex digest of one file's content (read in chunks)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def data_description(channels: Iterable[ChannelData]) -> list[dict[str, Any]]:
    """Describe the content of the channels: per file its channel, name, size and digest.

    Args:
        channels: the inspected channels (``train`` and, when present, ``validation``).

    Returns:
        One entry per file, ordered by channel and file name.
    """
    entries: list[dict[str, Any]] = []
    for channel in sorted(channels, key=lambda c: c.name):
        for path in sorted(channel.files):
            name = path.relative_to(channel.path).as_posix() if channel.path.is_dir() else path.name
            entries.append(
                {
                    "channel": channel.name,
                    "file": name,
                    "size": path.stat().st_size,
                    "sha256": file_digest(path),
                }
            )
    return entries


def canonical_hyperparameters(config: ResolvedConfig) -> dict[str, str]:
    """Return the resolved job and family hyperparameters that shape the model.

    Args:
        config: the parsed configs (defaults filled in).

    Returns:
        Name -> canonical string value, without :data:`RESUME_NEUTRAL_KEYS`.
    """
    values = {**to_hyperparameters(config.job), **to_hyperparameters(config.family_config)}
    return {k: v for k, v in sorted(values.items()) if k not in RESUME_NEUTRAL_KEYS}


def job_fingerprint(config: ResolvedConfig, channels: Iterable[ChannelData]) -> str:
    """Return the fingerprint of a job: a SHA-256 over its data and canonical hyperparameters.

    Args:
        config: the parsed configs.
        channels: the channels the job reads.

    Returns:
        A 64-character hex digest.
    """
    document = {
        "data": data_description(channels),
        "hyperparameters": canonical_hyperparameters(config),
    }
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()
