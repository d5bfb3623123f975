"""The training failure contract: ``output/failure`` text and the process exit code.

SageMaker surfaces the first 1,024 characters of ``/opt/ml/output/failure`` as the job's
``FailureReason``, so the user-facing message always comes first: ``UserError: <message>``
(exit 1) for problems the caller can fix, ``AlgorithmError: <message>`` followed by the
traceback (exit 2) for ours. A job stopped by SIGTERM (``StopTrainingJob`` or a spot
interruption) writes ``Stopped: <message>`` and exits 143 (128 + SIGTERM); SageMaker reports
such a job as ``Stopped`` whatever the exit code. An existing failure file is never overwritten
(the first failure is the one that matters, as in the training toolkit).
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from retailsage.core.errors import RetailSageError, failure_kind
from retailsage.models.base import TrainingInterrupted

logger = logging.getLogger(__name__)

FAILURE_REASON_LIMIT = 1024
EXIT_USER_ERROR = 1
EXIT_ALGORITHM_ERROR = 2
EXIT_STOPPED = 143


def exit_code_for(exc: BaseException) -> int:
    """Return the process exit code for the exception that ended the job.

    Args:
        exc: the exception.

    Returns:
        1 for user errors, 143 for a stopped job, 2 for everything else.
    """
    if isinstance(exc, TrainingInterrupted):
        return EXIT_STOPPED
    return EXIT_USER_ERROR if failure_kind(exc) == "UserError" else EXIT_ALGORITHM_ERROR


def format_failure(exc: BaseException) -> str:
    """Render the failure text: the kind and message first, a traceback for our own bugs.

    Args:
        exc: the exception that ended the job.

    Returns:
        ``"<Kind>: <message>"``, plus a blank line and the traceback for algorithm errors.
    """
    if isinstance(exc, TrainingInterrupted):
        return f"Stopped: {exc}\n"
    kind = failure_kind(exc)
    if kind == "UserError":
        return f"UserError: {exc}\n"
    # A foreign exception's class name is part of the message (KeyError: 'x' says little alone).
    message = str(exc) if isinstance(exc, RetailSageError) else f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    return f"{kind}: {message}\n\n{trace}"


def write_failure(failure_file: Path, exc: BaseException) -> bool:
    """Write the failure file unless one already exists.

    Args:
        failure_file: ``output/failure`` of the job's tree.
        exc: the exception that ended the job.

    Returns:
        True if this call wrote the file, False if an earlier failure was kept.
    """
    text = format_failure(exc)
    if failure_file.exists():
        logger.warning("keeping the existing failure file %s", failure_file)
        return False
    failure_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with failure_file.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        return False
    return True
