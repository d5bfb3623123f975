"""A gap-family training job over several hosts: meet, drop data-less hosts, train one model.

Every host runs this with its own channel content (a ``ShardedByS3Key`` channel gives each host
some of the objects; the extract step writes whole customers per object). The steps, as AWS's
XGBoost container takes them:

1. **Read** this host's rows (none when its channel is empty).
2. **Meet** (all hosts, Rabit on the ``meeting`` port, 9099): reduce the holdout's cutoff and
   end over every host's order dates, split locally, and tell each other who has training rows.
   Hosts without any leave (exit 0); if no host has any, every host fails with a ``DataError``.
3. **Train** (the hosts with rows; the first of them is rank 0): XGBoost in a Rabit group on
   the ``rabit`` port (9100), the LSTM in a gloo group on the ``torch`` port (7777). The family
   reduces its statistics through ``TrainingHooks.collective``; only rank 0 prints metric lines
   and writes checkpoints.
4. **Evaluate**: every host predicts its own holdout rows; rank 0 gathers targets and
   predictions (plain float arrays, no pickle), then alone writes ``model/``, the metrics and the
   report, exactly as a one-host job does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from retailsage.core.collective import (
    Collective,
    allgather_array,
    allgather_json,
    global_max,
    global_min,
    global_sum,
    is_root,
)
from retailsage.core.errors import DataError
from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.data.sources import discover_files
from retailsage.features.asof import PURCHASED, RECENCY
from retailsage.features.gap import AS_OF_DATE, ORDER_DATE, TARGET, build_orders
from retailsage.features.protocols import (
    default_cutoff,
    refit_asof_rows,
    split_asof,
    temporal_holdout,
)
from retailsage.models.base import ModelFamily, TrainingHooks
from retailsage.train.channels import ChannelData, inspect_channel
from retailsage.train.cluster import ClusterSpec
from retailsage.train.config import ResolvedConfig
from retailsage.train.environment import TrainingEnvironment
from retailsage.train.fingerprint import job_fingerprint
from retailsage.train.gap_task import (
    PREDICTION,
    PROBABILITY,
    GapTask,
    asof_rows,
    gap_rows,
    snapshot_window,
)
from retailsage.train.metrics import MetricWriter
from retailsage.train.signals import StopFlag
from retailsage.train.tasks import PreparedData

logger = logging.getLogger(__name__)

ENGINES: dict[str, str] = {"xgboost": "rabit", "lstm": "torch"}
"""Model types that train over several hosts -> the collective engine they train in."""
ASOF = "asof"
"""The as-of target (customer snapshots; the default), trained over hosts like ``order_gap``."""
MEAN_GAP = "mean_gap"
"""The evaluation column the customer-mean baseline reads (``evaluation.metrics``)."""
_NS_PER_S = 10**9


def supports_multi_host(model_type: str) -> bool:
    """Tell whether a model type trains over every host of a multi-host job.

    Args:
        model_type: the ``model_type`` hyperparameter.

    Returns:
        True for the gap families (``xgboost``, ``lstm``).
    """
    return model_type in ENGINES


@dataclass(frozen=True)
class MultiHostSteps:
    """What the one-host runner lends the multi-host job.

    Attributes:
        stop: the SIGTERM flag.
        writer: prints metric lines (used on rank 0 only).
        fit: fits the family (``runner._fit``).
        finish: saves the model, evaluates and writes reports (``runner.finish_job``).
        refit: refits the evaluated model on all the data (``runner.refit``).
    """

    stop: StopFlag
    writer: MetricWriter
    fit: Callable[[ResolvedConfig, PreparedData, TrainingHooks], ModelFamily]
    finish: Callable[..., None]
    refit: Callable[
        [ResolvedConfig, PreparedData, ModelFamily, TrainingHooks],
        tuple[ModelFamily, dict[str, Any]],
    ]


def _quiet(name: str, value: float, step: int) -> None:
    """Metric sink of the hosts other than rank 0 (only one host prints metric lines)."""


def _channel(environment: TrainingEnvironment, name: str) -> ChannelData | None:
    """Inspect a declared channel, or return ``None`` when it is absent or holds no files."""
    path = environment.channels.get(name)
    if path is None or not path.exists():
        return None
    try:
        discover_files(path)
    except DataError:
        logger.info("channel %s is empty on host %s", name, environment.current_host)
        return None
    return inspect_channel(name, path)


def _seconds(dates: pd.Series, pick: Callable[[pd.Series], Any], empty: float) -> float:
    """Whole seconds since the epoch of ``pick(dates)`` (``empty`` when there are none)."""
    if dates.empty:
        return empty
    return float(pd.Timestamp(pick(dates)).value // _NS_PER_S)


def _split(
    config: ResolvedConfig, rows: pd.DataFrame | None, held_out: pd.DataFrame | None, group: Any
) -> PreparedData:
    """Cut this host's rows with a cutoff and end reduced over every host (collective)."""
    if config.job.gap_target == ASOF:
        return _split_asof(config, rows, held_out, group)
    if rows is None:
        rows = pd.DataFrame({ORDER_DATE: pd.Series([], dtype="datetime64[ns]")})
    dates = pd.to_datetime(rows[ORDER_DATE]) if ORDER_DATE in rows else pd.Series([])
    first = float(global_min(group, [_seconds(dates, pd.Series.min, np.inf)])[0])
    last = float(global_max(group, [_seconds(dates, pd.Series.max, -np.inf)])[0])
    if rows.empty:  # this host has no rows (an empty shard)
        return PreparedData(rows.iloc[:0], None, rows.iloc[:0], description={})
    if held_out is not None:
        return PreparedData(rows, held_out, held_out, description={"holdout": "validation channel"})
    job = config.job
    cutoff, end = job.cutoff, None
    if np.isfinite(first):  # else the rows lack order dates: the split names the column
        span = pd.Series(pd.to_datetime([first, last], unit="s"), name=ORDER_DATE).to_frame()
        cutoff = default_cutoff(span) if cutoff is None else cutoff
        end = pd.Timestamp(int(last), unit="s")
    protocol = job.protocol  # the protocol the target implies (p1 unless p2cap is named)
    split = temporal_holdout(rows, protocol, cutoff, job.horizon_days, end=end, require_rows=False)
    description = {
        "holdout": "temporal",
        "protocol": split.protocol,
        "cutoff": None if split.cutoff is None else str(split.cutoff.date()),
        "horizon_days": split.horizon_days,
    }
    test = _observed(split.test)
    return PreparedData(split.train, test, test, description=description)


def _split_asof(
    config: ResolvedConfig, lines: pd.DataFrame | None, held_out: pd.DataFrame | None, group: Any
) -> PreparedData:
    """``target=asof``: snapshot this host's customers at dates every host derives alike.

    ``lines`` are this host's clean transaction lines (raw ``train`` channel) or its snapshot
    rows (a featurized table, which then needs ``held_out``). The first and last order day are
    reduced over hosts, so the cutoff ``D`` and the snapshot dates (``D - H`` and every
    ``snapshot_every_days`` back) are those one host would pick from all the data; customers
    are whole per host, so each customer's snapshots are built locally and equal the full
    data's. The gaps (residual-life baseline) travel in ``description["gaps"]`` until gathered.
    """
    job = config.job
    description: dict[str, Any] = {"target": ASOF, "horizon_days": job.horizon_days}
    if held_out is not None:
        train = lines if lines is not None else pd.DataFrame()
        description["holdout"] = "validation channel"
        return PreparedData(train, held_out, held_out, description=description)
    orders = (
        build_orders(lines)
        if lines is not None and not lines.empty
        else pd.DataFrame({ORDER_DATE: pd.Series([], dtype="datetime64[ns]")})
    )
    dates = pd.to_datetime(orders[ORDER_DATE])
    first = float(global_min(group, [_seconds(dates, pd.Series.min, np.inf)])[0])
    last = float(global_max(group, [_seconds(dates, pd.Series.max, -np.inf)])[0])
    if lines is None or orders.empty or not np.isfinite(first):
        empty = pd.DataFrame()
        return PreparedData(empty, None, empty, description=description)
    span = (pd.Timestamp(int(first), unit="s"), pd.Timestamp(int(last), unit="s"))
    split = split_asof(
        lines,
        job.cutoff,
        job.horizon_days,
        job.snapshot_every_days,
        job.snapshot_count,
        span=span,
        require_rows=False,
    )
    description.update(
        holdout="temporal",
        protocol=ASOF,
        cutoff=None if split.cutoff is None else str(split.cutoff.date()),
        gaps=split.gaps,
    )
    refit = None
    if job.refit_full:  # the same span on every host: the same refit snapshot dates
        refit = refit_asof_rows(
            lines,
            job.horizon_days,
            job.snapshot_every_days,
            job.snapshot_count,
            span=span,
            require_rows=False,
        )
        description["refit"] = snapshot_window(refit)
    return PreparedData(
        split.train, split.test, split.test, description=description, refit_train=refit
    )


def any_validation(group: Collective, held_out: pd.DataFrame | None) -> bool:
    """Tell whether any host has a ``validation`` channel with rows (collective).

    Args:
        group: the meeting group.
        held_out: this host's validation rows, or ``None``.

    Returns:
        The same answer on every host.
    """
    return bool(global_max(group, [0.0 if held_out is None else 1.0])[0] > 0)


def _observed(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows whose target is observed."""
    if TARGET not in rows.columns:
        return rows
    values = pd.to_numeric(rows[TARGET], errors="coerce").to_numpy(dtype=np.float64)
    return rows.loc[~np.isnan(values)]


def _read_rows(
    environment: TrainingEnvironment, config: ResolvedConfig
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[ChannelData]]:
    """Read this host's training and validation rows (``None`` for an empty channel).

    For ``target=asof`` a raw ``train`` channel gives clean transaction lines (the snapshots
    are cut after the hosts agree on the dates); a featurized one gives its snapshot rows and
    then needs a ``validation`` channel, as on one host.
    """
    train = _channel(environment, "train")
    validation = _channel(environment, "validation")
    channels = [c for c in (train, validation) if c is not None]
    if config.job.gap_target != ASOF:
        rows = gap_rows(train) if train is not None else None
        held = _observed(gap_rows(validation)) if validation is not None else None
        return rows, held, channels
    held = asof_rows(validation, config.job) if validation is not None else None
    if train is None:
        return None, held, channels
    if train.raw:
        return clean_transactions(load_transactions(train.path)), held, channels
    if validation is None:
        raise DataError(
            "target=asof without a validation channel needs raw transactions in 'train' "
            "(the as-of holdout is cut from the lines); give a validation channel instead"
        )
    return asof_rows(train, config.job), held, channels


def _job_fingerprint(fingerprints: list[Any]) -> str:
    """One fingerprint for the job: every host's data and hyperparameter digest, in host order."""
    payload = json.dumps(fingerprints, sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()


def _meet(
    cluster: ClusterSpec,
    config: ResolvedConfig,
    rows: tuple[pd.DataFrame | None, pd.DataFrame | None],
    fingerprint: str,
) -> tuple[PreparedData, list[str], Any, str]:
    """First meeting of every host: shared cutoff, local split, who has training rows.

    The hosts also combine their data fingerprints into the job's (checkpoints carry it).

    Before the meeting ends, the first host with rows starts the XGBoost training group's
    tracker, so the others find it listening when they join (no connection retries).
    """
    from retailsage.train.rabit import rabit_group, start_tracker

    hosts = cluster.hosts
    master = cluster.address(hosts[0])
    rank = hosts.index(cluster.current_host)
    tracker = None
    with rabit_group(hosts, rank, master, cluster.ports["meeting"], cluster.timeout_s) as group:
        held = rows[1]
        if any_validation(group, held) and held is None:  # others hold out their channel
            held = rows[0].iloc[:0] if rows[0] is not None else pd.DataFrame()
        data = _split(config, rows[0], held, group)
        trainable = len(_observed(data.train))
        totals = global_sum(group, [trainable, len(data.evaluation)])
        shared = allgather_json(group, [trainable > 0, fingerprint])
        included = [host for host, (flag, _) in zip(hosts, shared, strict=True) if flag]
        combined = _job_fingerprint([digest for _, digest in shared])
        first = included[0] if included else None
        if ENGINES[config.job.model_type] == "rabit" and first == cluster.current_host:
            address, port = cluster.address(first), cluster.ports["rabit"]
            tracker = start_tracker(len(included), address, port, cluster.timeout_s)
        global_sum(group, [0.0])  # barrier: the training tracker is listening
    if totals[0] == 0 or totals[1] == 0:
        raise DataError(
            f"no host received training data: {int(totals[0])} training and "
            f"{int(totals[1])} holdout rows over hosts {list(hosts)}; check the channel's S3 "
            "prefix and the holdout cutoff"
        )
    logger.info("hosts with training rows: %s (of %s)", included, list(hosts))
    return data, included, tracker, combined


def _training_group(
    engine: str, cluster: ClusterSpec, hosts: list[str], tracker: Any
) -> AbstractContextManager[Collective]:
    """Form the training group of ``hosts`` for ``engine`` (Rabit or gloo)."""
    rank = hosts.index(cluster.current_host)
    master = cluster.address(hosts[0])
    if engine == "rabit":
        from retailsage.train.rabit import rabit_group

        port = cluster.ports["rabit"]
        return rabit_group(hosts, rank, master, port, cluster.timeout_s, tracker)
    from retailsage.train.torch_ddp import torch_group

    return torch_group(
        hosts, rank, master, cluster.ports["torch"], cluster.timeout_s, cluster.interface
    )


_ASOF_EVALUATION = (TARGET, RECENCY, PURCHASED, AS_OF_DATE, PREDICTION, PROBABILITY)
"""Columns an as-of evaluation gathers on rank 0 (dates as whole seconds)."""


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 (dates as whole seconds; NaN when the column is missing)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if column == AS_OF_DATE:
        return (pd.to_datetime(values).astype("int64") // _NS_PER_S).to_numpy(dtype=np.float64)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _gather_asof(model: ModelFamily, data: PreparedData, group: Collective) -> PreparedData:
    """Predict this host's as-of snapshot and gather what the as-of evaluation reads.

    Rank 0 gets every host's scored rows, the training rows' dates and targets (the constant
    baseline is the median over all hosts' newest snapshot) and every host's past gaps (the
    residual-life and median-gap baselines).
    """
    evaluation = data.evaluation
    scored = model.predict(evaluation) if len(evaluation) else pd.DataFrame()
    frame = evaluation.reset_index(drop=True).assign(
        **{column: scored[column].to_numpy() for column in scored.columns}
    )
    width = len(_ASOF_EVALUATION)
    local = np.column_stack([_numbers(frame, c) for c in _ASOF_EVALUATION]).reshape(-1, width)
    gathered = pd.DataFrame(allgather_array(group, local), columns=list(_ASOF_EVALUATION))
    train = data.train
    pairs = np.column_stack([_numbers(train, AS_OF_DATE), _numbers(train, TARGET)]).reshape(-1, 2)
    training = pd.DataFrame(allgather_array(group, pairs), columns=[AS_OF_DATE, TARGET])
    for table in (gathered, training):
        table[AS_OF_DATE] = pd.to_datetime(table[AS_OF_DATE].astype("int64"), unit="s")
    if gathered[PROBABILITY].isna().all():
        gathered = gathered.drop(columns=[PROBABILITY])
    description = dict(data.description)
    if "gaps" in description:  # a temporal split on every host (a validation channel: none)
        gaps = np.asarray(description.pop("gaps"), dtype=np.float64)
        description["gaps"] = allgather_array(group, gaps)
    return replace(
        data, train=training, validation=None, evaluation=gathered, description=description
    )


def _refit_window(rows: pd.DataFrame, group: Collective) -> dict[str, Any]:
    """The refit's snapshot window over every host: row total, first/last date (collective)."""
    dates = pd.to_datetime(rows[AS_OF_DATE]) if AS_OF_DATE in rows.columns else pd.Series([])
    first = float(global_min(group, [_seconds(dates, pd.Series.min, np.inf)])[0])
    last = float(global_max(group, [_seconds(dates, pd.Series.max, -np.inf)])[0])
    total = int(global_sum(group, [float(len(rows))])[0])
    window: dict[str, Any] = {"rows": total}
    if np.isfinite(first) and np.isfinite(last):
        window["as_of_first"] = str(pd.Timestamp(int(first), unit="s").date())
        window["as_of_last"] = str(pd.Timestamp(int(last), unit="s").date())
    return window


class GatheredPredictions:
    """Stands in for the model at evaluation: returns predictions gathered from every host.

    The gap task's ``evaluate`` calls ``model.predict(data.evaluation)``; on a multi-host job
    rank 0 evaluates rows predicted by their own hosts (same model, no data moved but targets
    and predictions), so ``predict`` hands back that column.
    """

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the gathered predictions of ``frame``'s rows.

        Args:
            frame: the gathered evaluation rows (they carry the prediction column).

        Returns:
            The predictions (and ``purchase_probability`` when gathered).
        """
        return frame[[c for c in (PREDICTION, PROBABILITY) if c in frame.columns]]


def _gather_evaluation(model: ModelFamily, data: PreparedData, group: Collective) -> PreparedData:
    """Predict this host's holdout and gather targets/predictions on every host."""
    if data.description.get("target") == ASOF:
        return _gather_asof(model, data, group)
    evaluation = data.evaluation
    predicted = (
        model.predict(evaluation)[PREDICTION].to_numpy(dtype=np.float64)
        if len(evaluation)
        else np.zeros(0)
    )
    local = np.column_stack(
        [
            evaluation[TARGET].to_numpy(dtype=np.float64, na_value=np.nan),
            evaluation[MEAN_GAP].to_numpy(dtype=np.float64, na_value=np.nan),
            predicted,
        ]
    ).reshape(-1, 3)
    rows = allgather_array(group, local)
    targets = allgather_array(group, data.train[TARGET].to_numpy(dtype=np.float64, na_value=np.nan))
    gathered = pd.DataFrame(rows, columns=[TARGET, MEAN_GAP, PREDICTION])
    return replace(
        data,
        train=pd.DataFrame({TARGET: targets}),
        validation=None,
        evaluation=gathered,
    )


def run_multi_host(
    environment: TrainingEnvironment,
    cluster: ClusterSpec,
    config: ResolvedConfig,
    steps: MultiHostSteps,
) -> None:
    """Run this host's part of a multi-host gap-family job.

    Args:
        environment: the job's configuration and paths (this host's).
        cluster: the hosts and how to reach them.
        config: the resolved hyperparameters.
        steps: the one-host runner's fit/finish steps, stop flag and metric writer.

    Raises:
        DataError: no host has training rows (raised on every host).
        ClusterError: a host was lost or did not meet the others in time.
        TrainingInterrupted: SIGTERM on any host.
    """
    started = time.monotonic()
    logger.info(
        "multi-host %s job: host %s of %s",
        config.job.model_type,
        cluster.current_host,
        list(cluster.hosts),
    )
    rows, held, channels = _read_rows(environment, config)
    local = job_fingerprint(config, channels) if channels else "no data"
    data, included, tracker, fingerprint = _meet(cluster, config, (rows, held), local)
    if cluster.current_host not in included:
        logger.info("host %s has no training rows; it leaves the job", cluster.current_host)
        return
    prepared = time.monotonic()
    environment.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    engine = ENGINES[config.job.model_type]
    with _training_group(engine, cluster, included, tracker) as group:
        root = is_root(group)
        hooks = TrainingHooks(
            checkpoint_dir=environment.checkpoint_dir,
            checkpoint_every=config.job.checkpoint_every,
            on_metric=steps.writer if root else _quiet,
            should_stop=steps.stop,
            collective=group,
            fingerprint=fingerprint,
        )
        model = steps.fit(config, data, hooks)
        fitted = time.monotonic()
        gathered = _gather_evaluation(model, data, group)  # the holdout model's metrics
        final, training, reference = model, None, data.train
        if data.refit_train is not None:  # every host refits, in the same group
            final, training = steps.refit(config, data, model, hooks)
            reference = data.refit_train
            training.update(_refit_window(data.refit_train, group))
        refitted = time.monotonic()
    if not root:
        logger.info("host %s finished its part; rank 0 writes the model", cluster.current_host)
        return
    description = {
        **gathered.description,
        "training_hosts": included,
        "hosts": list(cluster.hosts),
    }
    gaps = description.pop("gaps", None)
    timings = {"prepare": prepared - started, "fit": fitted - prepared}
    if training is not None:
        timings["refit"] = refitted - fitted
        skipped = ("refit_full", "iterations")
        description["refit"] = {k: v for k, v in training.items() if k not in skipped}
    steps.finish(
        environment,
        config,
        GapTask(gaps=gaps),
        (final, replace(gathered, description=description)),
        steps.writer,
        timings,
        predictor=cast(ModelFamily, GatheredPredictions()),
        checkpoints={"fingerprint": fingerprint, "notes": hooks.notes},
        reference_rows=reference,  # this host's rows: the drift reference is a distribution
        training=training,
    )
