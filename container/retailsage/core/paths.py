"""The SageMaker ``/opt/ml`` directory contract, relocatable with ``SAGEMAKER_BASE_DIR``.

Every path the train and serve modes touch is derived here from one base directory, so tests,
scripts and the local pipeline point the whole tree somewhere else without Docker. Where the
SageMaker training toolkit's ``SM_*`` variables are set (``SM_MODEL_DIR``, ``SM_CHANNEL_TRAIN``,
``SM_OUTPUT_DATA_DIR``, ...), they win over the derived defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_DIR = "/opt/ml"
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"


@dataclass(frozen=True)
class SageMakerPaths:
    """All paths of one ``/opt/ml``-shaped tree.

    Attributes:
        base: the root (``/opt/ml`` in SageMaker).
        model_dir: where training writes the model and serving reads it.
        output_data_dir: non-model reports (``output.tar.gz`` in SageMaker).
        checkpoint_dir: local checkpoint directory (synced to S3 by SageMaker).
        channel_override: ``SM_CHANNEL_<NAME>`` overrides, lower-case channel -> path.
    """

    base: Path
    model_dir: Path
    output_data_dir: Path
    checkpoint_dir: Path
    channel_override: Mapping[str, Path]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SageMakerPaths:
        """Build the paths from the environment (``SAGEMAKER_BASE_DIR`` and ``SM_*``).

        Args:
            env: the environment to read; ``os.environ`` when omitted.

        Returns:
            The resolved paths; nothing is created on disk.
        """
        env = os.environ if env is None else env
        base = Path(env.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR)
        channels = {
            key[len("SM_CHANNEL_") :].lower(): Path(value)
            for key, value in env.items()
            if key.startswith("SM_CHANNEL_") and value
        }
        return cls(
            base=base,
            model_dir=Path(env.get("SM_MODEL_DIR") or base / "model"),
            output_data_dir=Path(env.get("SM_OUTPUT_DATA_DIR") or base / "output" / "data"),
            checkpoint_dir=Path(env.get("SM_CHECKPOINT_DIR") or base / "checkpoints"),
            channel_override=channels,
        )

    @property
    def input_dir(self) -> Path:
        """``input/``: config files and data channels."""
        return self.base / "input"

    @property
    def config_dir(self) -> Path:
        """``input/config/``: hyperparameters.json, inputdataconfig.json, ..."""
        return self.input_dir / "config"

    @property
    def hyperparameters_file(self) -> Path:
        """``input/config/hyperparameters.json`` (a string -> string map)."""
        return self.config_dir / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        """``input/config/inputdataconfig.json`` (channel -> settings)."""
        return self.config_dir / "inputdataconfig.json"

    @property
    def resource_config_file(self) -> Path:
        """``input/config/resourceconfig.json`` (hosts, current host)."""
        return self.config_dir / "resourceconfig.json"

    @property
    def checkpoint_config_file(self) -> Path:
        """``input/config/checkpointconfig.json`` (present only when checkpointing is on)."""
        return self.config_dir / "checkpointconfig.json"

    @property
    def output_dir(self) -> Path:
        """``output/``: the failure file and ``data/`` reports."""
        return self.base / "output"

    @property
    def failure_file(self) -> Path:
        """``output/failure``: its first 1,024 characters become ``FailureReason``."""
        return self.output_dir / "failure"

    def channel_dir(self, name: str) -> Path:
        """Return the directory of one input channel (``input/data/<name>``).

        Args:
            name: the channel name, e.g. ``train`` or ``validation``.

        Returns:
            ``SM_CHANNEL_<NAME>`` when set, else ``input/data/<name>``.
        """
        return self.channel_override.get(name.lower(), self.input_dir / "data" / name)
