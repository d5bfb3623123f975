"""Typed payloads between Step Functions and the Lambdas (only S3 URIs, names and counts).

The state machine's ``ResultSelector`` of each Lambda task is generated from the result models'
fields, so a field added here reaches the execution state without touching the stack.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retailsage.models.registry import MODEL_TYPES

_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,80}$"
# Step Functions execution names: 1-80 characters; no whitespace, brackets, wildcards or
# any of " # % \\ ^ | ~ ` $ & , ; : /
_EXECUTION_NAME_PATTERN = r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/]{1,80}$"

HyperparameterValue = str | int | float | bool

LAMBDA = "lambda"
PROCESSING = "processing"
"""Where a run featurizes: in the extract Lambda, or in the ``Featurize Data`` Processing job."""


class PipelineInput(BaseModel):
    """The execution input (what the schedule or an operator starts the pipeline with).

    Attributes:
        model_type: the model family (``xgboost``, ``lstm`` or ``pca_kmeans``).
        hyperparameters: overrides; numbers and booleans are turned into strings, as
            SageMaker's ``HyperParameters`` is a string -> string map.
        quality_threshold: the gate threshold for this model type's gate metric.
        source_prefix: key prefix of the raw transaction files in the data bucket.
        as_of: scoring date for gap models (default: the day after the last transaction).
        featurize: ``auto`` (the Lambda unless the source files exceed its input limit, then a
            SageMaker Processing job), ``lambda`` or ``processing``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_type: str
    hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict)
    quality_threshold: float
    source_prefix: str = "raw/"
    as_of: date | None = None
    featurize: Literal["auto", "lambda", "processing"] = "auto"

    @field_validator("quality_threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("quality_threshold must be a finite number")
        return value

    @field_validator("source_prefix")
    @classmethod
    def _relative_prefix(cls, value: str) -> str:
        if value.startswith(("/", "s3://")) or ".." in value:
            raise ValueError("source_prefix is a key prefix inside the data bucket, e.g. 'raw/'")
        return value


class ExtractEvent(BaseModel):
    """What the state machine sends the extract Lambda.

    Attributes:
        execution_name: ``$$.Execution.Name``; job names are derived from it.
        input: the whole execution input.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_name: Annotated[str, Field(pattern=_EXECUTION_NAME_PATTERN)]
    input: PipelineInput


class ExtractResult(BaseModel):
    """What the extract Lambda returns (stored at ``$.extract``).

    Attributes:
        run_name: SageMaker-safe name of this run (training job, model and transform job).
        model_type: the validated model family.
        hyperparameters: string -> string map, ``model_type`` included.
        quality_threshold: the gate threshold.
        source_files: raw files read.
        train_uri: S3 prefix of the training channel (Parquet).
        train_rows: rows in the training channel.
        scoring_uri: S3 prefix of the scoring rows (JSON Lines objects).
        scoring_rows: rows to score.
        scoring_objects: JSON Lines objects written (>= transform instances when rows allow).
        predictions_uri: S3 prefix Batch Transform writes ``*.out`` objects to.
        predictions_prefix: the same prefix as a key (for the Distributed Map item reader).
        checkpoint_uri: S3 prefix of spot-training checkpoints.
        featurize: where the channels are written: ``lambda`` (already written; the counts
            are real) or ``processing`` (the ``Featurize Data`` job writes them; counts -1).
        source_uri: S3 prefix of the raw files (the Processing job's input).
        featurize_arguments: the Processing job's ``ContainerArguments`` (empty for lambda).
    """

    model_config = ConfigDict(frozen=True)

    run_name: str
    model_type: str
    hyperparameters: dict[str, str]
    quality_threshold: float
    source_files: int
    train_uri: str
    train_rows: int
    scoring_uri: str
    scoring_rows: int
    scoring_objects: int
    predictions_uri: str
    predictions_prefix: str
    checkpoint_uri: str
    featurize: str = LAMBDA
    source_uri: str = ""
    featurize_arguments: list[str] = Field(default_factory=list)


class WritePredictionsEvent(BaseModel):
    """One Distributed Map item: a Batch Transform output object to load into DynamoDB.

    Attributes:
        bucket: the data bucket.
        key: the ``*.out`` object key.
        run_name: the run; part of every item's sort key (re-runs overwrite, never duplicate).
        model_type: the model family (decides the item shape).
        max_rejected: rows that may be rejected before the object fails as a whole.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str
    key: str
    run_name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    model_type: str
    max_rejected: int = Field(default=0, ge=0)

    @field_validator("model_type")
    @classmethod
    def _known_family(cls, value: str) -> str:
        # the family decides the item shape: an unknown one must not be written as gap items
        if value not in MODEL_TYPES:
            raise ValueError(f"unknown model_type {value!r}; valid: {', '.join(MODEL_TYPES)}")
        return value


class WritePredictionsResult(BaseModel):
    """Counts of one output object.

    Attributes:
        key: the object read.
        read: lines read.
        written: items written (each exactly once).
        rejected: lines rejected (NaN/inf value or missing id).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    read: int
    written: int
    rejected: int
