"""Pieces both gap families share: output columns, target handling, training-row filtering."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from retailsage.core.errors import DataError
from retailsage.features.asof import PURCHASED
from retailsage.features.gap import AS_OF_DATE, ORDER_DATE, TARGET
from retailsage.models.outlier_filter import inlier_mask
from retailsage.models.tabular import TabularSpec, numeric_column

GAP_OUTPUT_COLUMNS: tuple[str, ...] = ("predicted_gap_days", "purchase_probability")
"""Days until the next purchase (from the as-of date, or from the order for
``target=order_gap``) and P(purchase within the horizon)."""
DEFAULT_HORIZON_DAYS = 60
"""Horizon of the probability label when training rows do not carry
``purchased_within_horizon`` (a featurized table): purchase = ``gap_days`` < this."""


class OutlierFilterConfig(Protocol):
    """The config fields the outlier filter reads."""

    @property
    def outlier_filter(self) -> bool:
        """Whether to drop outlier customers before training."""
        ...

    @property
    def outlier_contamination(self) -> float:
        """Expected outlier fraction of customers."""
        ...

    @property
    def seed(self) -> int:
        """Random seed."""
        ...


def observed_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the rows whose target is observed (a customer's last order has none).

    Args:
        frame: gap rows carrying ``gap_days``.

    Returns:
        The rows with a non-missing target.

    Raises:
        DataError: the target column is missing, no row has an observed target, or a numeric
            column holds an infinite value (XGBoost and the LSTM's scaler reject those).
    """
    if TARGET not in frame.columns:
        raise DataError(f"rows have no target column {TARGET!r}")
    reject_infinite(frame)
    target = numeric_column(frame[TARGET], TARGET)
    rows = frame.loc[~np.isnan(target)]
    if rows.empty:
        raise DataError(f"no row has an observed {TARGET!r} target")
    return rows


def reject_infinite(frame: pd.DataFrame) -> None:
    """Raise a DataError naming the first numeric column of ``frame`` holding +-inf.

    Args:
        frame: training or validation rows.

    Raises:
        DataError: naming the column, the row position and the value.
    """
    for name in frame.columns:
        values = frame[name]
        if values.dtype.kind != "f":
            continue
        infinite = np.isinf(values.to_numpy())
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise DataError(
                f"column {name!r} holds {float(values.iloc[row])} at row {row}; training rows need "
                "finite numbers (leave a value empty when it is unknown)"
            )


def filtered_training_rows(
    train: pd.DataFrame, spec: TabularSpec, config: OutlierFilterConfig
) -> pd.DataFrame:
    """Keep rows with an observed target, then apply the optional outlier-customer filter.

    Args:
        train: training rows carrying ``gap_days`` (NaN for a customer's last order).
        spec: the learned input spec.
        config: the family config (``outlier_filter``, ``outlier_contamination``, ``seed``).

    Returns:
        The rows to fit on.

    Raises:
        DataError: no row has an observed target.
    """
    rows = observed_rows(train)
    if config.outlier_filter:
        keep = inlier_mask(
            rows, spec, TARGET, contamination=config.outlier_contamination, seed=config.seed
        )
        rows = rows.loc[keep]
    return rows


def drift_inputs(
    train: pd.DataFrame, spec: TabularSpec, config: OutlierFilterConfig
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The rows a gap model was fitted on and the inputs it ignores, for the drift reference.

    Args:
        train: the ``train`` frame ``fit`` received (as-of snapshot rows, or order rows).
        spec: the fitted input spec.
        config: the family config (the same target/outlier filter as ``fit``).

    Returns:
        The fitted rows (:func:`filtered_training_rows`) and ``spec.excluded``.
    """
    return filtered_training_rows(train, spec, config), tuple(spec.excluded)


def target_array(frame: pd.DataFrame, *, log_target: bool) -> np.ndarray:
    """Return the target as float32-safe float64, ``log1p``-transformed when asked.

    Args:
        frame: rows carrying ``gap_days``.
        log_target: apply ``log1p``.

    Returns:
        The (transformed) target.

    Raises:
        DataError: the target is missing, NaN or negative.
    """
    if TARGET not in frame.columns:
        raise DataError(f"rows have no target column {TARGET!r}")
    y = numeric_column(frame[TARGET], TARGET)
    if np.isnan(y).any() or (y < 0).any():
        raise DataError(f"target {TARGET!r} must be observed and >= 0 in every fitted row")
    return np.log1p(y) if log_target else y


def purchase_labels(frame: pd.DataFrame) -> np.ndarray:
    """The 0/1 purchase-within-horizon label of fitted rows.

    Args:
        frame: rows with an observed ``gap_days``; ``purchased_within_horizon`` when built by
            the training task (else ``gap_days < DEFAULT_HORIZON_DAYS``).

    Returns:
        float64 labels.
    """
    if PURCHASED in frame.columns:
        return numeric_column(frame[PURCHASED], PURCHASED)
    days = numeric_column(frame[TARGET], TARGET)
    return (days < DEFAULT_HORIZON_DAYS).astype(np.float64)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Return the MAE and RMSE reported per round/epoch (``validation:mae``/``:rmse``)."""
    error = y_pred - y_true
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error * error))),
    }


def recency_weights(
    rows: pd.DataFrame, halflife_days: float, reference: pd.Timestamp | None = None
) -> np.ndarray | None:
    """Sample weights halving every ``halflife_days`` before the newest training row.

    Rows are dated by ``as_of_date`` when they carry one (as-of snapshots), else by
    ``order_date`` (per-order rows).

    Customer behaviour drifts (and one year of history cannot teach seasonality), so recent
    orders are the better guide to the next ones. ``0`` disables weighting.

    Args:
        rows: training rows with ``order_date``.
        halflife_days: the half-life in days, or 0.
        reference: the date ages count back from; the newest order in ``rows`` when ``None``
            (a multi-host job passes the newest order over all hosts).

    Returns:
        Weights in (0, 1], or ``None`` when disabled.

    Raises:
        DataError: weighting is on but the rows have no ``order_date``.
    """
    if halflife_days <= 0:
        return None
    column = AS_OF_DATE if AS_OF_DATE in rows.columns else ORDER_DATE
    if column not in rows.columns:
        raise DataError(f"recency_halflife_days needs the {ORDER_DATE!r} column in the rows")
    dates = pd.to_datetime(rows[column])
    newest = dates.max() if reference is None else reference
    age = (newest - dates).dt.total_seconds().to_numpy(dtype=np.float64) / 86_400.0
    return np.asarray(0.5 ** (age / halflife_days))
