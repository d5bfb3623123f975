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


@contextmanager
def rabit_group(
    hosts: Sequence[str], rank: int, master_address: str, port: int, timeout_s: int
) -> Iterator[RabitCollective]:
    """Form a Rabit group of ``hosts`` (the first runs the tracker) and yield its collective.

    Args:
        hosts: the group's hosts, sorted; ``hosts[rank]`` is this host.
        rank: this host's index in ``hosts``.
        master_address: the address of ``hosts[0]`` (where the tracker listens).
        port: the tracker port.
        timeout_s: how long to wait for every host to join or leave, and for one operation.

    Yields:
        The collective; XGBoost training inside the block is distributed over the group.

    Raises:
        ClusterError: a host did not join in time or was lost during the block.
    """
    tracker = None
    if rank == 0:
        tracker = RabitTracker(
            n_workers=len(hosts),
            host_ip=master_address,
            port=port,
            sortby="task",
            timeout=timeout_s,
        )
        tracker.start()
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
    """Wait for the tracker to see every worker leave, then free it (errors only logged)."""
    try:
        tracker.wait_for(timeout_s)
    except (xgb.core.XGBoostError, ValueError) as exc:
        log = logger.info if failed else logger.warning
        log("the Rabit tracker did not shut down cleanly: %s", str(exc).strip().splitlines()[0])
    try:
        tracker.free()
    except xgb.core.XGBoostError as exc:
        logger.info("freeing the Rabit tracker: %s", str(exc).strip().splitlines()[0])
