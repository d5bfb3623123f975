"""Evaluation metrics for both tasks, and the gap baselines every model is compared with.

Used by the ``retailsage evaluate`` command and by the training runner (validation metrics and
baselines computed in the same run as the model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from retailsage.core.errors import DataError
from retailsage.features.gap import TARGET

MEAN_GAP_COLUMN = "mean_gap"
"""Gap feature holding the customer's mean gap up to and including the order."""


def gap_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Return MAE, RMSE and median absolute error of day predictions.

    Args:
        y_true: observed days to the next order.
        y_pred: predicted days, same length.

    Returns:
        ``{"mae": ..., "rmse": ..., "medae": ...}``.

    Raises:
        DataError: lengths differ, the input is empty, or it holds NaN.
    """
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    if true.shape != pred.shape or true.size == 0:
        raise DataError(f"cannot score {pred.shape} predictions against {true.shape} targets")
    if np.isnan(true).any() or np.isnan(pred).any():
        raise DataError("targets and predictions must not contain NaN")
    error = np.abs(pred - true)
    return {
        "mae": float(error.mean()),
        "rmse": float(np.sqrt(np.mean(error * error))),
        "medae": float(np.median(error)),
    }


def gap_baselines(train_rows: pd.DataFrame, test_rows: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Score the two reference predictors on ``test_rows``.

    * ``global_median``: the median training target, for every row.
    * ``customer_mean_gap``: the customer's mean past gap (the ``mean_gap`` feature: history up
      to the order only), falling back to the global median for a first order.

    Args:
        train_rows: training rows carrying ``gap_days``.
        test_rows: test rows carrying ``gap_days`` and ``mean_gap``.

    Returns:
        Baseline name -> :func:`gap_metrics` output.

    Raises:
        DataError: a needed column is missing or there are no training targets.
    """
    for name, frame, column in (
        ("train", train_rows, TARGET),
        ("test", test_rows, TARGET),
        ("test", test_rows, MEAN_GAP_COLUMN),
    ):
        if column not in frame.columns:
            raise DataError(f"{name} rows have no {column!r} column")
    train_target = train_rows[TARGET].to_numpy(dtype=np.float64, na_value=np.nan)
    train_target = train_target[~np.isnan(train_target)]
    if train_target.size == 0:
        raise DataError("no training row has an observed target")
    median = float(np.median(train_target))
    y = test_rows[TARGET].to_numpy(dtype=np.float64, na_value=np.nan)
    mean_gap = test_rows[MEAN_GAP_COLUMN].to_numpy(dtype=np.float64, na_value=np.nan)
    return {
        "global_median": gap_metrics(y, np.full_like(y, median)),
        "customer_mean_gap": gap_metrics(y, np.where(np.isnan(mean_gap), median, mean_gap)),
    }


def anomaly_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Return ROC-AUC and average precision of anomaly scores against 0/1 labels.

    Args:
        labels: 1 for an anomaly, 0 for a normal line.
        scores: higher means more anomalous.

    Returns:
        ``{"roc_auc", "average_precision", "positives", "negatives"}``.

    Raises:
        DataError: lengths differ or only one class is present.
    """
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise DataError(f"cannot score {s.shape} scores against {y.shape} labels")
    positives = int(y.sum())
    if positives == 0 or positives == y.size:
        raise DataError("anomaly metrics need both normal and anomalous lines")
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "average_precision": float(average_precision_score(y, s)),
        "positives": float(positives),
        "negatives": float(y.size - positives),
    }
