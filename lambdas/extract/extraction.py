"""The extract step: S3 source prefix -> training channel + scoring rows for one run."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from lambdas.common.errors import InvalidInput, NoNewData
from lambdas.common.events import LAMBDA, PROCESSING, ExtractEvent, ExtractResult, PipelineInput
from lambdas.common.s3uri import s3_uri
from lambdas.common.settings import ExtractSettings
from lambdas.extract.naming import run_name
from lambdas.extract.sources import download, list_source_keys, source_sizes
from retailsage.core.errors import DataError, NoDataError
from retailsage.data.loader import load_transactions
from retailsage.features.featurize import Featurized, FeaturizeSpec, featurize
from retailsage.models.registry import MODEL_TYPES

logger = logging.getLogger(__name__)


MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_KEY = 256
MAX_HYPERPARAMETER_VALUE = 2500
"""CreateTrainingJob's ``HyperParameters`` limits (entries, key and value characters)."""


def hyperparameters(request: PipelineInput) -> dict[str, str]:
    """Return the SageMaker hyperparameters: a string -> string map with ``model_type``.

    Args:
        request: the execution input.

    Returns:
        Every override as a string (booleans as ``true``/``false``), plus ``model_type``.

    Raises:
        InvalidInput: unknown model type, a conflicting ``model_type`` hyperparameter, or a map
            over SageMaker's limits (100 entries, keys of 256 and values of 2,500 characters).
    """
    if request.model_type not in MODEL_TYPES:
        raise InvalidInput(
            f"unknown model_type {request.model_type!r}; valid: {', '.join(MODEL_TYPES)}"
        )
    values = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in request.hyperparameters.items()
    }
    if values.setdefault("model_type", request.model_type) != request.model_type:
        raise InvalidInput(
            f"hyperparameters.model_type {values['model_type']!r} contradicts "
            f"model_type {request.model_type!r}"
        )
    # an order_gap run without its own eval_cutoff gets one added after featurizing
    added = int(values.get("target") == "order_gap" and "eval_cutoff" not in values)
    _check_sagemaker_limits(values, added)
    return values


def _check_sagemaker_limits(values: dict[str, str], added: int) -> None:
    """Raise InvalidInput where CreateTrainingJob would refuse the map (a less clear error).

    ``added`` entries (``eval_cutoff``) join the map later in this step and count too.
    """
    if len(values) + added > MAX_HYPERPARAMETERS:
        extra = " plus the eval_cutoff this run adds" if added else ""
        raise InvalidInput(
            f"{len(values)} hyperparameters (model_type included){extra}; SageMaker accepts at "
            f"most {MAX_HYPERPARAMETERS}"
        )
    for key, value in values.items():
        if len(key) > MAX_HYPERPARAMETER_KEY or len(value) > MAX_HYPERPARAMETER_VALUE:
            raise InvalidInput(
                f"hyperparameter {key[:80]!r}: SageMaker accepts keys of at most "
                f"{MAX_HYPERPARAMETER_KEY} and values of at most {MAX_HYPERPARAMETER_VALUE} "
                f"characters (this one: {len(key)} and {len(value)})"
            )


def read_transactions(
    s3: Any, settings: ExtractSettings, prefix: str, workdir: Path
) -> tuple[pd.DataFrame, int]:
    """Download and load every transaction file under ``prefix``.

    Args:
        s3: an S3 client.
        settings: bucket and allowed raw prefix.
        prefix: the requested source prefix.
        workdir: an empty local directory.

    Returns:
        The typed transactions and the number of files read.

    Raises:
        InvalidInput: the prefix is outside the raw prefix, or a file is malformed (the
            message names the S3 object and the column).
        NoNewData: no files, or no rows in them.
    """
    if not prefix.startswith(settings.raw_prefix):
        raise InvalidInput(f"source_prefix {prefix!r} is not under {settings.raw_prefix!r}")
    keys = list_source_keys(s3, settings.bucket, prefix)
    local = download(s3, settings.bucket, prefix, keys, workdir)
    try:
        frame = load_transactions(local)
    except DataError as exc:
        where = str(local.resolve())
        message = str(exc).replace(where, s3_uri(settings.bucket, prefix.rstrip("/")))
        raise InvalidInput(message) from exc
    if frame.empty:
        raise NoNewData(f"the {len(keys)} file(s) under {prefix!r} hold no transactions")
    return frame, len(keys)


def extract(event: ExtractEvent, settings: ExtractSettings, s3: Any) -> ExtractResult:
    """Run the extract step: featurize here, or plan the Processing job for a large input.

    Args:
        event: the execution name and input.
        settings: bucket, prefixes and sizing from the environment.
        s3: an S3 client.

    Returns:
        URIs and counts of what was written for this run (counts are -1 when the
        ``Featurize Data`` Processing job writes the objects instead).

    Raises:
        InvalidInput: bad input or source file.
        NoNewData: nothing to train on.
    """
    request = event.input
    params = hyperparameters(request)
    name = run_name(settings.job_prefix, event.execution_name)
    run_prefix = f"{settings.runs_prefix}{name}/"
    spec = FeaturizeSpec(request.model_type, request.as_of, *settings.featurize_sizes)
    mode, files = featurize_mode(request, settings, s3)
    if mode == PROCESSING:
        logger.info("input of %s: featurizing in a Processing job", request.source_prefix)
        return _result(name, request, params, settings, (files, spec))
    with tempfile.TemporaryDirectory(prefix="extract-") as workdir:
        raw, files = read_transactions(s3, settings, request.source_prefix, Path(workdir))
    try:
        built = featurize(raw, spec)
    except NoDataError as exc:
        raise NoNewData(str(exc)) from exc
    except DataError as exc:
        raise InvalidInput(str(exc)) from exc
    if built.eval_cutoff and params.get("target") == "order_gap":  # as-of: hosts reduce it
        params.setdefault("eval_cutoff", built.eval_cutoff)
    for key, body in built.train_objects:
        s3.put_object(Bucket=settings.bucket, Key=f"{run_prefix}train/{key}", Body=body)
    for key, body in built.scoring_objects:
        s3.put_object(Bucket=settings.bucket, Key=f"{run_prefix}scoring/{key}", Body=body)
    logger.info(
        "extracted %d train rows in %d objects, %d scoring rows in %d objects",
        built.train_rows,
        len(built.train_objects),
        built.scoring_rows,
        len(built.scoring_objects),
    )
    return _result(name, request, params, settings, (files, built))


def featurize_mode(request: PipelineInput, settings: ExtractSettings, s3: Any) -> tuple[str, int]:
    """Decide where this run featurizes: :data:`LAMBDA` or :data:`PROCESSING`.

    ``auto`` (the default) featurizes in the Lambda unless the source files together exceed
    ``settings.lambda_max_input_bytes``; ``lambda`` / ``processing`` in the input force one.

    Args:
        request: the execution input.
        settings: the size limit and allowed raw prefix.
        s3: an S3 client (only lists the source prefix).

    Returns:
        The mode and the number of source files.

    Raises:
        InvalidInput: the prefix is outside the raw prefix.
        NoNewData: no transaction files under the prefix.
    """
    if not request.source_prefix.startswith(settings.raw_prefix):
        raise InvalidInput(
            f"source_prefix {request.source_prefix!r} is not under {settings.raw_prefix!r}"
        )
    sizes = source_sizes(s3, settings.bucket, request.source_prefix)
    if request.featurize != "auto":
        return request.featurize, len(sizes)
    too_large = sum(sizes.values()) > settings.lambda_max_input_bytes
    return (PROCESSING if too_large else LAMBDA), len(sizes)


def processing_arguments(spec: FeaturizeSpec) -> list[str]:
    """Return ``AppSpecification.ContainerArguments`` of the ``Featurize Data`` job.

    Args:
        spec: what the job builds.

    Returns:
        ``["featurize", "--model-type", ..., ...]`` (the image's ENTRYPOINT takes the mode).
    """
    arguments = [
        "featurize",
        "--model-type",
        spec.model_type,
        "--training-instances",
        str(spec.training_instances),
        "--scoring-object-rows",
        str(spec.scoring_object_rows),
        "--min-scoring-objects",
        str(spec.min_scoring_objects),
    ]
    if spec.as_of is not None:
        arguments += ["--as-of", spec.as_of.isoformat()]
    return arguments


def _result(
    name: str,
    request: PipelineInput,
    params: dict[str, str],
    settings: ExtractSettings,
    outcome: tuple[int, Featurized | FeaturizeSpec],
) -> ExtractResult:
    """Assemble the result of a Lambda featurization or of a planned Processing job.

    ``outcome`` is the number of source files and what was written here (``Featurized``) or
    what the ``Featurize Data`` job is to build (``FeaturizeSpec``).
    """
    files, done = outcome
    built, arguments = (
        (done, []) if isinstance(done, Featurized) else (None, processing_arguments(done))
    )
    run_prefix = f"{settings.runs_prefix}{name}/"
    predictions_prefix = f"{run_prefix}predictions/"
    return ExtractResult(
        run_name=name,
        model_type=request.model_type,
        hyperparameters=params,
        quality_threshold=request.quality_threshold,
        source_files=files,
        train_uri=s3_uri(settings.bucket, f"{run_prefix}train/"),
        train_rows=built.train_rows if built else -1,
        scoring_uri=s3_uri(settings.bucket, f"{run_prefix}scoring/"),
        scoring_rows=built.scoring_rows if built else -1,
        scoring_objects=len(built.scoring_objects) if built else -1,
        predictions_uri=s3_uri(settings.bucket, predictions_prefix),
        predictions_prefix=predictions_prefix,
        checkpoint_uri=s3_uri(settings.bucket, f"{settings.checkpoints_prefix}{name}/"),
        featurize=LAMBDA if built else PROCESSING,
        source_uri=s3_uri(settings.bucket, request.source_prefix),
        featurize_arguments=arguments,
    )
