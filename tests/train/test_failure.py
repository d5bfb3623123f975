from __future__ import annotations

import pytest

from retailsage.core.errors import AlgorithmError, DataError, HyperparameterError, PlatformError
from retailsage.models.base import TrainingInterrupted
from retailsage.train.failure import (
    FAILURE_REASON_LIMIT,
    exit_code_for,
    format_failure,
    write_failure,
)


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "prefix", "code", "has_traceback"),
    [
        (HyperparameterError("unknown hyperparameter(s) x"), "UserError: unknown", 1, False),
        (DataError("train.csv: missing column(s) Country"), "UserError: train.csv", 1, False),
        (AlgorithmError("centroids diverged"), "AlgorithmError: centroids diverged", 2, True),
        (KeyError("order_value"), "AlgorithmError: KeyError: 'order_value'", 2, True),
        (PlatformError("disk full"), "PlatformError: disk full", 2, True),
        (TrainingInterrupted("stopped by SIGTERM"), "Stopped: stopped by SIGTERM", 143, False),
    ],
)
def test_failure_text_and_exit_code(exc, prefix, code, has_traceback):
    exc = raised(exc)
    text = format_failure(exc)
    assert text.startswith(prefix)
    assert ("Traceback (most recent call last)" in text) is has_traceback
    assert exit_code_for(exc) == code


def test_message_comes_before_a_long_traceback():
    exc = raised(ValueError("boom " * 10))
    text = format_failure(exc)
    assert "boom boom" in text[:FAILURE_REASON_LIMIT]
    assert text.index("boom") < text.index("Traceback")


def test_existing_failure_file_is_never_overwritten(tmp_path):
    failure = tmp_path / "output" / "failure"
    assert write_failure(failure, raised(DataError("first")))
    assert not write_failure(failure, raised(AlgorithmError("second")))
    assert failure.read_text() == "UserError: first\n"
