"""torch.distributed (gloo) as a :class:`~retailsage.core.collective.Collective`, for the LSTM.

Set up as SageMaker's PyTorch toolkit does it: ``MASTER_ADDR`` is the group's first host and
``MASTER_PORT`` 7777 (passed here as a ``tcp://`` init method), ranks follow the sorted hosts,
and ``GLOO_SOCKET_IFNAME`` is set from ``resourceconfig.json``'s ``network_interface_name``
(unless the environment already sets it). Inside :func:`torch_group`, the LSTM family wraps its
network in ``DistributedDataParallel`` (:mod:`retailsage.models.data_parallel`) and reduces its
statistics through :meth:`TorchCollective.allreduce`. Every operation has the group's timeout, so
a lost host fails the job (:class:`~retailsage.train.cluster.ClusterError`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.distributed as dist

from retailsage.core.collective import ReduceOp
from retailsage.train.cluster import ClusterError

logger = logging.getLogger(__name__)

_NETWORK_WORDS = ("gloo", "connection", "timed out", "timeout", "peer")
"""Words of gloo transport errors (a lost or hung host), as opposed to bugs in our code."""
_OPS = {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}


class TorchCollective:
    """All-reduce through the default gloo process group (valid inside :func:`torch_group`)."""

    engine = "torch"

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
        tensor = torch.from_numpy(np.array(values, copy=True))
        dist.all_reduce(tensor, op=_OPS[op])
        return tensor.numpy()


def is_network_error(exc: BaseException) -> bool:
    """Tell whether a torch error comes from the process group's transport (a lost peer).

    Args:
        exc: the exception.

    Returns:
        True for ``torch.distributed`` errors and gloo transport failures (reset or closed
        connections, timeouts).
    """
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(word in text for word in _NETWORK_WORDS)


@contextmanager
def torch_group(
    hosts: Sequence[str],
    rank: int,
    master_address: str,
    port: int,
    timeout_s: int,
    interface: str | None = None,
) -> Iterator[TorchCollective]:
    """Form the gloo process group of ``hosts`` and yield its collective.

    Args:
        hosts: the group's hosts, sorted; ``hosts[rank]`` is this host.
        rank: this host's index in ``hosts``.
        master_address: the address of ``hosts[0]`` (``MASTER_ADDR``).
        port: ``MASTER_PORT``.
        timeout_s: how long to wait for the others to join, and for one operation.
        interface: the network interface for gloo (``GLOO_SOCKET_IFNAME``), if known.

    Yields:
        The collective.

    Raises:
        ClusterError: a host did not join in time or was lost during the block.
    """
    if interface and "GLOO_SOCKET_IFNAME" not in os.environ:
        os.environ["GLOO_SOCKET_IFNAME"] = interface
    logger.info(
        "joining the gloo group of %s at %s:%d as rank %d", list(hosts), master_address, port, rank
    )
    try:
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://{master_address}:{port}",
            rank=rank,
            world_size=len(hosts),
            timeout=dt.timedelta(seconds=timeout_s),
        )
    except (RuntimeError, ValueError) as exc:
        raise ClusterError(
            f"the gloo group of hosts {list(hosts)} did not form on {hosts[rank]} within "
            f"{timeout_s} s: {exc}"
        ) from exc
    try:
        yield TorchCollective(rank, len(hosts))
        dist.barrier()  # every host's last operation is done before any host closes the group
    except RuntimeError as exc:
        if not is_network_error(exc):
            raise
        raise ClusterError(
            f"the gloo group of hosts {list(hosts)} failed on {hosts[rank]}: a host was lost "
            f"({str(exc).strip().splitlines()[0]})"
        ) from exc
    finally:
        dist.destroy_process_group()
