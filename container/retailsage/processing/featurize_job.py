"""The ``featurize`` mode: raw files -> the run's training channel and scoring objects.

What the extract Lambda does (:func:`retailsage.features.featurize.featurize`), for inputs
beyond its limits: read the files SageMaker downloaded to the ``raw`` input, write the training
channel objects to the ``train`` output and the scoring objects to the ``scoring`` output (same
names and bytes as the Lambda writes), and report the counts as JSON in ``output/message``
(``ExitMessage``). A failure writes ``UserError: <message>`` (exit 1) or
``AlgorithmError: ...`` (exit 2) there instead. Only the first host featurizes; any other host
of a multi-instance job exits 0 at once (featurization reads every customer together).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from retailsage.core.errors import DataError, UserError
from retailsage.data.loader import load_transactions
from retailsage.features.featurize import Featurized, FeaturizeSpec, featurize
from retailsage.models.registry import MODEL_TYPES
from retailsage.processing.contract import (
    INPUT_RAW,
    OUTPUT_SCORING,
    OUTPUT_TRAIN,
    ProcessingJob,
    ProcessingPaths,
    read_job,
)
from retailsage.train.failure import exit_code_for, write_failure

logger = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of exiting (the failure file must be written)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise a UserError with argparse's message (bad arguments are no data problem)."""
        raise UserError(f"featurize arguments: {message}")


def parse_spec(argv: Sequence[str]) -> FeaturizeSpec:
    """Parse the ``featurize`` arguments (``ContainerArguments`` after the mode).

    Args:
        argv: e.g. ``["--model-type", "xgboost", "--training-instances", "2"]``.

    Returns:
        The featurization to run.

    Raises:
        UserError: an unknown or malformed argument.
    """
    parser = _Parser(prog="featurize", add_help=False)
    parser.add_argument("--model-type", required=True, choices=MODEL_TYPES)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--training-instances", type=int, default=1)
    parser.add_argument("--scoring-object-rows", type=int, default=50_000)
    parser.add_argument("--min-scoring-objects", type=int, default=1)
    args = parser.parse_args(list(argv))
    return FeaturizeSpec(
        model_type=args.model_type,
        as_of=args.as_of,
        training_instances=max(1, args.training_instances),
        scoring_object_rows=max(1, args.scoring_object_rows),
        min_scoring_objects=max(1, args.min_scoring_objects),
    )


def write_objects(built: Featurized, job: ProcessingJob) -> None:
    """Write the objects into the ``train`` and ``scoring`` output directories.

    Args:
        built: the serialized objects.
        job: the output directories.
    """
    for output, objects in (
        (OUTPUT_TRAIN, built.train_objects),
        (OUTPUT_SCORING, built.scoring_objects),
    ):
        directory = job.outputs[output]
        directory.mkdir(parents=True, exist_ok=True)
        for name, body in objects:
            (directory / name).write_bytes(body)


def summary(built: Featurized) -> dict[str, object]:
    """Return the counts reported in ``ExitMessage`` (well under its 1 KB).

    Args:
        built: the featurization.

    Returns:
        Row and object counts, and the sharded holdout cutoff (or ``None``).
    """
    return {
        "train_rows": built.train_rows,
        "train_objects": len(built.train_objects),
        "scoring_rows": built.scoring_rows,
        "scoring_objects": len(built.scoring_objects),
        "eval_cutoff": built.eval_cutoff,
    }


def run(argv: Sequence[str], paths: ProcessingPaths) -> dict[str, object] | None:
    """Featurize once; raise on any failure.

    Args:
        argv: the ``featurize`` arguments.
        paths: the Processing tree.

    Returns:
        The summary, or ``None`` on a host that is not the first.

    Raises:
        UserError: bad arguments (DataError: unreadable or empty input).
    """
    spec = parse_spec(argv)
    job = read_job(paths)
    if not job.is_first_host:
        logger.info("host %s is not the first of %s; nothing to do", job.current_host, job.hosts)
        return None
    source: Path = job.inputs[INPUT_RAW]
    if not source.is_dir() or not any(p.is_file() for p in source.rglob("*")):
        raise DataError(f"the {INPUT_RAW!r} input {source} holds no files")
    built = featurize(load_transactions(source), spec)
    write_objects(built, job)
    return summary(built)


def main(argv: Sequence[str], paths: ProcessingPaths | None = None) -> int:
    """Run the ``featurize`` mode and return its exit code.

    Args:
        argv: the arguments after the mode.
        paths: the Processing tree (from ``SAGEMAKER_BASE_DIR`` when omitted).

    Returns:
        0 on success; 1 (``UserError``) or 2 (``AlgorithmError``) after writing
        ``output/message``.
    """
    paths = paths or ProcessingPaths.from_env()
    try:
        result = run(argv, paths)
    except Exception as exc:  # every failure is reported through output/message
        logger.error("featurize failed: %s", exc)
        write_failure(paths.message_file, exc)
        return exit_code_for(exc)
    if result is not None:
        paths.message_file.parent.mkdir(parents=True, exist_ok=True)
        paths.message_file.write_text(json.dumps(result), encoding="utf-8")
        logger.info("featurized: %s", result)
    return 0
