"""SageMaker-safe, unique run names derived from the Step Functions execution name."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
"""SageMaker training job, model and transform job names are at most 63 characters."""

_INVALID = re.compile(r"[^A-Za-z0-9-]+")


def run_name(job_prefix: str, execution_name: str) -> str:
    """Return ``<prefix>-<execution name>``, made valid for SageMaker and at most 63 chars.

    Execution names may hold ``_`` and ``.`` and be 80 characters long; SageMaker allows only
    ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``. Invalid runs of characters become ``-``; a name that
    would be too long is cut and suffixed with 8 hex digits of the execution name's SHA-1, so
    different executions never share a name and the same execution always gets the same one.

    Args:
        job_prefix: the deployment prefix (IAM on SageMaker resources is scoped on it).
        execution_name: ``$$.Execution.Name``.

    Returns:
        The run name.
    """
    cleaned = _INVALID.sub("-", execution_name).strip("-") or "run"
    name = f"{job_prefix}-{cleaned}"
    if len(name) <= MAX_NAME and cleaned == execution_name:
        return name
    digest = hashlib.sha1(execution_name.encode(), usedforsecurity=False).hexdigest()[:8]
    head = name[: MAX_NAME - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"
