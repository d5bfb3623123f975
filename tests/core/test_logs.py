"""SM_LOG_LEVEL parsing for the job modes: numbers, names, and no crash on a bad value."""

from __future__ import annotations

import logging

import pytest

from retailsage.core.logs import configure_job_logging, parse_log_level


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (None, logging.INFO),
        ("", logging.INFO),
        ("20", logging.INFO),
        ("10", logging.DEBUG),
        ("debug", logging.DEBUG),
        (" Warning ", logging.WARNING),
        ("WARN", logging.WARNING),
        ("bogus", None),
        ("-5", None),
    ],
)
def test_parse_log_level(value: str | None, level: int | None) -> None:
    assert parse_log_level(value) == level


def test_an_unknown_level_logs_at_info_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: calls.append(kwargs))
    with caplog.at_level(logging.WARNING, logger="retailsage.core.logs"):
        configure_job_logging({"SM_LOG_LEVEL": "bogus"})
    assert calls[0]["level"] == logging.INFO
    assert "SM_LOG_LEVEL='bogus' names no log level" in caplog.text
