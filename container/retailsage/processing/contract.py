"""The SageMaker Processing container contract, relocatable with ``SAGEMAKER_BASE_DIR``.

SageMaker Processing downloads each ``ProcessingInputs[].S3Input`` to its ``LocalPath`` (under
``/opt/ml/processing/``), uploads each ``ProcessingOutputConfig.Outputs[].S3Output.LocalPath``
when the job ends (``S3UploadMode: EndOfJob``), describes the job in
``/opt/ml/config/processingjobconfig.json`` and the cluster in
``/opt/ml/config/resourceconfig.json``, and returns the first 1 KB of ``/opt/ml/output/message``
as ``ExitMessage``. Every path here hangs off one base (``/opt/ml``, or ``SAGEMAKER_BASE_DIR``
as for ``train``), so tests and the local runner use the same code without Docker; a
``LocalPath`` of the job config is mapped under the base the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from retailsage.core.errors import UserError
from retailsage.core.paths import BASE_DIR_ENV, DEFAULT_BASE_DIR

INPUT_RAW = "raw"
"""``InputName`` of the raw transaction files."""
OUTPUT_TRAIN = "train"
"""``OutputName`` of the training channel objects."""
OUTPUT_SCORING = "scoring"
"""``OutputName`` of the scoring objects."""

DEFAULT_LOCAL_PATHS: dict[str, str] = {
    INPUT_RAW: "/opt/ml/processing/input/raw",
    OUTPUT_TRAIN: "/opt/ml/processing/output/train",
    OUTPUT_SCORING: "/opt/ml/processing/output/scoring",
}
"""The ``LocalPath`` of each input and output when the job config names none."""


@dataclass(frozen=True)
class ProcessingPaths:
    """Every path of one ``/opt/ml``-shaped Processing tree.

    Attributes:
        base: the root (``/opt/ml`` in SageMaker).
    """

    base: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProcessingPaths:
        """Root the tree at ``SAGEMAKER_BASE_DIR`` (else ``/opt/ml``); nothing is created.

        Args:
            env: the environment to read (``os.environ`` when omitted).

        Returns:
            The paths.
        """
        base = (os.environ if env is None else env).get(BASE_DIR_ENV) or DEFAULT_BASE_DIR
        return cls(Path(base))

    @property
    def job_config_file(self) -> Path:
        """``config/processingjobconfig.json`` (the CreateProcessingJob request)."""
        return self.base / "config" / "processingjobconfig.json"

    @property
    def resource_config_file(self) -> Path:
        """``config/resourceconfig.json`` (``current_host``, ``hosts``)."""
        return self.base / "config" / "resourceconfig.json"

    @property
    def message_file(self) -> Path:
        """``output/message``: its first 1 KB becomes ``ExitMessage``."""
        return self.base / "output" / "message"

    def local(self, container_path: str) -> Path:
        """Map a container path (``/opt/ml/processing/...``) into this tree.

        Args:
            container_path: an absolute path under ``/opt/ml``.

        Returns:
            The same path below :attr:`base`.

        Raises:
            UserError: the path is not under ``/opt/ml/processing/``.
        """
        path = PurePosixPath(container_path)
        root = PurePosixPath(DEFAULT_BASE_DIR)
        if ".." in path.parts or not path.is_relative_to(root / "processing"):
            raise UserError(f"LocalPath {container_path!r} is not under /opt/ml/processing/")
        return self.base / path.relative_to(root)


@dataclass(frozen=True)
class ProcessingJob:
    """What the container reads of its job and cluster configuration.

    Attributes:
        name: ``ProcessingJobName`` (empty when no config file exists).
        inputs: ``InputName`` -> local directory.
        outputs: ``OutputName`` -> local directory.
        current_host: this host's name.
        hosts: every host of the job.
    """

    name: str
    inputs: Mapping[str, Path]
    outputs: Mapping[str, Path]
    current_host: str
    hosts: tuple[str, ...]

    @property
    def is_first_host(self) -> bool:
        """Whether this host is ``sorted(hosts)[0]`` (the one that featurizes)."""
        return self.current_host == sorted(self.hosts)[0]


def _read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, or raise a UserError naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise UserError(f"{path} does not hold a JSON object")
    return value


def read_job(paths: ProcessingPaths) -> ProcessingJob:
    """Read the job and resource configuration (defaults where a file is absent).

    Args:
        paths: the tree.

    Returns:
        The job: the inputs and outputs the config names (with the default ``LocalPath`` of
        any of :data:`DEFAULT_LOCAL_PATHS` it leaves out) mapped into the tree.

    Raises:
        UserError: a config file is unreadable or a ``LocalPath`` is outside the contract.
    """
    config = _read_json(paths.job_config_file) if paths.job_config_file.exists() else {}
    inputs = {
        str(item.get("InputName")): str(item["S3Input"]["LocalPath"])
        for item in config.get("ProcessingInputs") or []
        if isinstance(item, dict) and "LocalPath" in (item.get("S3Input") or {})
    }
    outputs = {
        str(item.get("OutputName")): str(item["S3Output"]["LocalPath"])
        for item in (config.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        if isinstance(item, dict) and "LocalPath" in (item.get("S3Output") or {})
    }
    for name, default in DEFAULT_LOCAL_PATHS.items():
        (inputs if name == INPUT_RAW else outputs).setdefault(name, default)
    resources = (
        _read_json(paths.resource_config_file) if paths.resource_config_file.exists() else {}
    )
    current = str(resources.get("current_host") or "algo-1")
    hosts = tuple(str(host) for host in resources.get("hosts") or [current])
    return ProcessingJob(
        name=str(config.get("ProcessingJobName") or ""),
        inputs={name: paths.local(path) for name, path in inputs.items()},
        outputs={name: paths.local(path) for name, path in outputs.items()},
        current_host=current,
        hosts=hosts,
    )
