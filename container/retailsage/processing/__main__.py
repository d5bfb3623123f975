"""``python -m retailsage.processing ARGS``: the ``featurize`` mode (``IMAGE featurize`` execs it).

Wiring only: logging to stderr, then :func:`retailsage.processing.featurize_job.main`.
"""

from __future__ import annotations

import sys

from retailsage.core.logs import configure_job_logging
from retailsage.processing.featurize_job import main

if __name__ == "__main__":
    configure_job_logging()
    sys.exit(main(sys.argv[1:]))
