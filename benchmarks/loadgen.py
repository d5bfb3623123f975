"""Bounded closed-loop HTTP load generator for loopback benchmarks.

Each of ``concurrency`` threads keeps one keep-alive ``http.client`` connection (reopened when
the server closes it), sends the same request back to back for a fixed duration and records
latencies. Only 127.0.0.1 is accepted as a target.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return (
            float(np.percentile(self.latencies_ms, q)) if self.latencies_ms.size else float("nan")
        )


class NoDelayConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` with TCP_NODELAY, so the client never adds a Nagle stall."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _one_request(
    connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
) -> bool:
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        connection.close()
        return False


def require_loopback(host: str) -> None:
    """Refuse any target but 127.0.0.1 (benchmarks never leave the machine)."""
    if host != "127.0.0.1":
        raise ValueError("the load generator only targets 127.0.0.1")


def run_load(
    port: int,
    body: bytes,
    headers: dict[str, str],
    *,
    concurrency: int,
    seconds: float,
    warmup_s: float = 1.0,
    host: str = "127.0.0.1",
) -> LoadResult:
    """POST ``body`` to ``/invocations`` from ``concurrency`` threads for ``seconds``."""
    require_loopback(host)
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop_at = measure_from + seconds
    per_thread: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency

    def worker(index: int) -> None:
        connection = NoDelayConnection(host, port, timeout=30)
        latencies = per_thread[index]
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                break
            ok = _one_request(connection, body, headers)
            done = time.perf_counter()
            if sent >= measure_from:
                if ok:
                    latencies.append((done - sent) * 1000.0)
                else:
                    errors[index] += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = np.array([x for lat in per_thread for x in lat])
    return LoadResult(int(latencies.size), sum(errors), seconds, latencies)


def process_tree_pss_mb(pid: int) -> float:
    """Current PSS (shared pages split between sharers) in MB over a process and its children."""
    total = 0.0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def _tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            pids += [int(p) for p in handle.read().split()]
    except OSError:
        pass
    return pids


def process_tree_rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, sum of peak RSS) in MB over a process and its direct children."""
    rss = peak = 0.0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) / 1024
                    elif line.startswith("VmHWM:"):
                        peak += int(line.split()[1]) / 1024
        except OSError:
            continue
    return rss, peak
