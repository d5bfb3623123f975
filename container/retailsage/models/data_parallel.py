"""Data-parallel training of a torch network over the hosts of a multi-host job.

The network is wrapped in torch's ``DistributedDataParallel`` (gloo process group set up by
:mod:`retailsage.train.torch_ddp`): every host runs forward/backward on its own rows and the
gradients are averaged before each optimiser step, so all hosts hold the same weights.

DDP needs every host to take the same number of steps per epoch, and the model should see
the same optimiser-step count and global batch size as a single host would. :class:`BatchPlan`
therefore fixes ``steps = ceil(total rows / batch_size)`` over all hosts and gives each host a
local batch of ``ceil(own rows / steps)`` rows (wrapping around its shuffled rows when the last
batch would run short). A single host keeps the plain loop: same batches, same results.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from torch import nn

from retailsage.core.collective import Collective, global_sum, is_distributed
from retailsage.core.errors import AlgorithmError


@dataclass(frozen=True)
class BatchPlan:
    """How one host cuts its shuffled rows into the epoch's batches.

    Attributes:
        batch_size: rows per local batch.
        steps: batches per epoch (the same on every host).
        wrap: take rows modulo the local row count (multi-host plans only).
        rank_key: extra seed material for the shuffle (the rank; empty on one host).
    """

    batch_size: int
    steps: int
    wrap: bool = False
    rank_key: tuple[int, ...] = ()

    @classmethod
    def for_hosts(cls, rows: int, batch_size: int, collective: Collective) -> BatchPlan:
        """Plan the batches of this host.

        Args:
            rows: this host's training rows.
            batch_size: the configured (global) batch size.
            collective: the training hosts.

        Returns:
            The plain single-host plan, or the shared-step plan of a multi-host job.
        """
        if not is_distributed(collective):
            return cls(batch_size=batch_size, steps=math.ceil(rows / batch_size))
        total = int(global_sum(collective, [rows])[0])
        steps = max(1, math.ceil(total / batch_size))
        local = max(1, math.ceil(rows / steps))
        return cls(batch_size=local, steps=steps, wrap=True, rank_key=(collective.rank,))

    def batches(self, order: np.ndarray) -> Iterator[np.ndarray]:
        """Yield the row indices of each batch.

        Args:
            order: this epoch's permutation of the local rows.

        Yields:
            int64 index arrays, ``steps`` of them.
        """
        if not self.wrap:
            for start in range(0, len(order), self.batch_size):
                yield order[start : start + self.batch_size]
            return
        if len(order) == 0:
            raise AlgorithmError("a training host has no rows to train on")
        for step in range(self.steps):
            positions = np.arange(step * self.batch_size, (step + 1) * self.batch_size)
            yield order[positions % len(order)]


def data_parallel(network: nn.Module, collective: Collective) -> nn.Module:
    """Wrap ``network`` for multi-host training (DDP over gloo), or return it unchanged.

    Args:
        network: the freshly built (or resumed) network.
        collective: the training hosts.

    Returns:
        The module to run forward/backward through; its ``module`` is ``network``.

    Raises:
        AlgorithmError: a multi-host job whose collective is not torch.distributed.
    """
    if not is_distributed(collective):
        return network
    if collective.engine != "torch":
        raise AlgorithmError(
            f"torch networks train over several hosts with torch.distributed (gloo); "
            f"the job set up a {collective.engine!r} collective"
        )
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(network)
