"""Shared fixtures: the real-data path, SageMaker-shaped trees, loopback-only guards."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "online_retail.parquet"

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20,22")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "20,22,24,26")
# Tests never talk to real AWS: fake credentials and a fixed region for every boto3 client.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_key] = _value


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def real_data_path() -> Path:
    """Path of the real Online Retail parquet; skips the test with a reason when absent."""
    if not REAL_DATA.is_file():
        pytest.skip(f"real Online Retail data not found at {REAL_DATA} (../shared/data)")
    return REAL_DATA


@pytest.fixture
def opt_ml(tmp_path: Path) -> Callable[..., Path]:
    """Factory for an empty SageMaker-shaped tree; returns its base dir."""

    def make(name: str = "opt_ml") -> Path:
        base = tmp_path / name
        for sub in ("input/config", "input/data", "model", "output/data", "checkpoints"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        return base

    return make
