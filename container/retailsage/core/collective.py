"""The collective a multi-host training job reduces its statistics through.

A :class:`Collective` is the one thing model code needs from a multi-host job: its rank, the
number of training hosts, and an all-reduce of a numpy array. Everything else here is built on
that all-reduce, so the same helpers work over XGBoost's collective (Rabit), torch's gloo
process group and the single-host no-op :class:`SingleHost`:

* :func:`global_sum` / :func:`global_min` / :func:`global_max` for statistics a host would
  otherwise take from its own rows only (row counts, weight totals, date ranges);
* :func:`allgather_bytes` / :func:`allgather_json` / :func:`allgather_array` to gather small
  payloads (category counts, evaluation rows) without pickle: every host writes its bytes into
  its own slot of a zeroed buffer and a sum all-reduce assembles them;
* :func:`any_host` for flags such as "stop requested" that one host raising must stop all.

Every host must call the same helpers in the same order (they are collective operations).
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

ReduceOp = Literal["sum", "min", "max"]


@runtime_checkable
class Collective(Protocol):
    """A group of training hosts that can all-reduce numpy arrays.

    Attributes:
        rank: this host's index in the group (0 writes the model, checkpoints and metrics).
        world_size: the number of hosts in the group.
        engine: ``"single"``, ``"rabit"`` (XGBoost's collective) or ``"torch"`` (gloo).
    """

    rank: int
    world_size: int
    engine: str

    def allreduce(self, values: np.ndarray, op: ReduceOp) -> np.ndarray:
        """Reduce ``values`` element-wise over every host and return the result on all of them.

        Args:
            values: a numeric array of the same shape and dtype on every host.
            op: ``sum``, ``min`` or ``max``.

        Returns:
            The reduced array (a new array; ``values`` is not modified).
        """
        ...


class SingleHost:
    """The collective of a one-host job: every reduction returns its input."""

    rank = 0
    world_size = 1
    engine = "single"

    def allreduce(self, values: np.ndarray, op: ReduceOp) -> np.ndarray:
        """Return a copy of ``values`` (one host reduces to itself).

        Args:
            values: the array.
            op: ignored.

        Returns:
            A copy.
        """
        return np.array(values, copy=True)


SINGLE_HOST = SingleHost()
"""The shared single-host collective (stateless)."""


def is_distributed(collective: Collective) -> bool:
    """Tell whether more than one host takes part.

    Args:
        collective: the group.

    Returns:
        True for two or more hosts.
    """
    return collective.world_size > 1


def is_root(collective: Collective) -> bool:
    """Tell whether this host is rank 0 (the one that writes model, checkpoints and metrics).

    Args:
        collective: the group.

    Returns:
        True on rank 0.
    """
    return collective.rank == 0


def global_sum(collective: Collective, values: Any) -> np.ndarray:
    """Sum ``values`` (a number or array) over every host, as float64.

    Args:
        collective: the group.
        values: this host's contribution.

    Returns:
        The float64 sum, shaped like ``values``.
    """
    return collective.allreduce(np.asarray(values, dtype=np.float64), "sum")


def global_min(collective: Collective, values: Any) -> np.ndarray:
    """Element-wise minimum of ``values`` over every host, as float64 (NaN-free inputs).

    Args:
        collective: the group.
        values: this host's contribution (use ``+inf`` for "nothing to contribute").

    Returns:
        The float64 minimum.
    """
    return collective.allreduce(np.asarray(values, dtype=np.float64), "min")


def global_max(collective: Collective, values: Any) -> np.ndarray:
    """Element-wise maximum of ``values`` over every host, as float64 (NaN-free inputs).

    Args:
        collective: the group.
        values: this host's contribution (use ``-inf`` for "nothing to contribute").

    Returns:
        The float64 maximum.
    """
    return collective.allreduce(np.asarray(values, dtype=np.float64), "max")


def any_host(collective: Collective, flag: bool) -> bool:
    """True on every host when ``flag`` is True on at least one.

    Args:
        collective: the group.
        flag: this host's flag.

    Returns:
        The logical OR over hosts.
    """
    if not is_distributed(collective):
        return bool(flag)
    return bool(global_max(collective, [1.0 if flag else 0.0])[0] > 0)


def allgather_bytes(collective: Collective, payload: bytes) -> list[bytes]:
    """Gather every host's bytes on every host, in rank order.

    Args:
        collective: the group.
        payload: this host's bytes (may be empty).

    Returns:
        One ``bytes`` per rank.
    """
    if not is_distributed(collective):
        return [bytes(payload)]
    sizes = np.zeros(collective.world_size, dtype=np.int64)
    sizes[collective.rank] = len(payload)
    sizes = collective.allreduce(sizes, "sum").astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    buffer = np.zeros(int(offsets[-1]), dtype=np.uint8)
    start = int(offsets[collective.rank])
    buffer[start : start + len(payload)] = np.frombuffer(payload, dtype=np.uint8)
    if buffer.size:
        buffer = collective.allreduce(buffer, "sum")
    return [buffer[offsets[i] : offsets[i + 1]].tobytes() for i in range(collective.world_size)]


def allgather_json(collective: Collective, value: Any) -> list[Any]:
    """Gather one JSON-serialisable value per host on every host, in rank order.

    Args:
        collective: the group.
        value: this host's value.

    Returns:
        One decoded value per rank.
    """
    gathered = allgather_bytes(collective, json.dumps(value, sort_keys=True).encode())
    return [json.loads(item) for item in gathered]


def allgather_array(collective: Collective, values: np.ndarray) -> np.ndarray:
    """Concatenate every host's float64 rows along axis 0, in rank order.

    Args:
        collective: the group.
        values: this host's rows; 1-D, or 2-D with the same column count on every host.

    Returns:
        The stacked float64 array.
    """
    local = np.ascontiguousarray(values, dtype=np.float64)
    tail = local.shape[1:]
    parts = allgather_bytes(collective, local.tobytes())
    arrays = [np.frombuffer(part, dtype=np.float64).reshape((-1, *tail)) for part in parts]
    return np.concatenate(arrays, axis=0)
