"""``python -m retailsage.train``: run one SageMaker training job (what ``IMAGE train`` execs).

Wiring only: logging to stderr at ``SM_LOG_LEVEL`` (stdout carries the metric lines), the
SIGTERM/SIGINT stop flag, then :func:`retailsage.train.runner.main`, whose return value is the
exit code.
"""

from __future__ import annotations

import sys

from retailsage.core.logs import configure_job_logging
from retailsage.train.runner import main
from retailsage.train.signals import StopFlag

if __name__ == "__main__":
    configure_job_logging()
    stop = StopFlag()
    stop.install()
    sys.exit(main(stop=stop))
