"""Logging of the job modes (``train``, ``featurize``): stderr, at ``SM_LOG_LEVEL``.

The training toolkit exports ``SM_LOG_LEVEL`` as a number (``20``); people also write names
(``debug``). A value that names no level must not crash the job before its failure contract is
in place (no ``output/failure``, a bare traceback): it falls back to INFO with a warning.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

LOG_LEVEL_ENV = "SM_LOG_LEVEL"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def parse_log_level(value: str | None) -> int | None:
    """Return the logging level a ``SM_LOG_LEVEL`` value names.

    Args:
        value: a number (``"20"``), a level name in any case (``"debug"``), or nothing.

    Returns:
        The numeric level; INFO when ``value`` is unset or blank; ``None`` when it names no level.
    """
    text = (value or "").strip()
    if not text:
        return logging.INFO
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    return level if isinstance(level, int) else None


def configure_job_logging(env: Mapping[str, str] | None = None) -> None:
    """Log to stderr (stdout carries metric lines) at ``SM_LOG_LEVEL``, INFO if it is unknown.

    Args:
        env: the environment to read; ``os.environ`` when omitted.
    """
    env = os.environ if env is None else env
    raw = env.get(LOG_LEVEL_ENV)
    level = parse_log_level(raw)
    logging.basicConfig(
        level=logging.INFO if level is None else level, format=LOG_FORMAT, stream=sys.stderr
    )
    if level is None:
        logging.getLogger(__name__).warning(
            "%s=%r names no log level (use a number such as 20 or a name such as INFO); "
            "logging at INFO",
            LOG_LEVEL_ENV,
            raw,
        )
