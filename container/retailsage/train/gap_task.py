"""The gap task (``xgboost``, ``lstm``): gap rows in, days-to-next-purchase metrics out.

With ``target=asof`` (the default) raw transactions become customer snapshots at several as-of
days (:mod:`retailsage.features.asof`); with ``target=order_gap`` one row per order
(:func:`~retailsage.features.gap.gap_training_rows`). A featurized table must carry every
feature column of its target and ``gap_days``. Without a ``validation`` channel a temporal
holdout is cut from ``train`` by ``eval_protocol``/``eval_cutoff``/``horizon_days``; the model
is then fitted on the holdout's training side only, so the reported metrics are honest
out-of-time figures; with ``refit_full`` (the default, ``target=asof``) the job then refits the
saved model on snapshots of all the data (``PreparedData.refit_train``, the newest at the last
day - horizon) for the iterations the holdout fit early-stopped at. Metric names:
``validation:{mae,rmse,medae}``, for ``asof`` also ``validation:{brier,roc_auc,past_date_share}``,
and ``baseline:<name>:{mae,rmse,medae}`` with ``<name>`` in :data:`ASOF_BASELINES` (``asof``)
or ``median``/``customer_mean`` (P1/P2-cap).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retailsage.core.errors import DataError
from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.data.schema import INVOICE_DATE
from retailsage.evaluation.metrics import (
    asof_baselines,
    gap_baselines,
    gap_metrics,
    past_date_share,
    probability_metrics,
)
from retailsage.evaluation.plots import describe_protocol, write_gap_plots
from retailsage.features.asof import (
    PURCHASED,
    SNAPSHOT_FEATURE_COLUMNS,
    asof_training_rows,
    snapshot_dates,
)
from retailsage.features.gap import (
    AS_OF_DATE,
    GAP_FEATURE_COLUMNS,
    NEXT_ORDER_DATE,
    ORDER_DATE,
    TARGET,
    gap_training_rows,
)
from retailsage.features.protocols import refit_asof_rows, split_asof, temporal_holdout
from retailsage.models.base import ModelFamily
from retailsage.train.channels import ChannelData, read_table, require_columns
from retailsage.train.config import JobConfig
from retailsage.train.tasks import Evaluation, PreparedData

logger = logging.getLogger(__name__)

PREDICTION = "predicted_gap_days"
PROBABILITY = "purchase_probability"
ASOF_BASELINES = ("constant", "median_gap", "residual_life")
"""Baselines of ``target=asof`` (``evaluation.metrics.asof_baselines``), same names in metrics."""
BASELINE_NAMES = {"global_median": "median", "customer_mean_gap": "customer_mean"}
"""Baseline names of ``evaluation.metrics.gap_baselines`` -> their metric-name segment."""
_DATE_COLUMNS = (ORDER_DATE, NEXT_ORDER_DATE, AS_OF_DATE)


def asof_rows(channel: ChannelData, job: JobConfig) -> pd.DataFrame:
    """Return one channel's as-of rows (snapshots built here when it holds transactions).

    Args:
        channel: the inspected channel.
        job: horizon and snapshot spacing/count.

    Returns:
        Snapshot rows with ``gap_days`` (capped as-of target) and, when built here,
        ``purchased_within_horizon``.

    Raises:
        DataError: unreadable files, missing columns, or too little history.
    """
    if not channel.raw:
        table = read_table(channel)
        require_columns(table, (*SNAPSHOT_FEATURE_COLUMNS, TARGET), channel.name, "as-of table")
        for column in _DATE_COLUMNS:
            if column in table.columns:
                table[column] = pd.to_datetime(table[column])
        return table
    clean = clean_transactions(load_transactions(channel.path))
    dates = pd.to_datetime(clean[INVOICE_DATE]).dt.normalize()
    horizon = pd.Timedelta(days=job.horizon_days)
    days = snapshot_dates(
        dates.min(),
        dates.max() + pd.Timedelta(days=1) - horizon,
        job.snapshot_every_days,
        job.snapshot_count,
    )
    return asof_training_rows(clean, days, job.horizon_days)


def gap_rows(channel: ChannelData) -> pd.DataFrame:
    """Return one channel's gap rows (featurized here when the channel holds transactions).

    Args:
        channel: the inspected channel.

    Returns:
        Gap rows: the feature columns, ``gap_days`` and, where known, the order dates.

    Raises:
        DataError: unreadable files, missing columns, or no customer orders.
    """
    if channel.raw:
        return gap_training_rows(clean_transactions(load_transactions(channel.path)))
    table = read_table(channel)
    require_columns(table, (*GAP_FEATURE_COLUMNS, TARGET), channel.name, "gap table")
    for column in _DATE_COLUMNS:
        if column in table.columns:
            table[column] = pd.to_datetime(table[column])
    return table


def snapshot_window(rows: pd.DataFrame) -> dict[str, Any]:
    """The as-of dates of training snapshot rows, for the report and the manifest.

    Args:
        rows: snapshot rows carrying ``as_of_date`` (possibly none).

    Returns:
        ``as_of_first``, ``as_of_last`` (ISO dates, ``None`` without rows), ``snapshots``
        (distinct dates) and ``rows``.
    """
    dates = pd.to_datetime(rows[AS_OF_DATE]) if AS_OF_DATE in rows.columns else pd.Series([])
    known = not dates.empty
    return {
        "as_of_first": str(dates.min().date()) if known else None,
        "as_of_last": str(dates.max().date()) if known else None,
        "snapshots": int(dates.nunique()),
        "rows": len(rows),
    }


def _observed(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows whose target is observed (a customer's last order has none)."""
    return rows.loc[rows[TARGET].notna().to_numpy()]


class GapTask:
    """Preparation and evaluation for the days-to-next-purchase regressors."""

    def __init__(self, gaps: np.ndarray | None = None) -> None:
        """Create the task.

        Args:
            gaps: every observed order-to-order gap before the as-of cutoff (the as-of
                baselines' pool); a multi-host job passes the gaps gathered from every host.
                ``None``: taken from the split (or the training rows' lag gaps).
        """
        self._gaps = gaps

    def prepare(
        self, job: JobConfig, train: ChannelData, validation: ChannelData | None
    ) -> PreparedData:
        """Featurize the channels and cut the evaluation rows.

        Args:
            job: the job config (holdout protocol, cutoff, horizon).
            train: the ``train`` channel.
            validation: the ``validation`` channel, if the job has one.

        Returns:
            Training rows, validation rows (also the evaluation rows) and a description.

        Raises:
            DataError: bad or insufficient data, or a holdout that leaves a side empty.
        """
        if job.gap_target == "asof":
            return self._prepare_asof(job, train, validation)
        rows = gap_rows(train)
        if validation is not None:
            held_out = _observed(gap_rows(validation))
            description: dict[str, Any] = {
                "holdout": "validation channel",
                "target": job.gap_target,
            }
            return PreparedData(rows, held_out, held_out, description=description)
        split = temporal_holdout(rows, job.protocol, job.cutoff, job.horizon_days)
        description = {
            "target": job.gap_target,
            "holdout": "temporal",
            "protocol": split.protocol,
            "cutoff": None if split.cutoff is None else str(split.cutoff.date()),
            "horizon_days": split.horizon_days,
        }
        logger.info(
            "temporal holdout %s at %s: %d train rows, %d test rows",
            split.protocol,
            description["cutoff"],
            len(split.train),
            len(split.test),
        )
        test = _observed(split.test)
        return PreparedData(split.train, test, test, description=description)

    def _prepare_asof(
        self, job: JobConfig, train: ChannelData, validation: ChannelData | None
    ) -> PreparedData:
        """``target=asof``: snapshots of the channels, or the as-of protocol's split."""
        description: dict[str, Any] = {"target": "asof", "horizon_days": job.horizon_days}
        if validation is not None:
            held_out = asof_rows(validation, job)
            description["holdout"] = "validation channel"
            return PreparedData(asof_rows(train, job), held_out, held_out, description=description)
        if not train.raw:
            raise DataError(
                "target=asof without a validation channel needs raw transactions in 'train' "
                "(the as-of holdout is cut from the lines); give a validation channel instead"
            )
        clean = clean_transactions(load_transactions(train.path))
        split = split_asof(
            clean, job.cutoff, job.horizon_days, job.snapshot_every_days, job.snapshot_count
        )
        description.update(
            holdout="temporal",
            protocol="asof",
            cutoff=None if split.cutoff is None else str(split.cutoff.date()),
            snapshots=int(split.train[AS_OF_DATE].nunique()),
        )
        logger.info(
            "as-of holdout at %s: %d snapshot rows (%d dates), %d customers scored",
            description["cutoff"],
            len(split.train),
            description["snapshots"],
            len(split.test),
        )
        refit = None
        if job.refit_full:
            refit = refit_asof_rows(
                clean, job.horizon_days, job.snapshot_every_days, job.snapshot_count
            )
            description["refit"] = snapshot_window(refit)
        data = PreparedData(
            split.train, split.test, split.test, description=description, refit_train=refit
        )
        self._gaps = split.gaps
        return data

    def evaluate(
        self, model: ModelFamily, data: PreparedData, output_dir: Path, manifest: dict[str, Any]
    ) -> Evaluation:
        """Score the evaluation rows against the target and the naive baselines.

        Args:
            model: the fitted family.
            data: what :meth:`prepare` returned.
            output_dir: where the plots go.
            manifest: the manifest ``save_model`` wrote (learned threshold, feature spec).

        Returns:
            ``validation:{mae,rmse,medae}`` plus ``baseline:<name>:<metric>`` for each baseline.
        """
        y_true = data.evaluation[TARGET].to_numpy(dtype=np.float64)
        predicted = model.predict(data.evaluation)
        y_pred = predicted[PREDICTION].to_numpy(dtype=np.float64)
        asof = data.description.get("target") == "asof"
        if asof:
            y_pred = np.minimum(y_pred, float(data.description["horizon_days"]))
        metrics = {f"validation:{k}": float(v) for k, v in gap_metrics(y_true, y_pred).items()}
        if asof:
            metrics.update(self._asof_metrics(data, predicted))
            baselines = self._asof_baselines(data)
        else:
            baselines = gap_baselines(_observed(data.train), data.evaluation)
        for name, values in baselines.items():
            short = BASELINE_NAMES.get(name, name)
            metrics.update({f"baseline:{short}:{k}": float(v) for k, v in values.items()})
        plots = write_gap_plots(
            y_true,
            y_pred,
            output_dir,
            model=str(manifest.get("family", "")),
            protocol=describe_protocol(data.description),
        )
        report = {
            **data.description,
            "baselines": {BASELINE_NAMES.get(k, k): v for k, v in baselines.items()},
            "train_rows": len(data.train),
            "evaluation_rows": len(data.evaluation),
            "plots": sorted(p.name for p in plots),
        }
        return Evaluation(metrics=metrics, report=report)

    def _asof_metrics(self, data: PreparedData, predicted: pd.DataFrame) -> dict[str, float]:
        """Probability quality and the share of next-purchase dates before the as-of date."""
        rows = data.evaluation
        out: dict[str, float] = {}
        if PURCHASED in rows.columns and PROBABILITY in predicted.columns:
            labels = rows[PURCHASED].to_numpy(dtype=np.float64)
            probability = predicted[PROBABILITY].to_numpy(dtype=np.float64)
            out.update(
                {f"validation:{k}": v for k, v in probability_metrics(labels, probability).items()}
            )
        if AS_OF_DATE in rows.columns:
            days = np.round(predicted[PREDICTION].to_numpy(dtype=np.float64))
            as_of = pd.to_datetime(rows[AS_OF_DATE]).reset_index(drop=True)
            dates = as_of + pd.to_timedelta(days, unit="D")
            out["validation:past_date_share"] = past_date_share(as_of, dates)
        return out

    def _asof_baselines(self, data: PreparedData) -> dict[str, dict[str, float]]:
        """The as-of baselines; the gap pool is the training side's lag gaps without a split."""
        gaps = getattr(self, "_gaps", None)
        if gaps is None:
            lags = data.train[[c for c in data.train.columns if c.startswith("gap_lag_")]]
            values = lags.to_numpy(dtype=np.float64, na_value=np.nan).ravel()
            gaps = values[~np.isnan(values)]
        horizon = int(data.description["horizon_days"])
        return asof_baselines(data.train, data.evaluation, gaps, horizon)
