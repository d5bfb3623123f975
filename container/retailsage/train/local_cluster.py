"""Run a multi-host training job on one machine: n copies of ``entrypoint.sh train``.

What SageMaker does for ``ResourceConfig.InstanceCount = n``, locally and without Docker:

* one SageMaker tree per host (``algo-1`` .. ``algo-n``), each with its own
  ``SAGEMAKER_BASE_DIR`` and a ``resourceconfig.json`` naming every host and its own;
* channel objects copied to every host (``FullyReplicated``) or dealt out by key
  (``ShardedByS3Key``: sorted keys, host ``i`` gets keys ``i, i+n, ...``; with fewer objects
  than hosts some hosts get none);
* the hosts reach each other over loopback: every host name maps to ``127.0.0.1`` and the
  collective ports are free ports picked here (``RETAILSAGE_HOST_ADDRESSES`` /
  ``RETAILSAGE_COLLECTIVE_PORTS``), so parallel jobs never collide;
* the CPU cores are split between the hosts (``OMP_NUM_THREADS``), as separate instances
  would not share them;
* when one host fails, the others are stopped (SIGTERM), as SageMaker stops a job whose
  algorithm failed on any instance.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from retailsage.core.paths import BASE_DIR_ENV, SageMakerPaths
from retailsage.train.cluster import HOST_ADDRESSES_ENV, PORTS_ENV
from retailsage.train.local import build_training_tree, training_command

logger = logging.getLogger(__name__)

SHARDED = "ShardedByS3Key"
LOOPBACK = "127.0.0.1"


def host_names(count: int) -> tuple[str, ...]:
    """SageMaker's host names for ``count`` instances.

    Args:
        count: instances (>= 1).

    Returns:
        ``("algo-1", ..., "algo-<count>")``.
    """
    return tuple(f"algo-{i}" for i in range(1, count + 1))


def deal_objects(files: Sequence[Path], hosts: int) -> list[list[Path]]:
    """Deal a channel's objects to hosts as ``ShardedByS3Key`` does (by sorted key).

    Args:
        files: the channel's objects.
        hosts: the number of hosts.

    Returns:
        One list per host; host ``i`` gets the sorted objects ``i, i + hosts, ...``.
    """
    ordered = sorted(files, key=lambda path: path.name)
    return [ordered[i::hosts] for i in range(hosts)]


def free_ports(count: int) -> list[int]:
    """Ask the OS for ``count`` free loopback ports (held together, so they differ).

    Args:
        count: how many.

    Returns:
        The port numbers.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def host_tree_root(root: Path, host: str) -> Path:
    """The tree of ``host``: ``root`` itself for ``algo-1``, a sibling ``<root>.<host>`` else.

    Args:
        root: the job's tree (``algo-1``'s, where ``model/`` ends up).
        host: the host name.

    Returns:
        The host's ``SAGEMAKER_BASE_DIR``.
    """
    return root if host == "algo-1" else root.with_name(f"{root.name}.{host}")


@dataclass(frozen=True)
class LocalCluster:
    """The trees and environment of one local multi-host job.

    Attributes:
        hosts: the host names.
        trees: each host's SageMaker tree, in host order.
        env: variables every host process gets (addresses, ports, threads).
    """

    hosts: tuple[str, ...]
    trees: tuple[SageMakerPaths, ...]
    env: Mapping[str, str]


def build_cluster(
    root: Path,
    data_files: Mapping[str, Sequence[Path]],
    hyperparameters: Mapping[str, object],
    *,
    instance_count: int,
    distribution: Mapping[str, str] | None = None,
    checkpoints: bool = False,
    timeout_s: int | None = None,
) -> LocalCluster:
    """Lay out one tree per host and pick the loopback ports.

    Args:
        root: ``algo-1``'s tree (other hosts get siblings, see :func:`host_tree_root`).
        data_files: channel -> its objects.
        hyperparameters: the job's hyperparameters.
        instance_count: hosts.
        distribution: channel -> ``FullyReplicated`` | ``ShardedByS3Key``.
        checkpoints: give each host a checkpoint LocalPath (``<tree>/checkpoints``).
        timeout_s: ``RETAILSAGE_COLLECTIVE_TIMEOUT_S`` for the hosts (default: theirs).

    Returns:
        The cluster.
    """
    hosts = host_names(instance_count)
    spread = distribution or {}
    shares = {
        name: deal_objects(files, instance_count)
        if spread.get(name) == SHARDED
        else [list(files)] * instance_count
        for name, files in data_files.items()
    }
    trees = []
    for index, host in enumerate(hosts):
        base = host_tree_root(root, host)
        trees.append(
            build_training_tree(
                base,
                {name: share[index] for name, share in shares.items()},
                hyperparameters,
                checkpoint_dir=base / "checkpoints" if checkpoints else None,
                hosts=hosts,
                current_host=host,
                distribution=spread,
            )
        )
    meeting, rabit, torch_port = free_ports(3)
    env = {
        HOST_ADDRESSES_ENV: json.dumps(dict.fromkeys(hosts, LOOPBACK)),
        PORTS_ENV: json.dumps({"meeting": meeting, "rabit": rabit, "torch": torch_port}),
        "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // instance_count)),
    }
    if timeout_s is not None:
        env["RETAILSAGE_COLLECTIVE_TIMEOUT_S"] = str(timeout_s)
    return LocalCluster(hosts=hosts, trees=tuple(trees), env=env)


def run_cluster(
    cluster: LocalCluster,
    extra_env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    poll_s: float = 0.2,
    running: set[subprocess.Popen[str]] | None = None,
    base_env: Mapping[str, str] | None = None,
) -> list[int]:
    """Run every host's ``entrypoint.sh train`` at once and wait for all of them.

    ``algo-1``'s output goes to ``on_line`` (line by line) or this process's stdout; the other
    hosts' output goes to ``<tree>/host.log``. When one host exits non-zero, the others are
    sent SIGTERM.

    Args:
        cluster: what :func:`build_cluster` returned.
        extra_env: variables added to every host's environment.
        on_line: receives ``algo-1``'s output lines.
        poll_s: how often to check the processes.
        running: a set the host processes are added to while they run (so a caller can stop
            them) and removed from when they end.
        base_env: the environment the hosts start from (``os.environ`` when omitted).

    Returns:
        Each host's exit code, in host order.
    """
    processes: list[subprocess.Popen[str]] = []
    logs: list[IO[str]] = []
    try:
        for index, tree in enumerate(cluster.trees):
            env = dict(os.environ if base_env is None else base_env)
            env.update({BASE_DIR_ENV: str(tree.base), "RETAILSAGE_PYTHON": sys.executable})
            env.update(cluster.env)
            env.update(extra_env or {})
            if index == 0 and on_line is not None:
                out: IO[str] | int = subprocess.PIPE
            elif index == 0:
                out = sys.stdout
            else:
                log = (tree.base / "host.log").open("w", encoding="utf-8")
                logs.append(log)
                out = log
            processes.append(
                subprocess.Popen(
                    training_command(tree.base),
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    bufsize=1,
                )
            )
        if running is not None:
            running.update(processes)
        logger.info("started hosts %s", list(cluster.hosts))
        if on_line is not None and processes[0].stdout is not None:
            _pump(processes, on_line, poll_s)
        return _wait_all(processes, poll_s)
    finally:
        if running is not None:
            running.difference_update(processes)
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for handle in logs:
            handle.close()


def _pump(
    processes: list[subprocess.Popen[str]], on_line: Callable[[str], None], poll_s: float
) -> None:
    """Forward ``algo-1``'s lines; stop everyone when a host fails meanwhile."""
    import threading

    first = processes[0]
    assert first.stdout is not None  # PIPE

    def watch() -> None:
        while first.poll() is None:
            if any(p.poll() not in (None, 0) for p in processes):
                _stop_all(processes)
                return
            time.sleep(poll_s)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for line in first.stdout:
        on_line(line)
    first.wait()


def _stop_all(processes: Sequence[subprocess.Popen[str]]) -> None:
    """SIGTERM every host still running."""
    for process in processes:
        if process.poll() is None:
            process.terminate()


def _wait_all(processes: Sequence[subprocess.Popen[str]], poll_s: float) -> list[int]:
    """Wait for every host; a non-zero exit stops the others."""
    while any(p.poll() is None for p in processes):
        if any(p.poll() not in (None, 0) for p in processes):
            _stop_all(processes)
        time.sleep(poll_s)
    return [int(p.returncode) for p in processes]
