"""Lambda settings: resource names from the environment CDK sets (one typed object each).

The variable names are constants here and imported by the pipeline stack, so the stack and the
functions cannot drift apart.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from lambdas.common.errors import MisconfiguredFunction

DATA_BUCKET = "DATA_BUCKET"
RAW_PREFIX = "RAW_PREFIX"
RUNS_PREFIX = "RUNS_PREFIX"
CHECKPOINTS_PREFIX = "CHECKPOINTS_PREFIX"
JOB_PREFIX = "JOB_PREFIX"
SCORING_OBJECT_ROWS = "SCORING_OBJECT_ROWS"
MIN_SCORING_OBJECTS = "MIN_SCORING_OBJECTS"
TRAINING_INSTANCES = "TRAINING_INSTANCES"
LAMBDA_MAX_INPUT_MB = "LAMBDA_MAX_INPUT_MB"
TABLE_NAME = "TABLE_NAME"

T = TypeVar("T", int, float)


def _require(env: Mapping[str, str], name: str) -> str:
    """Return a required variable, or raise MisconfiguredFunction naming it."""
    value = env.get(name, "").strip()
    if not value:
        raise MisconfiguredFunction(f"environment variable {name} is not set (the stack sets it)")
    return value


def _number(env: Mapping[str, str], name: str, default: str | None, kind: type[T]) -> T:
    """Return a numeric variable (``default`` when unset; required when that is None).

    Raises:
        MisconfiguredFunction: the variable is missing or not a number of that kind.
    """
    raw = env.get(name, "").strip() or default
    if raw is None:
        return kind(_require(env, name))  # raises: the variable is unset
    try:
        value = kind(raw)
    except ValueError as exc:
        raise MisconfiguredFunction(
            f"environment variable {name}={raw!r} is not a valid {kind.__name__}"
        ) from exc
    if not math.isfinite(value):
        raise MisconfiguredFunction(f"environment variable {name}={raw!r} is not finite")
    return value


@dataclass(frozen=True)
class ExtractSettings:
    """What the extract Lambda reads from its environment.

    Attributes:
        bucket: the data bucket.
        raw_prefix: sources must live under this prefix (the role can read nothing else).
        runs_prefix: each run's outputs go under ``<runs_prefix><run_name>/``.
        checkpoints_prefix: spot checkpoints go under ``<checkpoints_prefix><run_name>/``.
        job_prefix: prefix of SageMaker names (IAM on the state machine is scoped on it).
        scoring_object_rows: target rows per scoring object.
        min_scoring_objects: at least this many objects when rows allow (= transform
            instances, so none idles: objects are sharded by key across instances).
        training_instances: training instances; above 1 the gap models' training channel is
            written as customer-bucket objects for ``ShardedByS3Key`` (1 when unset).
        lambda_max_input_bytes: source files larger than this together are featurized by
            the ``Featurize Data`` Processing job instead of the Lambda (execution input
            ``featurize: auto``; unset: 512 MiB).
    """

    bucket: str
    raw_prefix: str
    runs_prefix: str
    checkpoints_prefix: str
    job_prefix: str
    scoring_object_rows: int
    min_scoring_objects: int
    training_instances: int = 1
    lambda_max_input_bytes: int = 512 * 2**20

    @property
    def featurize_sizes(self) -> tuple[int, int, int]:
        """Training instances, rows per scoring object and minimum scoring objects.

        Returns:
            The sizing fields of ``retailsage.features.featurize.FeaturizeSpec``, in order.
        """
        return self.training_instances, self.scoring_object_rows, self.min_scoring_objects

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ExtractSettings:
        """Read the settings.

        Args:
            env: the environment; ``os.environ`` when omitted.

        Returns:
            The settings.

        Raises:
            MisconfiguredFunction: a variable is missing or not a number where one is expected.
        """
        env = os.environ if env is None else env
        return cls(
            bucket=_require(env, DATA_BUCKET),
            raw_prefix=_require(env, RAW_PREFIX),
            runs_prefix=_require(env, RUNS_PREFIX),
            checkpoints_prefix=_require(env, CHECKPOINTS_PREFIX),
            job_prefix=_require(env, JOB_PREFIX),
            scoring_object_rows=max(1, _number(env, SCORING_OBJECT_ROWS, None, int)),
            min_scoring_objects=max(1, _number(env, MIN_SCORING_OBJECTS, None, int)),
            training_instances=max(1, _number(env, TRAINING_INSTANCES, "1", int)),
            lambda_max_input_bytes=int(_number(env, LAMBDA_MAX_INPUT_MB, "512", float) * 2**20),
        )


@dataclass(frozen=True)
class WriteSettings:
    """What the write-predictions Lambda reads from its environment.

    Attributes:
        table_name: the DynamoDB predictions table.
    """

    table_name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WriteSettings:
        """Read the settings.

        Args:
            env: the environment; ``os.environ`` when omitted.

        Returns:
            The settings.

        Raises:
            MisconfiguredFunction: a variable is missing or not a number where one is expected.
        """
        env = os.environ if env is None else env
        return cls(table_name=_require(env, TABLE_NAME))
