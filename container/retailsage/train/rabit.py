"""XGBoost's own collective (Rabit) as a :class:`~retailsage.core.collective.Collective`.

The first host of the group runs ``xgboost.tracker.RabitTracker`` (as AWS's XGBoost container
does on ``hosts[0]``); every host, the first included, joins with
``xgboost.collective.CommunicatorContext``. Ranks follow the group's sorted host order (each
host's task id is its zero-padded index and the tracker sorts by task). Inside the group,
``xgb.train`` builds one model over every host's rows (histograms and quantile sketches are
all-reduced by XGBoost itself) and our own statistics go through :meth:`RabitCollective.allreduce`.

A host that dies breaks the ring: the other hosts' next all-reduce fails and the error is
raised as :class:`~retailsage.train.cluster.ClusterError`; a host that never arrives makes the
tracker and the other workers give up after the timeout.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import xgboost as xgb
from xgboost import collective
from xgboost.tracker import RabitTracker

from retailsage.core.collective import ReduceOp
from retailsage.train.cluster import ClusterError

logger = logging.getLogger(__name__)

_OPS = {"sum": collective.Op.SUM, "min": collective.Op.MIN, "max": collective.Op.MAX}
_NETWORK_WORDS = ("allreduce", "broadcast", "socket", "tracker", "connect", "poll", "timeout")
"""Words of XGBoost errors that come from the network, not from the data or parameters."""


class RabitCollective:
    """All-reduce through XGBoost's communicator (valid inside :func:`rabit_group`)."""

    engine = "rabit"

    def __init__(self, rank: int, world_size: int) -> None:
        """Record this host's place in the group.

        Args:
            rank: this host's rank.
            world_size: the number of hosts.
        """
        self.rank = rank
        self.world_size = world_size

    def allreduce(self, values: np.ndarray, op: ReduceOp) -> np.ndarray:
        """Reduce ``values`` over every host.

        Args:
            values: a numeric array of the same shape and dtype on every host.
            op: ``sum``, ``min`` or ``max``.

        Returns:
            The reduced array, shaped like ``values``.
        """
        data = np.ascontiguousarray(values)
        return collective.allreduce(data, _OPS[op]).reshape(data.shape)


def is_network_error(exc: BaseException) -> bool:
    """Tell whether an XGBoost error comes from the collective's network layer.

    Args:
        exc: the exception.

    Returns:
        True for an ``XGBoostError`` mentioning sockets, the tracker or a collective call.
    """
    text = str(exc).lower()
    return isinstance(exc, xgb.core.XGBoostError) and any(w in text for w in _NETWORK_WORDS)


def start_tracker(workers: int, address: str, port: int, timeout_s: int) -> RabitTracker:
    """Start a Rabit tracker for ``workers`` hosts, listening on ``address:port``.

    Args:
        workers: hosts that will join.
        address: this (the first) host's address.
        port: the tracker port.
        timeout_s: how long the tracker waits for every host to join and to leave.

    Returns:
        The running tracker (hand it to :func:`rabit_group`).
    """
    tracker = RabitTracker(
        n_workers=workers, host_ip=address, port=port, sortby="task", timeout=timeout_s
    )
    tracker.start()
    return tracker


def wait_for_listener(address: str, port: int, timeout_s: float, poll_s: float = 0.2) -> None:
    """Wait until ``address:port`` accepts connections (the tracker is up), then return.

    XGBoost's own connection retries back off by whole seconds; probing first lets a host
    join the moment the tracker listens. The tracker logs one "Failed to initialize worker
    proxy" warning per probe; it is harmless.

    Args:
        address: the tracker's address.
        port: its port.
        timeout_s: how long to keep trying.
        poll_s: the wait between tries.

    Raises:
        ClusterError: nothing listened within ``timeout_s`` (the first host was lost).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((address, port), timeout=min(5.0, timeout_s)):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise ClusterError(
                    f"the first host's Rabit tracker at {address}:{port} did not answer within "
                    f"{timeout_s} s ({exc}); a host was lost or did not join"
                ) from exc
            time.sleep(poll_s)


@contextmanager
def rabit_group(
    hosts: Sequence[str],
    rank: int,
    master_address: str,
    port: int,
    timeout_s: int,
    tracker: RabitTracker | None = None,
) -> Iterator[RabitCollective]:
    """Form a Rabit group of ``hosts`` (the first runs the tracker) and yield its collective.

    Args:
        hosts: the group's hosts, sorted; ``hosts[rank]`` is this host.
        rank: this host's index in ``hosts``.
        master_address: the address of ``hosts[0]`` (where the tracker listens).
        port: the tracker port.
        timeout_s: how long to wait for every host to join or leave, and for one operation.
        tracker: a tracker rank 0 started already (so the others find it listening); rank 0
            starts one when omitted. Rank 0 stops it when the block ends.

    Yields:
        The collective; XGBoost training inside the block is distributed over the group.

    Raises:
        ClusterError: a host did not join in time or was lost during the block.
    """
    if rank == 0 and tracker is None:
        tracker = start_tracker(len(hosts), master_address, port, timeout_s)
    elif rank != 0:
        wait_for_listener(master_address, port, timeout_s)
    args: dict[str, int | str | None] = {
        "dmlc_tracker_uri": master_address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": f"{rank:05d}-{hosts[rank]}",
        "dmlc_timeout": timeout_s,
        "dmlc_retry": max(3, timeout_s // 3),
    }
    logger.info(
        "joining the Rabit group of %s at %s:%d as rank %d", list(hosts), master_address, port, rank
    )
    failed = False
    try:
        with collective.CommunicatorContext(**args):
            if collective.get_rank() != rank or collective.get_world_size() != len(hosts):
                raise ClusterError(
                    f"Rabit gave host {hosts[rank]} rank {collective.get_rank()} of "
                    f"{collective.get_world_size()}; expected {rank} of {len(hosts)}"
                )
            yield RabitCollective(rank, len(hosts))
    except xgb.core.XGBoostError as exc:
        failed = True
        if not is_network_error(exc):
            raise
        raise ClusterError(
            f"the XGBoost collective of hosts {list(hosts)} failed on {hosts[rank]}: a host was "
            f"lost or did not join within {timeout_s} s ({str(exc).strip().splitlines()[0]})"
        ) from exc
    except BaseException:
        failed = True
        raise
    finally:
        if tracker is not None:
            _close_tracker(tracker, timeout_s, failed)


def _close_tracker(tracker: RabitTracker, timeout_s: int, failed: bool) -> None:
    """Wait for the tracker to see every worker leave, then free it (errors only logged).

    After a failure a lost worker never says goodbye, so the wait is cut to a second.
    """
    try:
        tracker.wait_for(1 if failed else timeout_s)
    except (xgb.core.XGBoostError, ValueError) as exc:
        log = logger.info if failed else logger.warning
        log("the Rabit tracker did not shut down cleanly: %s", str(exc).strip().splitlines()[0])
    try:
        tracker.free()
    except xgb.core.XGBoostError as exc:
        logger.info("freeing the Rabit tracker: %s", str(exc).strip().splitlines()[0])
