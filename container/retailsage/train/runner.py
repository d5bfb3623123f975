"""One SageMaker training job: config -> channels -> fit -> model/ -> reports, behind one boundary.

:func:`main` is the only place that turns exceptions into the failure contract (see
:mod:`retailsage.train.failure`). Everything is validated before heavy work: the config files,
the hyperparameters (job and family, including the device), the presence and shape of the
channels. The model is written to a staging directory and published into ``model/`` only once
evaluation and reports succeeded, so a failed job leaves no model files. Checkpoints carry the
job fingerprint (:mod:`retailsage.train.fingerprint`) and resume only for the same data and
hyperparameters. The gap families (``xgboost``, ``lstm``) train over every host of a multi-host
job (:mod:`retailsage.train.multihost`); ``pca_kmeans`` trains on the first of the sorted hosts
and the others log that and exit 0 (see docs/training.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, TextIO

import pandas as pd

from retailsage.core.errors import AlgorithmError, DataError
from retailsage.core.paths import SageMakerPaths
from retailsage.evaluation.drift import write_reference
from retailsage.models.artifacts import record_training, save_model
from retailsage.models.base import (
    DriftReporting,
    ModelFamily,
    Refittable,
    TrainingHooks,
    TrainingInterrupted,
)
from retailsage.train.channels import ChannelData, inspect_channel
from retailsage.train.cluster import read_cluster
from retailsage.train.config import ResolvedConfig, resolve_config
from retailsage.train.environment import TrainingEnvironment, read_environment
from retailsage.train.failure import exit_code_for, write_failure
from retailsage.train.fingerprint import job_fingerprint
from retailsage.train.gate import gate_metrics
from retailsage.train.metrics import MetricWriter
from retailsage.train.multihost import MultiHostSteps, run_multi_host, supports_multi_host
from retailsage.train.publish import publish, staged_model_dir
from retailsage.train.reports import json_metrics, write_metrics, write_report
from retailsage.train.signals import StopFlag
from retailsage.train.tasks import Evaluation, PreparedData, Task, task_for

logger = logging.getLogger(__name__)

TRAIN_CHANNEL = "train"
VALIDATION_CHANNEL = "validation"
REFIT_CHECKPOINTS = "refit"
"""Subdirectory of the checkpoint dir that holds the final refit's checkpoints."""


def _channels(environment: TrainingEnvironment) -> tuple[ChannelData, ChannelData | None]:
    """Inspect the ``train`` (required) and ``validation`` (optional) channels."""
    declared = environment.channels
    if TRAIN_CHANNEL not in declared:
        found = ", ".join(sorted(declared)) or "none"
        raise DataError(
            f"the job has no {TRAIN_CHANNEL!r} channel (channels found: {found}); name the "
            f"training input channel {TRAIN_CHANNEL!r} (and the optional holdout "
            f"{VALIDATION_CHANNEL!r})"
        )
    train = inspect_channel(TRAIN_CHANNEL, declared[TRAIN_CHANNEL])
    validation = declared.get(VALIDATION_CHANNEL)
    return train, None if validation is None else inspect_channel(VALIDATION_CHANNEL, validation)


def _check_stop(stop: StopFlag, phase: str) -> None:
    """Raise TrainingInterrupted when a stop arrived before ``phase``."""
    if stop():
        raise TrainingInterrupted(f"stop requested before {phase}; no checkpoint was needed")


def _fit(
    config: ResolvedConfig,
    data: PreparedData,
    hooks: TrainingHooks,
) -> ModelFamily:
    """Fit the family, rewording an interruption so the failure file says what happened."""
    family_cls: Any = config.family_cls
    model: ModelFamily = family_cls(config.family_config)
    try:
        return model.fit(data.train, data.validation, hooks=hooks)
    except TrainingInterrupted as exc:
        raise TrainingInterrupted(
            f"the training job was stopped by SIGTERM (StopTrainingJob or a spot interruption): "
            f"{exc}. Checkpoints are in {hooks.checkpoint_dir}; a job started with the same "
            "checkpoint directory, data and hyperparameters resumes from the newest one"
        ) from exc


def refit(
    config: ResolvedConfig, data: PreparedData, model: ModelFamily, hooks: TrainingHooks
) -> tuple[ModelFamily, dict[str, Any]]:
    """Refit the family on ``data.refit_train`` for the iterations the holdout fit settled on.

    The holdout model (``model``) keeps producing the metrics; the refit is the one saved and
    deployed. It has no validation set: ``model.refit_config()`` fixes the XGBoost rounds /
    LSTM epochs to the early-stopped count. Its checkpoints go to ``<checkpoint dir>/refit``
    with a fingerprint of the job's fingerprint and that count, so a resumed job first resumes
    the holdout fit (from the checkpoint dir itself), then the refit. On a multi-host job every
    host calls this with its own rows and the same collective.

    Args:
        config: the resolved hyperparameters.
        data: the prepared data; ``refit_train`` must be set.
        model: the fitted holdout model (a gap family with ``refit_config``).
        hooks: the holdout fit's hooks (collective, stop flag, metric sink, checkpoint dir).

    Returns:
        The refitted model and what the manifest/report record about its training
        (``refit_full``, ``iterations`` and the snapshot window).

    Raises:
        TrainingInterrupted: a stop was requested during the refit (after a checkpoint).
        AlgorithmError: no refit rows, or a family without ``refit_config``.
    """
    if data.refit_train is None or not isinstance(model, Refittable):
        raise AlgorithmError(f"{config.job.model_type} has no refit rows or cannot be refitted")
    refit_config = model.refit_config()
    rounds: Any = getattr(refit_config, "num_round", 0) or getattr(refit_config, "epochs", 0)
    iterations = int(rounds)
    fingerprint = hooks.fingerprint
    if fingerprint is not None:  # the job's data and config, and the refit's length
        payload = f"{fingerprint}|refit|{iterations}".encode()
        fingerprint = hashlib.sha256(payload).hexdigest()
    directory = hooks.checkpoint_dir
    refit_hooks = dataclasses.replace(
        hooks,
        checkpoint_dir=None if directory is None else directory / REFIT_CHECKPOINTS,
        fingerprint=fingerprint,
    )
    logger.info("refitting on all the data for %d iterations", iterations)
    resolved = dataclasses.replace(config, family_config=refit_config)
    before = len(hooks.notes)
    try:
        final = _fit(
            resolved,
            dataclasses.replace(data, train=data.refit_train, validation=None),
            refit_hooks,
        )
    finally:  # the refit's checkpoint notes, told apart from the holdout fit's
        hooks.notes[before:] = [f"refit: {note}" for note in refit_hooks.notes[before:]]
    training = {
        "refit_full": True,
        "iterations": iterations,
        **data.description.get("refit", {}),
    }
    return final, training


def _report(
    environment: TrainingEnvironment,
    config: ResolvedConfig,
    evaluation: Evaluation,
    timings: Mapping[str, float],
) -> dict[str, Any]:
    """Assemble ``report.json``."""
    return {
        "model_type": config.job.model_type,
        "job_config": dataclasses.asdict(config.job),
        "family_config": dataclasses.asdict(config.family_config),
        "data": evaluation.report,
        "metrics": json_metrics(evaluation.metrics),
        "hosts": list(environment.hosts),
        "checkpoint_dir": str(environment.checkpoint_dir),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def fitted_inputs(model: ModelFamily, train: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The rows the model was fitted on and the inputs it ignores, for the drift reference.

    Args:
        model: the fitted family.
        train: the frame its ``fit`` received.

    Returns:
        The family's ``drift_inputs(train)`` when it is :class:`DriftReporting` (gap families:
        the as-of snapshot rows after the target/outlier filter, and ``exclude_columns``), else
        ``train`` and no ignored inputs (``pca_kmeans`` fits on every row it gets).
    """
    if not isinstance(model, DriftReporting):
        return train, ()
    rows, ignored = model.drift_inputs(train)
    return rows, tuple(ignored)


def finish_job(
    environment: TrainingEnvironment,
    config: ResolvedConfig,
    task: Task,
    fitted: tuple[ModelFamily, PreparedData],
    writer: MetricWriter,
    timings: dict[str, float],
    predictor: ModelFamily | None = None,
    checkpoints: dict[str, Any] | None = None,
    reference_rows: pd.DataFrame | None = None,
    training: dict[str, Any] | None = None,
) -> None:
    """Save the model, evaluate it and write the metrics and the report (one host only).

    Args:
        environment: the job's configuration and paths.
        config: the resolved hyperparameters.
        task: the model kind's task.
        fitted: the fitted model and the data to evaluate it on.
        writer: prints the final metric lines.
        timings: seconds per phase so far (``evaluate`` is added).
        predictor: what the evaluation predicts with (the model when omitted; a multi-host
            job passes the predictions its hosts made and gathered).
        checkpoints: the job fingerprint and checkpoint notes, for the report.
        reference_rows: the ``train`` frame the drift reference is taken from (``data.train``
            when omitted; a multi-host job passes the first host's own training rows); the
            family's ``drift_inputs`` hook narrows it to the rows it fitted on.
        training: what the saved model was fitted on (``refit``'s record), written to the
            manifest and the report under ``training``; ``None``: the evaluated model itself
            (``refit_full`` false or not applicable).
    """
    model, data = fitted
    started = time.monotonic()
    paths: SageMakerPaths = environment.paths
    with staged_model_dir(paths.model_dir) as staging:
        manifest = save_model(model, staging)
        # the input distribution the model was fitted on, for PSI drift checks of scored batches
        rows, ignored = fitted_inputs(
            model, data.train if reference_rows is None else reference_rows
        )
        manifest = write_reference(staging, rows, model.input_columns, ignored)
        training = training or {"refit_full": False}
        manifest = record_training(staging, training)
        evaluation = task.evaluate(predictor or model, data, paths.output_data_dir, manifest)
        evaluation.metrics.update(gate_metrics(evaluation.metrics))
        writer.write_all(evaluation.metrics)
        write_metrics(paths.output_data_dir, evaluation.metrics)
        timings["evaluate"] = time.monotonic() - started
        report = _report(environment, config, evaluation, timings)
        report["checkpoints"] = checkpoints or {}
        report["training"] = training
        write_report(paths.output_data_dir, report)
        publish(staging, paths.model_dir)
    logger.info("training finished: model in %s", paths.model_dir)


def run_job(
    environment: TrainingEnvironment,
    stop: StopFlag,
    writer: MetricWriter,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run the job described by ``environment``; raise on any failure.

    Args:
        environment: the job's configuration and paths.
        stop: the SIGTERM flag polled by the family through ``TrainingHooks.should_stop``.
        writer: prints metric lines (per iteration and final).
        env: the process environment (multi-host overrides); ``os.environ`` when omitted.

    Raises:
        UserError: bad hyperparameters or data (the message says what and why).
        TrainingInterrupted: SIGTERM arrived; a checkpoint was written where applicable.
        ClusterError: a host of a multi-host job was lost or never met the others.
    """
    started = time.monotonic()
    config = resolve_config(environment.hyperparameters)
    if len(environment.hosts) > 1 and supports_multi_host(config.job.model_type):
        cluster = read_cluster(
            environment.hosts, environment.current_host, environment.paths, env or os.environ
        )
        run_multi_host(
            environment, cluster, config, MultiHostSteps(stop, writer, _fit, finish_job, refit)
        )
        return
    if not environment.is_master:
        logger.info(
            "host %s is not the first host %s; %s trains on one host, exiting",
            environment.current_host,
            environment.hosts[0],
            config.job.model_type,
        )
        return
    logger.info(
        "job config %s; %s config %s", config.job, config.job.model_type, config.family_config
    )
    train, validation = _channels(environment)
    fingerprint = job_fingerprint(config, [c for c in (train, validation) if c is not None])
    task = task_for(config.job.model_type)
    data = task.prepare(config.job, train, validation)
    prepared = time.monotonic()
    _check_stop(stop, "fitting")
    environment.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    hooks = TrainingHooks(
        checkpoint_dir=environment.checkpoint_dir,
        checkpoint_every=config.job.checkpoint_every,
        on_metric=writer,
        should_stop=stop,
        fingerprint=fingerprint,
    )
    model = _fit(config, data, hooks)
    timings = {"prepare": prepared - started, "fit": time.monotonic() - prepared}
    checkpoints = {"fingerprint": fingerprint, "notes": hooks.notes}
    if data.refit_train is None:
        finish_job(
            environment, config, task, (model, data), writer, timings, checkpoints=checkpoints
        )
        return
    fitted = time.monotonic()
    final, training = refit(config, data, model, hooks)
    timings["refit"] = time.monotonic() - fitted
    finish_job(
        environment,
        config,
        task,
        (final, data),
        writer,
        timings,
        predictor=model,  # the metrics are the holdout model's
        checkpoints=checkpoints,
        reference_rows=data.refit_train,
        training=training,
    )


def main(
    env: Mapping[str, str] | None = None,
    stop: StopFlag | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run one training job and apply the failure contract.

    Args:
        env: the environment to read (``os.environ`` when omitted).
        stop: the stop flag; the caller installs its signal handlers.
        stdout: where metric lines go (``sys.stdout`` when omitted).

    Returns:
        0 on success, 1 for a user error, 2 for an algorithm error, 143 when stopped.
    """
    paths = SageMakerPaths.from_env(env)
    try:
        run_job(read_environment(env), stop or StopFlag(), MetricWriter(stdout), env)
    except Exception as exc:
        code = exit_code_for(exc)
        if code == 2:
            logger.exception("training failed")
        else:
            logger.error("training failed: %s", exc)
        write_failure(paths.failure_file, exc)
        return code
    return 0
