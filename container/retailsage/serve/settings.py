"""Typed serving settings, read once from the ``SAGEMAKER_*`` / ``RETAILSAGE_*`` environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from retailsage.core.errors import UserError
from retailsage.core.paths import SageMakerPaths

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60
DEFAULT_PAYLOAD_MB = 6
MAX_PAYLOAD_MB = 100
DEFAULT_ACCEPT = "application/json"
BAD_RECORD_POLICIES = ("fail", "emit")

BadRecordPolicy = Literal["fail", "emit"]


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Read an integer variable, checking its range."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise UserError(f"{name}={raw!r} is not an integer") from exc
    if not low <= value <= high:
        raise UserError(f"{name}={value} is out of range [{low}, {high}]")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    """Read a boolean variable: ``true``/``1``/``yes`` are true, anything else false."""
    return env.get(name, "").strip().lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class ServeSettings:
    """Everything the server needs from its environment, validated once at start.

    Attributes:
        model_dir: the extracted model (``SM_MODEL_DIR`` or ``$SAGEMAKER_BASE_DIR/model``).
        bind_address: listen address; ``0.0.0.0`` for SageMaker, ``127.0.0.1`` for local runs
            (``SAGEMAKER_BIND_TO_ADDRESS``).
        port: ``SAGEMAKER_BIND_TO_PORT`` (default 8080).
        workers: ``SAGEMAKER_MODEL_SERVER_WORKERS`` (default: CPU count).
        timeout_s: ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (default 60) -> gunicorn ``--timeout``.
        max_payload_bytes: ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` (default 6, max 100) in bytes.
        default_accept: ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (used for missing or ``*/*``
            Accept); ``None`` answers in the request's own content type.
        batch: ``SAGEMAKER_BATCH=true`` -> one output line per input line, always.
        bad_record: ``RETAILSAGE_BAD_RECORD`` ``fail`` (400 for the whole request) or
            ``emit`` (an error record in place of the bad line; batch only).
        max_concurrent_transforms: ``SAGEMAKER_MAX_CONCURRENT_TRANSFORMS`` or ``workers``.
    """

    model_dir: Path
    bind_address: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    workers: int = 1
    timeout_s: int = DEFAULT_TIMEOUT_S
    max_payload_bytes: int = DEFAULT_PAYLOAD_MB * 1024 * 1024
    default_accept: str | None = None
    batch: bool = False
    bad_record: BadRecordPolicy = "fail"
    max_concurrent_transforms: int = 1

    @property
    def max_payload_mb(self) -> int:
        """The payload limit in whole MiB (what ``/execution-parameters`` reports)."""
        return max(1, self.max_payload_bytes // (1024 * 1024))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServeSettings:
        """Build the settings from environment variables.

        Args:
            env: the environment to read; ``os.environ`` when omitted.

        Returns:
            The validated settings.

        Raises:
            UserError: a variable is malformed or out of range.
        """
        env = os.environ if env is None else env
        workers = _int(env, "SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1, 1, 1024)
        bad_record = env.get("RETAILSAGE_BAD_RECORD", "fail").strip().lower() or "fail"
        if bad_record not in BAD_RECORD_POLICIES:
            raise UserError(
                f"RETAILSAGE_BAD_RECORD={bad_record!r}; expected one of "
                f"{', '.join(BAD_RECORD_POLICIES)}"
            )
        payload_mb = _int(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", DEFAULT_PAYLOAD_MB, 1, MAX_PAYLOAD_MB)
        return cls(
            model_dir=SageMakerPaths.from_env(env).model_dir,
            bind_address=env.get("SAGEMAKER_BIND_TO_ADDRESS", "").strip() or "0.0.0.0",
            port=_int(env, "SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT, 1, 65535),
            workers=workers,
            timeout_s=_int(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", DEFAULT_TIMEOUT_S, 1, 3600),
            max_payload_bytes=payload_mb * 1024 * 1024,
            default_accept=env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip() or None,
            batch=_flag(env, "SAGEMAKER_BATCH"),
            bad_record="emit" if bad_record == "emit" else "fail",
            max_concurrent_transforms=_int(
                env, "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", workers, 1, 1024
            ),
        )
