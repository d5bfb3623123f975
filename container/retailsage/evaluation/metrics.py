"""Evaluation metrics for both tasks, and the gap baselines every model is compared with.

Used by the ``retailsage evaluate`` command and by the training runner (validation metrics and
baselines computed in the same run as the model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from retailsage.core.errors import DataError
from retailsage.features.gap import AS_OF_DATE, TARGET

RECENCY_COLUMN = "days_since_last_order"
"""As-of feature: days from the customer's last order to the as-of date."""

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


def asof_baselines(
    train_rows: pd.DataFrame, test_rows: pd.DataFrame, gaps: np.ndarray, horizon_days: int
) -> dict[str, dict[str, float]]:
    """Score the as-of reference predictors on the snapshot as of ``D`` (all capped at ``H``).

    * ``constant``: the median as-of target of the newest training snapshot (``D - H``).
    * ``median_gap``: the global median order-to-order gap ``m`` counted from the customer's
      last order: ``max(m - e, 0)`` with ``e`` the days since the last order.
    * ``residual_life``: the empirical residual life, the median of ``g - e`` over the past
      gaps ``g > e`` of all customers (``H`` when no gap is that long).

    Args:
        train_rows: as-of training rows (``as_of_date``, ``gap_days``).
        test_rows: the snapshot as of ``D`` with ``gap_days`` and ``days_since_last_order``.
        gaps: every observed gap before ``D`` in days.
        horizon_days: ``H``.

    Returns:
        Baseline name -> :func:`gap_metrics` output.

    Raises:
        DataError: a needed column is missing, or there are no training rows or gaps.
    """
    for name, frame, column in (
        ("train", train_rows, AS_OF_DATE),
        ("train", train_rows, TARGET),
        ("test", test_rows, TARGET),
        ("test", test_rows, RECENCY_COLUMN),
    ):
        if column not in frame.columns:
            raise DataError(f"{name} rows have no {column!r} column")
    observed = np.sort(np.asarray(gaps, dtype=np.float64))
    if train_rows.empty or observed.size == 0:
        raise DataError("as-of baselines need training rows and at least one observed gap")
    newest = train_rows[AS_OF_DATE] == train_rows[AS_OF_DATE].max()
    constant = float(np.median(train_rows.loc[newest.to_numpy(), TARGET].to_numpy(np.float64)))
    cap = float(horizon_days)
    y = test_rows[TARGET].to_numpy(dtype=np.float64, na_value=np.nan)
    elapsed = test_rows[RECENCY_COLUMN].to_numpy(dtype=np.float64, na_value=np.nan)
    median_gap = np.clip(float(np.median(observed)) - elapsed, 0.0, cap)
    return {
        "constant": gap_metrics(y, np.full_like(y, min(constant, cap))),
        "median_gap": gap_metrics(y, median_gap),
        "residual_life": gap_metrics(y, np.minimum(residual_life(observed, elapsed, cap), cap)),
    }


def residual_life(sorted_gaps: np.ndarray, elapsed: np.ndarray, default: float) -> np.ndarray:
    """Median of ``g - e`` over the gaps ``g > e``, for each elapsed time ``e``.

    Args:
        sorted_gaps: the pooled gaps, ascending.
        elapsed: days since the last order, one per customer.
        default: the value where no gap exceeds ``e``.

    Returns:
        One residual life per ``elapsed`` value.
    """
    n = sorted_gaps.size
    first = np.searchsorted(sorted_gaps, elapsed, side="right")
    count = n - first
    low = np.minimum(first + (count - 1) // 2, n - 1)
    high = np.minimum(first + count // 2, n - 1)
    median = (sorted_gaps[low] + sorted_gaps[high]) / 2.0 - elapsed
    return np.where(count > 0, median, default)


def probability_metrics(labels: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Brier score and ROC-AUC of ``purchase_probability`` against the 0/1 outcome.

    Args:
        labels: 1 when the customer bought within the horizon.
        probability: the predicted probability, same length.

    Returns:
        ``{"brier": ..., "roc_auc": ...}`` (``roc_auc`` is NaN when one class is absent).
    """
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    both = 0 < y.sum() < y.size
    return {
        "brier": float(brier_score_loss(y, p)),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
    }


def past_date_share(as_of: pd.Series, next_purchase: pd.Series) -> float:
    """Share of predicted next-purchase dates that fall before their as-of date.

    Args:
        as_of: the rows' as-of dates.
        next_purchase: the predicted dates (ISO strings or timestamps).

    Returns:
        A fraction in [0, 1] (0 for no rows).
    """
    if len(as_of) == 0:
        return 0.0
    before = pd.to_datetime(next_purchase).to_numpy() < pd.to_datetime(as_of).to_numpy()
    return float(np.mean(before))


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
