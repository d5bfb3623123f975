"""Sequence inputs for the LSTM family, built from gap rows or snapshot rows.

Each row is self-contained: its last ``window`` gaps come from the row's own lag columns, so
Batch Transform may split a file anywhere between lines. Sequences run oldest -> newest and are
left-padded: the final time step is always the most recent gap, padded steps hold 0 and are
False in the mask.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retailsage.core.errors import HyperparameterError
from retailsage.features._frame import require_columns
from retailsage.features.asof import ASOF_FEATURE_COLUMNS
from retailsage.features.gap import LAG_COLUMNS, N_LAGS

STEP_FEATURES: tuple[str, ...] = ("log1p_gap_days", "gap_months")
"""Per-step inputs: log1p(gap in days) and gap / 30 days (a linear view on a unit scale)."""

_DAYS_PER_STEP_UNIT = 30.0

_LOG_COVARIATES: tuple[str, ...] = (
    "order_index",
    "days_since_first_order",
    "mean_gap",
    "gap_roll3_mean",
    "gap_roll3_std",
    "gap_roll5_mean",
    "gap_roll5_std",
    "order_value",
    "order_items",
    "order_lines",
    "cumulative_spend",
    "cumulative_items",
)
_CALENDAR_COVARIATES: dict[str, float] = {"month": 12.0, "day_of_week": 6.0}
_ASOF_COVARIATES: tuple[str, ...] = ASOF_FEATURE_COLUMNS
"""As-of snapshot features (all non-negative counts, days, money or ratios): log1p-scaled."""


def covariate_columns(asof: bool = False) -> tuple[str, ...]:
    """Name the per-row (non-sequence) covariates the LSTM receives, in array order.

    Args:
        asof: the rows are as-of snapshots; their as-of features are appended.

    Returns:
        Gap feature columns other than the lags, ``last_gap`` (it is the newest step) and
        ``Country`` (string; the family encodes it separately), then the as-of features.
    """
    extra = _ASOF_COVARIATES if asof else ()
    return _LOG_COVARIATES + tuple(_CALENDAR_COVARIATES) + extra


def sequence_arrays(frame: pd.DataFrame, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn each row's last ``window`` gaps into a padded, masked sequence.

    Args:
        frame: gap training rows or snapshot rows (needs ``gap_lag_1..gap_lag_window``).
        window: number of time steps, 1..``N_LAGS``.

    Returns:
        ``(values, mask)``: ``values`` float32 ``[n, window, len(STEP_FEATURES)]`` ordered
        oldest -> newest with 0 in padded steps (a negative gap, impossible in built rows, is
        clipped to 0); ``mask`` bool ``[n, window]``, True where a gap is present.

    Raises:
        HyperparameterError: ``window`` is outside 1..``N_LAGS``.
        DataError: a needed lag column is missing.
    """
    if not 1 <= window <= N_LAGS:
        raise HyperparameterError(f"sequence window must be in 1..{N_LAGS}, got {window}")
    columns = LAG_COLUMNS[:window][::-1]
    require_columns(frame, columns, "gap feature")
    gaps = frame[list(columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    mask = ~np.isnan(gaps)
    filled = np.where(mask, np.maximum(gaps, 0.0), 0.0)
    values = np.stack([np.log1p(filled), filled / _DAYS_PER_STEP_UNIT], axis=-1)
    return values.astype(np.float32), mask


def covariate_array(frame: pd.DataFrame, asof: bool = False) -> np.ndarray:
    """Scale the covariates to comparable ranges for a neural network.

    Counts, days and money are ``log1p``-scaled (negatives clipped to 0), month and day of week
    are divided by their maxima; missing values (e.g. gap statistics of a first order) become 0.

    Args:
        frame: gap training rows or snapshot rows.
        asof: append the as-of features (``log1p``-scaled).

    Returns:
        float32 ``[n, len(covariate_columns(asof))]`` in :func:`covariate_columns` order.

    Raises:
        DataError: a covariate column is missing.
    """
    require_columns(frame, covariate_columns(asof), "gap feature")
    logged = frame[list(_LOG_COVARIATES)].to_numpy(dtype=np.float64, na_value=np.nan)
    logged = np.log1p(np.clip(logged, 0.0, None))
    calendar = frame[list(_CALENDAR_COVARIATES)].to_numpy(dtype=np.float64, na_value=np.nan)
    calendar = calendar / np.array(list(_CALENDAR_COVARIATES.values()))
    blocks = [logged, calendar]
    if asof:
        extra = frame[list(_ASOF_COVARIATES)].to_numpy(dtype=np.float64, na_value=np.nan)
        blocks.append(np.log1p(np.clip(extra, 0.0, None)))
    covariates = np.concatenate(blocks, axis=1)
    return np.nan_to_num(covariates, nan=0.0).astype(np.float32)
