"""Read the job's SageMaker configuration files (and their ``SM_*`` twins) into one object.

SageMaker writes ``input/config/{hyperparameters,inputdataconfig,resourceconfig,
checkpointconfig}.json`` before it starts the container; the training toolkit's conventions
(``SM_HPS``, ``SM_CHANNELS``, ``SM_CHANNEL_<NAME>``, ``SM_HOSTS``, ``SM_CURRENT_HOST``,
``SM_CHECKPOINT_DIR``) are honoured where a file is absent, so the image also runs under them.
This is the only module of the job that reads configuration files or ``os.environ``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retailsage.core.errors import UserError
from retailsage.core.paths import SageMakerPaths

SUPPORTED_INPUT_MODES = ("File", "FastFile")
DEFAULT_HOST = "algo-1"


@dataclass(frozen=True)
class TrainingEnvironment:
    """What SageMaker told the container about this job.

    Attributes:
        paths: the ``/opt/ml`` tree (relocated by ``SAGEMAKER_BASE_DIR``).
        hyperparameters: the raw string -> string map (values may be JSON-encoded).
        channels: channel name -> its directory, for every channel the job declares.
        hosts: every host of the job, sorted (SageMaker names them ``algo-1``, ``algo-2``, ...).
        current_host: this container's host name.
        checkpoint_dir: the local checkpoint directory (``checkpointconfig.json`` LocalPath).
    """

    paths: SageMakerPaths
    hyperparameters: dict[str, str]
    channels: dict[str, Path]
    hosts: tuple[str, ...]
    current_host: str
    checkpoint_dir: Path

    @property
    def is_master(self) -> bool:
        """True on the host that trains and writes the model (the first of the sorted hosts)."""
        return self.current_host == self.hosts[0]


def _read_json(path: Path, what: str) -> Any:
    """Read a JSON config file, or return ``None`` when it does not exist."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} file {path} is not valid JSON: {exc}") from exc


def _read_hyperparameters(paths: SageMakerPaths, env: Mapping[str, str]) -> dict[str, str]:
    """Return the hyperparameter map from the file, else ``SM_HPS``, else empty."""
    data = _read_json(paths.hyperparameters_file, "hyperparameters")
    if data is None and env.get("SM_HPS"):
        try:
            data = json.loads(env["SM_HPS"])
        except json.JSONDecodeError as exc:
            raise UserError(f"SM_HPS is not valid JSON: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError("hyperparameters must be a JSON object of string -> string")
    # SM_HPS holds decoded values (numbers, booleans); hyperparameters.json holds strings.
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def _check_input_mode(name: str, settings: Any) -> None:
    """Reject channel settings this image cannot read (Pipe mode, RecordIO wrapping)."""
    if not isinstance(settings, dict):
        return
    mode = settings.get("TrainingInputMode", "File")
    if mode not in SUPPORTED_INPUT_MODES:
        raise UserError(
            f"channel {name!r} uses TrainingInputMode {mode!r}; this image reads "
            f"{' or '.join(SUPPORTED_INPUT_MODES)} mode only (set InputMode to File)"
        )
    if settings.get("RecordWrapperType", "None") not in ("None", None):
        raise UserError(
            f"channel {name!r} uses RecordWrapperType {settings['RecordWrapperType']!r}; "
            "only 'None' is supported (plain files)"
        )


def _read_channels(paths: SageMakerPaths, env: Mapping[str, str]) -> dict[str, Path]:
    """Return channel -> directory from inputdataconfig.json, SM_CHANNELS, or input/data/."""
    config = _read_json(paths.input_data_config_file, "inputdataconfig")
    if isinstance(config, dict) and config:
        for name, settings in config.items():
            _check_input_mode(name, settings)
        names = sorted(config)
    elif env.get("SM_CHANNELS"):
        names = sorted(json.loads(env["SM_CHANNELS"]))
    else:
        data_dir = paths.input_dir / "data"
        found = {p.name for p in data_dir.iterdir() if p.is_dir()} if data_dir.is_dir() else set()
        names = sorted(found | set(paths.channel_override))
    return {name: paths.channel_dir(name) for name in names}


def _read_hosts(paths: SageMakerPaths, env: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    """Return (sorted hosts, current host) from resourceconfig.json or SM_HOSTS."""
    config = _read_json(paths.resource_config_file, "resourceconfig") or {}
    hosts = config.get("hosts") or json.loads(env.get("SM_HOSTS") or "[]") or [DEFAULT_HOST]
    current = config.get("current_host") or env.get("SM_CURRENT_HOST") or sorted(hosts)[0]
    return tuple(sorted(hosts)), str(current)


def _read_checkpoint_dir(paths: SageMakerPaths) -> Path:
    """Return checkpointconfig.json's LocalPath, else the default under the base dir."""
    config = _read_json(paths.checkpoint_config_file, "checkpointconfig") or {}
    local = config.get("LocalPath") if isinstance(config, dict) else None
    return Path(local) if local else paths.checkpoint_dir


def read_environment(env: Mapping[str, str] | None = None) -> TrainingEnvironment:
    """Read every configuration source of one training job.

    Args:
        env: the process environment; ``os.environ`` when omitted.

    Returns:
        The job's environment; nothing is created on disk.

    Raises:
        UserError: a config file is not JSON, or a channel uses an unsupported input mode.
    """
    env = os.environ if env is None else env
    paths = SageMakerPaths.from_env(env)
    hosts, current = _read_hosts(paths, env)
    return TrainingEnvironment(
        paths=paths,
        hyperparameters=_read_hyperparameters(paths, env),
        channels=_read_channels(paths, env),
        hosts=hosts,
        current_host=current,
        checkpoint_dir=_read_checkpoint_dir(paths),
    )
