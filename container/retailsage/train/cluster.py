"""Where the hosts of a multi-host training job are and how they meet.

SageMaker names the hosts ``algo-1`` .. ``algo-n`` in ``resourceconfig.json`` (sorted; the
first is the master), names the network interface to use (``network_interface_name``), and
promises that the names resolve, though not necessarily at once: :func:`resolve_host` retries
with a growing wait (at most 30 s between tries) for up to :attr:`ClusterSpec.dns_timeout_s`.

The ports follow SageMaker's own containers: the XGBoost container's Rabit tracker meets on
``9099`` (the first meeting, where hosts without data drop out) and trains on ``9100``; the
PyTorch toolkit's ``MASTER_PORT`` is ``7777``.

Local runs (:mod:`retailsage.train.local`, the pipeline's local runner) start n copies of
``entrypoint.sh train`` on one machine, so they override two things through the environment:
``RETAILSAGE_HOST_ADDRESSES`` (JSON ``{"algo-1": "127.0.0.1", ...}``: no DNS lookup) and
``RETAILSAGE_COLLECTIVE_PORTS`` (JSON ``{"meeting": p, "rabit": p, "torch": p}``: free ports,
so parallel jobs never collide). ``RETAILSAGE_COLLECTIVE_TIMEOUT_S`` bounds how long a host
waits for the others to meet, and for any one collective operation (default 900 s), so a lost
host fails the job instead of hanging it.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from retailsage.core.errors import PlatformError, UserError
from retailsage.core.paths import SageMakerPaths

logger = logging.getLogger(__name__)

HOST_ADDRESSES_ENV = "RETAILSAGE_HOST_ADDRESSES"
PORTS_ENV = "RETAILSAGE_COLLECTIVE_PORTS"
TIMEOUT_ENV = "RETAILSAGE_COLLECTIVE_TIMEOUT_S"
DEFAULT_PORTS: dict[str, int] = {"meeting": 9099, "rabit": 9100, "torch": 7777}
DEFAULT_TIMEOUT_S = 900
DNS_TIMEOUT_S = 900.0
MAX_DNS_WAIT_S = 30.0


class ClusterError(PlatformError):
    """A host of a multi-host job was lost, or never met the others in time."""


@dataclass(frozen=True)
class ClusterSpec:
    """The hosts of one training job and how they reach each other.

    Attributes:
        hosts: every host, sorted (the first is the master).
        current_host: this container's host.
        interface: the network interface to use (``network_interface_name``), if given.
        addresses: host -> address overrides (local runs); others are resolved by DNS.
        ports: ``meeting``, ``rabit`` and ``torch`` ports.
        timeout_s: how long to wait for the others to meet / for one collective operation.
        dns_timeout_s: how long to retry resolving a host name.
    """

    hosts: tuple[str, ...]
    current_host: str
    interface: str | None = None
    addresses: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    timeout_s: int = DEFAULT_TIMEOUT_S
    dns_timeout_s: float = DNS_TIMEOUT_S

    @property
    def is_multi_host(self) -> bool:
        """True when the job has more than one host."""
        return len(self.hosts) > 1

    def address(self, host: str) -> str:
        """Return the address of ``host``: the override, else its DNS address (retried).

        Args:
            host: a host name of the job.

        Returns:
            An IP address.

        Raises:
            ClusterError: the name did not resolve within ``dns_timeout_s``.
        """
        if host in self.addresses:
            return self.addresses[host]
        return resolve_host(host, self.dns_timeout_s)


def resolve_host(
    host: str,
    timeout_s: float = DNS_TIMEOUT_S,
    lookup: Callable[[str], str] = socket.gethostbyname,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Resolve a host name, retrying with a doubling wait (at most 30 s) until ``timeout_s``.

    Args:
        host: the name (``algo-2``).
        timeout_s: total time to keep trying.
        lookup: the resolver (``socket.gethostbyname``).
        sleep: the wait function (tests pass a fake).

    Returns:
        The address.

    Raises:
        ClusterError: still unresolved after ``timeout_s``.
    """
    waited, wait = 0.0, 1.0
    while True:
        try:
            return lookup(host)
        except OSError as exc:
            if waited >= timeout_s:
                raise ClusterError(
                    f"host {host!r} of this training job did not resolve in {timeout_s:.0f} s "
                    f"({exc}); the instance was lost or never started"
                ) from exc
            logger.info("host %s does not resolve yet (%s); retrying in %.0f s", host, exc, wait)
            sleep(wait)
            waited += wait
            wait = min(wait * 2, MAX_DNS_WAIT_S)


def _json_map(env: Mapping[str, str], name: str) -> dict[str, Any]:
    """Parse a JSON-object environment variable (empty when unset)."""
    raw = env.get(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise UserError(f"{name} must be a JSON object")
    return value


def read_cluster(
    hosts: tuple[str, ...], current_host: str, paths: SageMakerPaths, env: Mapping[str, str]
) -> ClusterSpec:
    """Build the cluster spec from the job's hosts, resourceconfig.json and the overrides.

    Args:
        hosts: the sorted hosts (from :class:`~retailsage.train.environment.TrainingEnvironment`).
        current_host: this host.
        paths: the job's tree (for ``resourceconfig.json``'s ``network_interface_name``).
        env: the process environment (``SM_NETWORK_INTERFACE_NAME`` and the overrides).

    Returns:
        The spec.

    Raises:
        UserError: an override is malformed, or the current host is not one of the hosts.
    """
    if current_host not in hosts:
        raise UserError(
            f"resourceconfig current_host {current_host!r} is not one of hosts {list(hosts)}"
        )
    interface = env.get("SM_NETWORK_INTERFACE_NAME")
    if paths.resource_config_file.is_file():
        try:
            config = json.loads(paths.resource_config_file.read_text() or "{}")
        except json.JSONDecodeError:
            config = {}  # the environment reader reports a malformed file
        if isinstance(config, dict) and config.get("network_interface_name"):
            interface = str(config["network_interface_name"])
    ports = {**DEFAULT_PORTS, **{k: int(v) for k, v in _json_map(env, PORTS_ENV).items()}}
    timeout = int(env.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    return ClusterSpec(
        hosts=hosts,
        current_host=current_host,
        interface=interface,
        addresses={k: str(v) for k, v in _json_map(env, HOST_ADDRESSES_ENV).items()},
        ports=ports,
        timeout_s=max(1, timeout),
    )
