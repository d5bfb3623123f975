"""AWS clients, created lazily (after moto starts in tests) and cached per process."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@functools.cache
def get_client(service: str) -> Any:
    """Return the cached boto3 client for ``service`` (never created at import time).

    Args:
        service: e.g. ``"s3"`` or ``"dynamodb"``.

    Returns:
        A low-level client with standard-mode retries.
    """
    return boto3.client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests call this around each moto context)."""
    get_client.cache_clear()
