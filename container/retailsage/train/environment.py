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
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} file {path} is not valid JSON: {exc}") from exc


def _read_hyperparameters(paths: SageMakerPaths, env: Mapping[str, str]) -> dict[str, str]:
    """Return the hyperparameter map from the file, else ``SM_HPS``, else empty."""
    data = _read_json(paths.hyperparameters_file, "hyperparameters")
    if data is None:
        data = _env_json(env, "SM_HPS")
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
    if config is not None and not isinstance(config, dict):
        raise UserError(
            f"inputdataconfig file {paths.input_data_config_file} must hold a JSON object of "
            "channel name -> channel settings"
        )
    if config:
        for name, settings in config.items():
            _check_input_mode(name, settings)
        names = sorted(config)
    elif env.get("SM_CHANNELS"):
        declared = _env_json(env, "SM_CHANNELS")
        if not isinstance(declared, list) or not all(isinstance(n, str) for n in declared):
            raise UserError(f"SM_CHANNELS must be a JSON list of channel names, got {declared!r}")
        names = sorted(declared)
    else:
        data_dir = paths.input_dir / "data"
        found = {p.name for p in data_dir.iterdir() if p.is_dir()} if data_dir.is_dir() else set()
        names = sorted(found | set(paths.channel_override))
    return {name: paths.channel_dir(name) for name in names}


def _env_json(env: Mapping[str, str], name: str) -> Any:
    """Decode a JSON-valued ``SM_*`` variable, or return ``None`` when it is unset or empty."""
    text = env.get(name)
    if not text:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UserError(f"{name} is not valid JSON: {exc}") from exc


def _host_names(value: Any, source: str) -> tuple[str, ...]:
    """Validate a ``hosts`` value: a non-empty JSON list of distinct, non-blank host names."""
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(host, str) and host.strip() for host in value)
    ):
        raise UserError(
            f"{source}: 'hosts' must be a non-empty list of host names such as "
            f'["algo-1", "algo-2"], got {json.dumps(value)[:200]}'
        )
    if len(set(value)) != len(value):
        raise UserError(f"{source}: 'hosts' lists a host more than once: {value!r}")
    return tuple(sorted(value))


def _read_hosts(paths: SageMakerPaths, env: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    """Return (sorted hosts, current host) from resourceconfig.json, else SM_HOSTS.

    A key the file lacks falls back to its ``SM_*`` twin, then to the single default host;
    a key that is present must be well-formed, and the current host must be one of the hosts.
    """
    config = _read_json(paths.resource_config_file, "resourceconfig")
    source = f"resourceconfig file {paths.resource_config_file}"
    if config is None:
        config, source = {}, "SM_HOSTS/SM_CURRENT_HOST"
    elif not isinstance(config, dict):
        raise UserError(f"{source} must hold a JSON object with 'hosts' and 'current_host'")
    raw_hosts = config.get("hosts")
    if raw_hosts is None:
        raw_hosts, source = _env_json(env, "SM_HOSTS"), "SM_HOSTS"
    hosts = _host_names([DEFAULT_HOST] if raw_hosts is None else raw_hosts, source)
    current = config.get("current_host")
    if current is None:
        current = env.get("SM_CURRENT_HOST") or hosts[0]
    if not isinstance(current, str) or current not in hosts:
        raise UserError(
            f"current host {json.dumps(current)[:100]} is not one of the job's hosts "
            f"{list(hosts)} ({source}); the resource configuration is inconsistent"
        )
    return hosts, current


def _read_checkpoint_dir(paths: SageMakerPaths) -> Path:
    """Return checkpointconfig.json's LocalPath, else the default under the base dir."""
    config = _read_json(paths.checkpoint_config_file, "checkpointconfig") or {}
    if not isinstance(config, dict):
        raise UserError(f"checkpointconfig file {paths.checkpoint_config_file} is not an object")
    local = config.get("LocalPath")
    if local is not None and not isinstance(local, str):
        raise UserError(f"checkpointconfig LocalPath must be a path string, got {local!r}")
    return Path(local) if local else paths.checkpoint_dir


def read_environment(env: Mapping[str, str] | None = None) -> TrainingEnvironment:
    """Read every configuration source of one training job.

    Args:
        env: the process environment; ``os.environ`` when omitted.

    Returns:
        The job's environment; nothing is created on disk.

    Raises:
        UserError: a config file is not JSON or is malformed (``hosts`` not a list of names,
            ``current_host`` not among them), or a channel uses an unsupported input mode.
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
