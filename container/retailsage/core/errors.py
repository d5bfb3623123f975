"""Error classes, classified by who can fix the problem.

* ``UserError``: the caller's input is wrong (data, hyperparameters, request payload).
  Training writes ``UserError: <message>`` to ``output/failure`` and exits 1.
* ``AlgorithmError``: our own code failed. Training writes ``AlgorithmError: ...`` and exits 2.
* ``PlatformError``: the environment is broken (missing mount, no disk). Exit 2 as well.

Serving maps ``RequestError`` subclasses to HTTP status codes; every other exception is a 500.
"""

from __future__ import annotations


class RetailSageError(Exception):
    """Base class of every error this project raises on purpose."""

    kind: str = "RetailSageError"

    def __init__(self, message: str) -> None:
        """Store the human-readable message.

        Args:
            message: what went wrong and, where known, the likely cause.
        """
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        """Return the message alone (the class name is added by the reporters)."""
        return self.message


class UserError(RetailSageError):
    """Bad input that the user can fix: data, hyperparameters, configuration."""

    kind = "UserError"


class DataError(UserError):
    """The input data is unreadable, empty or does not match the expected schema.

    Messages name the file, and where known the row and column.
    """

    kind = "UserError"


class NoDataError(DataError):
    """Nothing is left to learn from after cleaning (the pipeline's "Nothing To Do")."""

    kind = "UserError"


class HyperparameterError(UserError):
    """A hyperparameter is unknown, of the wrong type or out of range."""

    kind = "UserError"


class AlgorithmError(RetailSageError):
    """A failure inside our own algorithm code."""

    kind = "AlgorithmError"


class PlatformError(RetailSageError):
    """The runtime environment is not as SageMaker promises (paths, permissions, disk)."""

    kind = "PlatformError"


class NotFittedError(AlgorithmError):
    """A model was asked to predict or save before it was fitted."""


class ArtifactError(UserError):
    """A model artifact is missing, incompatible, or refuses to load safely."""

    kind = "UserError"


class RequestError(UserError):
    """A client error while serving; carries the HTTP status code to answer with."""

    status: int = 400
    error: str = "BadRequest"


class BadInput(RequestError):
    """Malformed payload or schema mismatch (HTTP 400); the message names row/column."""

    status = 400
    error = "BadInput"


class UnsupportedMediaType(RequestError):
    """The request Content-Type is not one we decode (HTTP 415)."""

    status = 415
    error = "UnsupportedMediaType"


class NotAcceptable(RequestError):
    """No Accept type we can encode to (HTTP 406)."""

    status = 406
    error = "NotAcceptable"


class PayloadTooLarge(RequestError):
    """The request body exceeds the configured payload limit (HTTP 413)."""

    status = 413
    error = "PayloadTooLarge"


def failure_kind(exc: BaseException) -> str:
    """Return the failure-file prefix for an exception (``UserError`` or ``AlgorithmError``).

    Args:
        exc: the exception that ended a job.

    Returns:
        ``"UserError"`` for anything the user can fix, else ``"AlgorithmError"``.
    """
    if isinstance(exc, UserError):
        return "UserError"
    if isinstance(exc, PlatformError):
        return "PlatformError"
    return "AlgorithmError"
