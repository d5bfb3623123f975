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
from retailsage.core.errors import DataError, UserError
from retailsage.data.sources import discover_files
from retailsage.features.gap import ORDER_DATE, TARGET
from retailsage.features.protocols import default_cutoff, temporal_holdout
from retailsage.models.base import ModelFamily, TrainingHooks
from retailsage.train.channels import ChannelData, inspect_channel
from retailsage.train.cluster import ClusterSpec
from retailsage.train.config import ResolvedConfig
from retailsage.train.environment import TrainingEnvironment
from retailsage.train.fingerprint import job_fingerprint
from retailsage.train.gap_task import PREDICTION, GapTask, gap_rows
from retailsage.train.metrics import MetricWriter
from retailsage.train.signals import StopFlag
from retailsage.train.tasks import PreparedData

logger = logging.getLogger(__name__)

ENGINES: dict[str, str] = {"xgboost": "rabit", "lstm": "torch"}
"""Model types that train over several hosts -> the collective engine they train in."""
ORDER_GAP = "order_gap"
"""The gap target multi-host jobs train (one row per order; see docs/training.md)."""
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
    """

    stop: StopFlag
    writer: MetricWriter
    fit: Callable[[ResolvedConfig, PreparedData, TrainingHooks], ModelFamily]
    finish: Callable[..., None]


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
    environment: TrainingEnvironment,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[ChannelData]]:
    """Read this host's training and validation rows (``None`` for an empty channel)."""
    train = _channel(environment, "train")
    validation = _channel(environment, "validation")
    rows = gap_rows(train) if train is not None else None
    held = _observed(gap_rows(validation)) if validation is not None else None
    return rows, held, [c for c in (train, validation) if c is not None]


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
            A one-column frame of predictions.
        """
        return frame[[PREDICTION]]


def _gather_evaluation(model: ModelFamily, data: PreparedData, group: Collective) -> PreparedData:
    """Predict this host's holdout and gather targets/predictions on every host."""
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
    target = config.job.gap_target
    if target != ORDER_GAP:  # the as-of target's snapshots are not reduced over hosts yet
        raise UserError(
            f"multi-host training supports the {ORDER_GAP!r} target, the job's is {target!r}; "
            f"set the hyperparameter target={ORDER_GAP} (eval_protocol p1 or p2cap) or train "
            "on one instance (InstanceCount=1)"
        )
    logger.info(
        "multi-host %s job: host %s of %s",
        config.job.model_type,
        cluster.current_host,
        list(cluster.hosts),
    )
    rows, held, channels = _read_rows(environment)
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
        gathered = _gather_evaluation(model, data, group)
    if not root:
        logger.info("host %s finished its part; rank 0 writes the model", cluster.current_host)
        return
    description = {
        **gathered.description,
        "training_hosts": included,
        "hosts": list(cluster.hosts),
    }
    timings = {"prepare": prepared - started, "fit": fitted - prepared}
    steps.finish(
        environment,
        config,
        GapTask(),
        (model, replace(gathered, description=description)),
        steps.writer,
        timings,
        predictor=cast(ModelFamily, GatheredPredictions()),
        checkpoints={"fingerprint": fingerprint, "notes": hooks.notes},
        reference_rows=data.train,  # this host's rows: the drift reference is a distribution
    )
