"""Run ``entrypoint.sh serve`` as a child process on a free loopback port (local runs, tests).

The server binds ``127.0.0.1`` only (``SAGEMAKER_BIND_TO_ADDRESS``), is healthy once ``/ping``
answers 200, and is stopped like SageMaker stops it: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

from retailsage.core.errors import PlatformError

LOOPBACK = "127.0.0.1"
_REPO_ENTRYPOINT = Path(__file__).resolve().parents[3] / "entrypoint.sh"
_IMAGE_ENTRYPOINTS = (Path("/entrypoint.sh"), Path("/opt/program/entrypoint.sh"))


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def find_entrypoint() -> Path:
    """Locate ``entrypoint.sh``: ``RETAILSAGE_ENTRYPOINT``, the checkout, or the image.

    Returns:
        The path of the entrypoint script.

    Raises:
        PlatformError: none found.
    """
    override = os.environ.get("RETAILSAGE_ENTRYPOINT")
    candidates = [Path(override)] if override else [_REPO_ENTRYPOINT, *_IMAGE_ENTRYPOINTS]
    for path in candidates:
        if path.is_file():
            return path
    raise PlatformError(f"entrypoint.sh not found (looked at {', '.join(map(str, candidates))})")


def ping(host: str, port: int, timeout: float = 2.0) -> int | None:
    """GET ``/ping`` once; return the status code, or None when nothing answers.

    Args:
        host: server address.
        port: server port.
        timeout: socket timeout in seconds (SageMaker's ping timeout is 2 s).

    Returns:
        The HTTP status, or None on a connection error.
    """
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/ping")
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        connection.close()


class ServerProcess:
    """Context manager running ``entrypoint.sh serve`` on ``127.0.0.1:<free port>``.

    Example::

        with ServerProcess(Path("model"), env={"SAGEMAKER_BATCH": "true"}) as server:
            run_batch_transform(server.url, ...)

    Attributes:
        model_dir: the model directory served (``SM_MODEL_DIR``).
        port: the port bound.
        startup_seconds: time from spawn until ``/ping`` first answered 200.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        startup_timeout_s: float = 60.0,
        stop_timeout_s: float = 30.0,
        log_path: Path | None = None,
    ) -> None:
        """Configure the server; nothing starts before ``__enter__``/``start``.

        Args:
            model_dir: the extracted model directory to serve.
            env: extra environment (``SAGEMAKER_MODEL_SERVER_WORKERS``, ``SAGEMAKER_BATCH``...).
            port: the port to bind; a free one when omitted.
            startup_timeout_s: how long to wait for ``/ping`` 200.
            stop_timeout_s: grace period between SIGTERM and SIGKILL.
            log_path: where the server's stdout/stderr go (a temporary file when omitted).
        """
        self.model_dir = Path(model_dir)
        self.port = port or free_port()
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.startup_seconds = float("nan")
        self._extra_env = dict(env or {})
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43121``."""
        return f"http://{LOOPBACK}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The child's environment: ours, the serve settings, then the caller's extras."""
        env = dict(os.environ)
        env.update(
            {
                "SM_MODEL_DIR": str(self.model_dir),
                "SAGEMAKER_BIND_TO_ADDRESS": LOOPBACK,
                "SAGEMAKER_BIND_TO_PORT": str(self.port),
                "RETAILSAGE_PYTHON": sys.executable,
            }
        )
        env.update(self._extra_env)
        return env

    def start(self) -> ServerProcess:
        """Spawn the server and wait until ``/ping`` answers 200.

        Returns:
            ``self``.

        Raises:
            PlatformError: the server exited or did not become healthy in time (the message
                carries the tail of its log).
        """
        if self._log_path is None:
            self._log = tempfile.NamedTemporaryFile(prefix="retailsage-serve-", suffix=".log")  # noqa: SIM115
        else:
            self._log = self._log_path.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(find_entrypoint()), "serve"],
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + self.startup_timeout_s
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                self._fail(f"server exited with code {self.process.returncode} during startup")
            if ping(LOOPBACK, self.port, timeout=1.0) == 200:
                self.startup_seconds = time.perf_counter() - started
                return self
            time.sleep(0.02)
        self._fail(f"server not healthy after {self.startup_timeout_s:.0f} s")
        raise AssertionError("unreachable")  # _fail always raises

    def log_text(self) -> str:
        """Return what the server has logged so far."""
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def _fail(self, reason: str) -> None:
        """Stop the server and raise with the tail of its log."""
        tail = self.log_text()[-3000:]
        self.stop()
        raise PlatformError(f"{reason}; server log tail:\n{tail}")

    def stop(self) -> int | None:
        """SIGTERM the server, SIGKILL its process group after the grace period.

        Returns:
            The server's exit code (None if it never started).
        """
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._reap_group(process.pid)
        if self._log is not None:
            self._log.close()
            self._log = None
        return process.returncode

    @staticmethod
    def _reap_group(pgid: int) -> None:
        """Kill any worker left in the server's own process group (the group we created)."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return

    def __enter__(self) -> ServerProcess:
        """Start the server (see :meth:`start`)."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()
