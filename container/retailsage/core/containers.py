"""Container engines (docker or podman): find a usable one and the flags this host needs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE = "python:3.11-slim-bookworm"
DEBOOTSTRAP_BASE = "localhost/debian-py:bookworm"


@dataclass(frozen=True)
class Engine:
    """One usable container engine and the flags this host needs to run containers.

    Attributes:
        name: ``docker`` or ``podman``.
        global_flags: flags before the sub-command (podman's ``--runtime``).
        run_flags: flags every ``run`` gets (podman on hosts without cgroup delegation needs
            runc and explicit ulimits; see docs/image.md).
        host_network: publish by sharing the host network (podman here) instead of ``-p``.
    """

    name: str
    global_flags: tuple[str, ...] = ()
    run_flags: tuple[str, ...] = ()
    host_network: bool = False

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run one engine command and capture its output."""
        return subprocess.run(
            [self.name, *self.global_flags, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def has_image(self, tag: str) -> bool:
        """Whether ``tag`` is present locally."""
        return self("image", "inspect", tag, timeout=60).returncode == 0

    def run_args(
        self,
        image: str,
        mode: str,
        mounts: Mapping[Path, str] | None = None,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> list[str]:
        """The ``run`` arguments for ``IMAGE mode`` with mounts, env and a loopback port.

        With ``port`` the server inside answers on ``127.0.0.1:port`` of this host only:
        published on loopback (docker) or bound to loopback on the shared host network (podman).
        """
        args = ["run", "--pull=never", *self.run_flags]
        for host, target in (mounts or {}).items():
            args += ["-v", f"{host.resolve()}:{target}"]
        variables = dict(env or {})
        if port is not None:
            if self.host_network:
                args += ["--network", "host"]
                variables |= {"SAGEMAKER_BIND_TO_PORT": str(port)}
                variables |= {"SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1"}
            else:
                args += ["-p", f"127.0.0.1:{port}:8080"]
        for key, value in variables.items():
            args += ["-e", f"{key}={value}"]
        return [*args, image, mode]


def _answers(command: Sequence[str]) -> bool:
    """Whether ``command`` exists and exits 0 within a minute."""
    if shutil.which(command[0]) is None:
        return False
    try:
        return subprocess.run(command, capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def find_engine() -> Engine | None:
    """Return docker when its daemon answers, else podman when it works, else ``None``."""
    if _answers(["docker", "info"]):
        return Engine("docker")
    if _answers(["podman", "info"]):
        # crun fails on setrlimit in nested/unprivileged hosts; runc with explicit limits works
        limits = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
        runtime = ("--runtime", "runc") if shutil.which("runc") else ()
        return Engine("podman", global_flags=runtime, run_flags=limits, host_network=True)
    return None
