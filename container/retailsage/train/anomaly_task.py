"""The anomaly task (``pca_kmeans``): transaction lines or a numeric table in, anomaly metrics out.

The detector is unsupervised. It is fitted on the ``train`` channel and evaluated on the
``validation`` channel when there is one, else on the training rows. The anomaly rate and the
learned threshold are always reported; ROC AUC and average precision are added when the data
carries the synthetic generator's ``injected_anomaly`` label (which is never a model input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retailsage.core.errors import DataError
from retailsage.data.cleaning import prepare_anomaly_lines
from retailsage.data.loader import load_transactions
from retailsage.data.sources import LABEL_COLUMN
from retailsage.evaluation.metrics import anomaly_metrics
from retailsage.evaluation.plots import describe_protocol, write_anomaly_plots
from retailsage.models.base import ModelFamily
from retailsage.train.channels import ChannelData, read_table
from retailsage.train.config import JobConfig
from retailsage.train.tasks import Evaluation, PreparedData

RANKING_METRICS = ("roc_auc", "average_precision")


def anomaly_rows(channel: ChannelData) -> tuple[pd.DataFrame, pd.Series | None]:
    """Return one channel's model inputs and, when present, its anomaly labels.

    Args:
        channel: the inspected channel.

    Returns:
        ``(rows, labels)``: transaction lines (or the numeric table) without the label column,
        and the label as 0/1 integers or ``None``.

    Raises:
        DataError: unreadable files, missing columns or a non-numeric table.
    """
    if channel.raw:
        rows = prepare_anomaly_lines(load_transactions(channel.path))
    else:
        rows = read_table(channel)
    if LABEL_COLUMN not in rows.columns:
        return rows, None
    labels = rows[LABEL_COLUMN]
    if labels.isna().any():
        raise DataError(f"channel {channel.name!r}: column {LABEL_COLUMN!r} has missing values")
    return rows.drop(columns=[LABEL_COLUMN]), labels.astype(bool).astype(np.int64)


class AnomalyTask:
    """Preparation and evaluation for the PCA + KMeans anomaly detector."""

    def prepare(
        self, job: JobConfig, train: ChannelData, validation: ChannelData | None
    ) -> PreparedData:
        """Read the channels; the evaluation rows are ``validation``, else ``train``.

        Args:
            job: the job config (unused by this task: there is no temporal holdout).
            train: the ``train`` channel.
            validation: the ``validation`` channel, if the job has one.

        Returns:
            The fit rows, the evaluation rows and their labels.

        Raises:
            DataError: bad data.
        """
        rows, labels = anomaly_rows(train)
        if validation is None:
            return PreparedData(
                rows, None, rows, labels, description={"evaluated_on": "train channel"}
            )
        held_out, held_labels = anomaly_rows(validation)
        return PreparedData(
            rows, held_out, held_out, held_labels, description={"evaluated_on": "validation"}
        )

    def evaluate(
        self, model: ModelFamily, data: PreparedData, output_dir: Path, manifest: dict[str, Any]
    ) -> Evaluation:
        """Score the evaluation rows; add ranking metrics when labels are known.

        Args:
            model: the fitted detector.
            data: what :meth:`prepare` returned.
            output_dir: where the plots go.
            manifest: the manifest ``save_model`` wrote (learned threshold, feature spec).

        Returns:
            ``validation:anomaly_rate``, ``train:anomaly_rate``, ``train:anomaly_threshold``
            and, with labels, ``validation:roc_auc`` and ``validation:average_precision``.
        """
        scored = model.predict(data.evaluation)
        threshold = float(manifest["threshold"])
        metrics = {
            "validation:anomaly_rate": float(scored["is_anomaly"].mean()),
            "train:anomaly_threshold": threshold,
        }
        if data.evaluation is not data.train:
            metrics["train:anomaly_rate"] = float(model.predict(data.train)["is_anomaly"].mean())
        else:
            metrics["train:anomaly_rate"] = metrics["validation:anomaly_rate"]
        scores = scored["anomaly_score"].to_numpy(dtype=np.float64)
        labels = None if data.labels is None else data.labels.to_numpy()
        counts: dict[str, int] = {}
        if labels is not None and 0 < labels.sum() < len(labels):
            ranking = anomaly_metrics(labels, scores)
            metrics.update({f"validation:{k}": float(ranking[k]) for k in RANKING_METRICS})
            counts = {k: int(ranking[k]) for k in ("positives", "negatives")}
        plots = write_anomaly_plots(
            scores,
            threshold,
            output_dir,
            labels=labels,
            model=str(manifest.get("family", "pca_kmeans")),
            protocol=describe_protocol(data.description),
        )
        report = {
            **data.description,
            "train_rows": len(data.train),
            "evaluation_rows": len(data.evaluation),
            "labelled": labels is not None,
            "labels": counts,
            "plots": sorted(p.name for p in plots),
        }
        return Evaluation(metrics=metrics, report=report)
