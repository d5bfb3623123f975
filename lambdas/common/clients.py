"""AWS clients, created lazily (after moto starts in tests) and cached per process."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@functools.cache
def get_client(service: str, *, validate_parameters: bool = True) -> Any:
    """Return the cached boto3 client for ``service`` (never created at import time).

    Args:
        service: e.g. ``"s3"`` or ``"dynamodb"``.
        validate_parameters: botocore's client-side check of every request against the API
            model. The write-predictions Lambda turns it off for its DynamoDB client: its
            requests are built by ``TypeSerializer`` from validated items, the service checks
            them again anyway (a refusal is still a named ``WriteFailed``), and the check walks
            every attribute of every item (about a fifth of the write step's CPU time).

    Returns:
        A low-level client with standard-mode retries.
    """
    config = _CONFIG.merge(Config(parameter_validation=validate_parameters))
    return boto3.client(service, config=config)


def reset_clients() -> None:
    """Forget cached clients (tests call this around each moto context)."""
    get_client.cache_clear()
