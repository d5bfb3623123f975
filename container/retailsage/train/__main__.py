"""``python -m retailsage.train``: run one SageMaker training job (what ``IMAGE train`` execs).

Wiring only: logging to stderr (stdout carries the metric lines), the SIGTERM/SIGINT stop flag,
then :func:`retailsage.train.runner.main`, whose return value is the exit code.
"""

from __future__ import annotations

import logging
import os
import sys

from retailsage.train.runner import main
from retailsage.train.signals import StopFlag


def _configure_logging() -> None:
    """Log to stderr at ``SM_LOG_LEVEL`` (a number or a name; INFO by default)."""
    level = os.environ.get("SM_LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=int(level) if level.isdigit() else level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":
    _configure_logging()
    stop = StopFlag()
    stop.install()
    sys.exit(main(stop=stop))
