"""Stage the Lambda code asset: ``lambdas/`` plus the shared ``retailsage`` feature code.

Why a staged directory and not a Docker bundle: synthesis (and every infra test) must work
without a Docker engine. The extract Lambda reuses the container's own loading, cleaning and
feature code, so the asset holds ``lambdas/`` and the light ``retailsage`` subpackages (pure
Python over numpy/pandas/pyarrow); numpy, pandas and pyarrow come from the AWS SDK for pandas
managed layer and boto3/Powertools/pydantic from the runtime and the Powertools layer. The
training-only heavy dependencies (torch, xgboost, scikit-learn) are never imported by these
modules, so they are not shipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
RETAILSAGE_DIR = REPO_ROOT / "container" / "retailsage"

RETAILSAGE_SUBPACKAGES: tuple[str, ...] = ("core", "data", "features", "models")
"""The ``retailsage`` subpackages the Lambdas may import (all pure Python)."""

_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "*.so", "*.c", "*.pyi"
)
"""Caches, and the XGBoost tree walker's C source and this host's build of it (the Lambdas never
predict; a host-built extension would not match the Lambda runtime anyway)."""


def stage_lambda_source(destination: Path) -> Path:
    """Copy the Lambda handlers and the shared package into ``destination`` (replacing it).

    Args:
        destination: the directory to (re)create; usually inside the cloud assembly.

    Returns:
        ``destination``, ready for ``aws_lambda.Code.from_asset``.
    """
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(LAMBDAS_DIR, destination / "lambdas", ignore=_IGNORE)
    package = destination / "retailsage"
    package.mkdir(parents=True)
    for name in ("__init__.py", "py.typed"):
        shutil.copy2(RETAILSAGE_DIR / name, package / name)
    for name in RETAILSAGE_SUBPACKAGES:
        shutil.copytree(RETAILSAGE_DIR / name, package / name, ignore=_IGNORE)
    return destination
