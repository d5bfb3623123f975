"""Named errors: Step Functions matches the class name in ``Retry``/``Catch`` ``ErrorEquals``.

Keep the class names stable; the state machine definition refers to them by name.
"""

from __future__ import annotations


class NoNewData(Exception):
    """The source prefix holds no transaction files, or none survive cleaning ("Nothing To Do")."""


class InvalidInput(Exception):
    """The execution input or a source file is malformed; the message names the file/column."""


class InvalidPredictions(Exception):
    """Transform output rows are unusable (NaN/inf value, missing id, not JSON) beyond tolerance."""


class ThrottledWrites(Exception):
    """DynamoDB kept items unprocessed after every backoff; safe to retry (idempotent puts)."""


class TransientWriteError(Exception):
    """S3 or DynamoDB failed transiently (5xx, timeout, lost connection); safe to retry."""


class WriteFailed(Exception):
    """DynamoDB refused the write for a reason a retry cannot fix (validation, access denied)."""


class MisconfiguredFunction(Exception):
    """The function's environment (set by the stack) is missing a variable or holds a bad value."""


NO_NEW_DATA = NoNewData.__name__
INVALID_INPUT = InvalidInput.__name__
INVALID_PREDICTIONS = InvalidPredictions.__name__
THROTTLED_WRITES = ThrottledWrites.__name__
TRANSIENT_WRITE_ERROR = TransientWriteError.__name__
WRITE_FAILED = WriteFailed.__name__
MISCONFIGURED_FUNCTION = MisconfiguredFunction.__name__
