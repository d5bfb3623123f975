"""The gap task (``xgboost``, ``lstm``): gap rows in, days-to-next-purchase metrics out.

Raw transactions are cleaned and featurized with the shared feature code
(:func:`~retailsage.features.gap.gap_training_rows`); a featurized table must carry every gap
feature column and the target. Without a ``validation`` channel a temporal holdout is cut from
``train`` by ``eval_protocol``/``eval_cutoff``/``horizon_days``; the model is then fitted on the
holdout's training side only, so the reported metrics are honest out-of-time figures.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.evaluation.metrics import gap_baselines, gap_metrics
from retailsage.evaluation.plots import describe_protocol, write_gap_plots
from retailsage.features.gap import (
    GAP_FEATURE_COLUMNS,
    NEXT_ORDER_DATE,
    ORDER_DATE,
    TARGET,
    gap_training_rows,
)
from retailsage.features.protocols import temporal_holdout
from retailsage.models.base import ModelFamily
from retailsage.train.channels import ChannelData, read_table, require_columns
from retailsage.train.config import JobConfig
from retailsage.train.tasks import Evaluation, PreparedData

logger = logging.getLogger(__name__)

PREDICTION = "predicted_gap_days"
BASELINE_NAMES = {"global_median": "median", "customer_mean_gap": "customer_mean"}
"""Baseline names of ``evaluation.metrics.gap_baselines`` -> their metric-name segment."""
_DATE_COLUMNS = (ORDER_DATE, NEXT_ORDER_DATE)


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


def _observed(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows whose target is observed (a customer's last order has none)."""
    return rows.loc[rows[TARGET].notna().to_numpy()]


class GapTask:
    """Preparation and evaluation for the days-to-next-purchase regressors."""

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
        rows = gap_rows(train)
        if validation is not None:
            held_out = _observed(gap_rows(validation))
            description: dict[str, Any] = {"holdout": "validation channel"}
            return PreparedData(rows, held_out, held_out, description=description)
        split = temporal_holdout(rows, job.eval_protocol, job.cutoff, job.horizon_days)
        description = {
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
        y_pred = model.predict(data.evaluation)[PREDICTION].to_numpy(dtype=np.float64)
        metrics = {f"validation:{k}": float(v) for k, v in gap_metrics(y_true, y_pred).items()}
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
            "train_rows": len(data.train),
            "evaluation_rows": len(data.evaluation),
            "plots": sorted(p.name for p in plots),
        }
        return Evaluation(metrics=metrics, report=report)
