"""gunicorn settings for ``serve`` mode, from the SageMaker environment (read once).

* bind ``${SAGEMAKER_BIND_TO_ADDRESS:-0.0.0.0}:${SAGEMAKER_BIND_TO_PORT:-8080}``;
* ``workers`` = ``SAGEMAKER_MODEL_SERVER_WORKERS`` (default: CPU count), sync workers;
* ``timeout`` = ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (default 60 s);
* no preload: every worker loads its own model at boot (``retailsage.serve.wsgi``), so a
  broken model makes the worker fail to boot and the arbiter halt;
* once bound, the listeners get TCP_NODELAY and the master imports the model family's code
  (not the model) before forking, so workers boot in milliseconds and share those pages
  copy-on-write;
* gunicorn's own error responses (malformed HTTP, a worker killed at the timeout) carry the
  documented JSON body, a timeout as ``504 {"error": "Timeout"}``
  (:mod:`retailsage.serve.gunicorn_errors`);
* one OpenMP thread per worker, no access log (no per-request logging on the hot path), no
  control socket (several local servers must not fight over ``~/.gunicorn/gunicorn.ctl``).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from retailsage.serve import gunicorn_errors
from retailsage.serve import metrics as _metrics
from retailsage.serve.settings import ServeSettings

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

gunicorn_errors.install()

# before any worker imports xgboost/torch: workers = cores, one compute thread each
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

_settings = ServeSettings.from_env()
_host = f"[{_settings.bind_address}]" if ":" in _settings.bind_address else _settings.bind_address

bind = [f"{_host}:{_settings.port}"]
workers = _settings.workers
worker_class = "sync"
timeout = _settings.timeout_s
graceful_timeout = 25  # SageMaker sends SIGKILL 30 s after SIGTERM
preload_app = False
accesslog = None
errorlog = "-"
loglevel = os.environ.get("RETAILSAGE_LOG_LEVEL", "info").lower()
capture_output = False
proc_name = "retailsage-serve"
backlog = 2048
control_socket_disable = True
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"  # heartbeat files off the (possibly slow) container disk

logging.basicConfig(
    level=loglevel.upper(),
    format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
)


# Prometheus multiprocess mode: one temp dir per server, dead workers marked, removed at exit.
on_starting = _metrics.start_server
child_exit = _metrics.worker_exited
on_exit = _metrics.stop_server


def when_ready(server: Arbiter) -> None:
    """After binding (connections queue from here on): TCP_NODELAY, family code, then fork.

    Accepted sockets inherit TCP_NODELAY from their listener on Linux, so gunicorn's separate
    header and body writes never wait ~40 ms for a delayed ACK (Nagle), whatever the response.
    """
    for listener in server.LISTENERS:
        sock = listener.sock
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    from retailsage.serve.preload import import_family_code  # after bind: pandas, xgboost, ...

    import_family_code(_settings.model_dir)


def worker_abort(worker: Worker) -> None:
    """The arbiter aborts a worker whose request ran past ``timeout``: answer it in JSON."""
    gunicorn_errors.mark_timed_out(_settings.timeout_s)
