"""``python -m retailsage.processing ARGS``: the ``featurize`` mode (``IMAGE featurize`` execs it).

Wiring only: logging to stderr, then :func:`retailsage.processing.featurize_job.main`.
"""

from __future__ import annotations

import logging
import os
import sys

from retailsage.processing.featurize_job import main

if __name__ == "__main__":
    level = os.environ.get("SM_LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=int(level) if level.isdigit() else level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    sys.exit(main(sys.argv[1:]))
