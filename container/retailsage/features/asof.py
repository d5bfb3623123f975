"""As-of customer snapshots: "as of day D, how many days until this customer buys next?".

A snapshot row describes one customer as of a day ``D`` from the history strictly before ``D``:
the per-order features of the customer's last order before ``D`` (``features.gap``) plus the
as-of features below, which depend on ``D`` itself. The as-of target is the number of days from
``D`` to the customer's first order on/after ``D`` (``0`` = buys on ``D``), capped at the horizon
``H``; a customer with no order in ``[D, D + H)`` gets ``H`` (censored = cap) and the label
``purchased_within_horizon`` = 0.

Everything here is a pure function over a transactions (or orders) frame, vectorised over
customers with ``searchsorted`` on a (customer, day) key; a customer's rows depend on that
customer's orders only, so the work shards by customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retailsage.core.errors import DataError, HyperparameterError
from retailsage.features._frame import require_columns, to_day
from retailsage.features.gap import (
    AS_OF_DATE,
    CUSTOMER_ID,
    GAP_FEATURE_COLUMNS,
    LAG_COLUMNS,
    ORDER_COLUMNS,
    ORDER_DATE,
    TARGET,
    build_orders,
    order_features,
)

RECENCY = "days_since_last_order"
PURCHASED = "purchased_within_horizon"
"""Bookkeeping label of as-of training rows: 1 when the customer bought within ``[D, D + H)``."""

ASOF_FEATURE_COLUMNS: tuple[str, ...] = (
    RECENCY,
    "recency_over_mean_gap",
    "orders_last_30d",
    "orders_last_90d",
    "spend_last_90d",
    "residual_life",
)
"""Features that depend on the as-of day (definitions in docs/features.md)."""

SNAPSHOT_FEATURE_COLUMNS: tuple[str, ...] = GAP_FEATURE_COLUMNS + ASOF_FEATURE_COLUMNS
"""The inputs of an as-of model, in the CSV column order snapshot rows carry them."""

DEFAULT_SNAPSHOT_EVERY_DAYS = 7
DEFAULT_SNAPSHOT_COUNT = 30
MIN_HISTORY_DAYS = 30
"""The earliest training snapshot lies this many days after the first order in the data."""

_WINDOWS = (30, 90)


def asof_snapshots(features: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Build one snapshot row per customer with an order strictly before ``as_of``.

    Args:
        features: :func:`~retailsage.features.gap.order_features` output (sorted by customer
            then day), e.g. of all orders; orders on/after ``as_of`` are only used to find the
            next order day.
        as_of: the snapshot day ``D`` (midnight).

    Returns:
        Columns ``CustomerID, as_of_date, order_date, *SNAPSHOT_FEATURE_COLUMNS,
        next_purchase_days`` sorted by customer; ``next_purchase_days`` is the number of days
        from ``D`` to the first order on/after ``D`` (NaN when the frame holds none).

    Raises:
        DataError: a required column is missing.
    """
    require_columns(features, (CUSTOMER_ID, ORDER_DATE, *GAP_FEATURE_COLUMNS), "order features")
    if features.empty:
        empty = features.loc[:, [CUSTOMER_ID, ORDER_DATE, *GAP_FEATURE_COLUMNS]].copy()
        empty.insert(1, AS_OF_DATE, np.array([], dtype="datetime64[ns]"))
        return empty.assign(
            **{
                name: np.array([], dtype=np.float64)
                for name in (*ASOF_FEATURE_COLUMNS, "next_purchase_days")
            }
        )
    day = np.int64(to_day(as_of).to_datetime64().astype("datetime64[D]").astype(np.int64))
    customer_codes = pd.factorize(features[CUSTOMER_ID])[0].astype(np.int64)
    days = features[ORDER_DATE].to_numpy().astype("datetime64[D]").astype(np.int64)
    span = np.int64(max(int(days.max() - days.min()) if len(days) else 0, 0) + 400)
    base = days.min() - 200 if len(days) else np.int64(0)
    keys = customer_codes * span + (days - base)
    n_customers = int(customer_codes.max()) + 1 if len(days) else 0
    codes = np.arange(n_customers, dtype=np.int64)
    relative = np.clip(day - base, 0, span - 1)
    start = np.searchsorted(keys, codes * span)
    stop = np.searchsorted(keys, codes * span + relative)  # first order on/after D
    has_history = stop > start
    customers = codes[has_history]
    start, stop = start[has_history], stop[has_history]
    last = stop - 1
    end = np.searchsorted(keys, customers * span + span)
    next_days = np.where(stop < end, days[np.minimum(stop, len(days) - 1)] - day, np.nan)
    rows = features.iloc[last]
    recency = (day - days[last]).astype(np.float64)
    mean_gap = rows["mean_gap"].to_numpy(dtype=np.float64, na_value=np.nan)
    spend = _window_spend(features, keys, customers, span, relative - 90, stop)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(mean_gap > 0, recency / mean_gap, np.nan)
    asof_columns = {
        RECENCY: recency,
        "recency_over_mean_gap": ratio,
        **{
            f"orders_last_{w}d": (
                stop - np.searchsorted(keys, customers * span + np.clip(relative - w, 0, None))
            ).astype(np.float64)
            for w in _WINDOWS
        },
        "spend_last_90d": spend,
        "residual_life": _residual_life(rows, recency),
    }
    out = rows.loc[:, [CUSTOMER_ID, ORDER_DATE, *GAP_FEATURE_COLUMNS]].reset_index(drop=True)
    out.insert(1, AS_OF_DATE, np.full(len(out), np.datetime64(int(day), "D"), "datetime64[ns]"))
    for name in ASOF_FEATURE_COLUMNS:
        out[name] = asof_columns[name]
    out["next_purchase_days"] = next_days
    return out


def snapshot_features(clean: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Snapshot rows of every customer as of ``as_of`` from clean transaction lines.

    Args:
        clean: cleaned transaction lines (see :func:`~retailsage.features.gap.build_orders`).
        as_of: the snapshot day ``D``; only lines before ``D`` are used.

    Returns:
        Columns ``CustomerID, as_of_date, order_date, *SNAPSHOT_FEATURE_COLUMNS``.

    Raises:
        DataError: a required column is missing.
    """
    orders = build_orders(clean)
    history = orders.loc[(orders[ORDER_DATE] < to_day(as_of)).to_numpy()].reset_index(drop=True)
    snapshot = asof_snapshots(order_features(history), as_of)
    return snapshot.drop(columns=["next_purchase_days"])


def asof_target(snapshot: pd.DataFrame, horizon_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Capped days to the next purchase and the purchased-within-horizon label.

    Args:
        snapshot: :func:`asof_snapshots` output.
        horizon_days: ``H``.

    Returns:
        ``(target, label)``: ``min(next_purchase_days, H)`` with no next purchase = ``H``, and
        1.0 where the next purchase falls in ``[D, D + H)``, else 0.0.
    """
    days = snapshot["next_purchase_days"].to_numpy(dtype=np.float64, na_value=np.nan)
    target = np.minimum(np.nan_to_num(days, nan=np.inf), float(horizon_days))
    return target, (target < horizon_days).astype(np.float64)


def asof_training_rows(
    clean: pd.DataFrame,
    as_of_dates: list[pd.Timestamp],
    horizon_days: int,
) -> pd.DataFrame:
    """Stack labelled snapshots of every customer at each of ``as_of_dates``.

    The caller chooses dates whose horizon lies inside the data (``D + H`` <= the day after
    the last line), so every target is observed.

    Args:
        clean: cleaned transaction lines; lines at or after a date only give its target.
        as_of_dates: snapshot days.
        horizon_days: ``H``.

    Returns:
        Columns ``CustomerID, as_of_date, order_date, *SNAPSHOT_FEATURE_COLUMNS, gap_days,
        purchased_within_horizon``; ``gap_days`` holds the capped as-of target.

    Raises:
        DataError: a required column is missing or no date has any customer history.
    """
    return asof_rows_from_orders(build_orders(clean), as_of_dates, horizon_days)


def asof_rows_from_orders(
    orders: pd.DataFrame, as_of_dates: list[pd.Timestamp], horizon_days: int
) -> pd.DataFrame:
    """:func:`asof_training_rows` from :func:`~retailsage.features.gap.build_orders` output.

    Args:
        orders: one row per (customer, day), sorted by customer then day.
        as_of_dates: snapshot days.
        horizon_days: ``H``.

    Returns:
        As :func:`asof_training_rows`.

    Raises:
        DataError: a required column is missing or no date has any customer history.
    """
    require_columns(orders, ORDER_COLUMNS, "orders")
    features = order_features(orders)
    frames = []
    for as_of in as_of_dates:  # a handful of dates, each vectorised over customers
        snapshot = asof_snapshots(features, as_of)
        target, label = asof_target(snapshot, horizon_days)
        frames.append(
            snapshot.drop(columns=["next_purchase_days"]).assign(
                **{TARGET: target, PURCHASED: label}
            )
        )
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if rows.empty:
        raise DataError(
            "no customer has any order before the as-of snapshot dates; "
            "the training window is too short for the horizon"
        )
    return rows


def snapshot_dates(
    first: pd.Timestamp,
    last_as_of: pd.Timestamp,
    every_days: int = DEFAULT_SNAPSHOT_EVERY_DAYS,
    count: int = DEFAULT_SNAPSHOT_COUNT,
) -> list[pd.Timestamp]:
    """Training snapshot days: ``last_as_of``, then every ``every_days`` back, oldest first.

    Args:
        first: the first order day of the data.
        last_as_of: the newest snapshot day (e.g. cutoff - H, so its horizon is observed).
        every_days: spacing in days (>= 1).
        count: maximum number of days (>= 1).

    Returns:
        Up to ``count`` days, none earlier than ``first + MIN_HISTORY_DAYS``.

    Raises:
        HyperparameterError: ``every_days`` or ``count`` is below 1.
        DataError: not even ``last_as_of`` leaves ``MIN_HISTORY_DAYS`` of history.
    """
    if every_days < 1 or count < 1:
        raise HyperparameterError(
            f"snapshot spacing and count must be >= 1, got {every_days} and {count}"
        )
    earliest = to_day(first) + pd.Timedelta(days=MIN_HISTORY_DAYS)
    newest = to_day(last_as_of)
    days = [newest - pd.Timedelta(days=every_days * k) for k in range(count)]
    kept = sorted(day for day in days if day >= earliest)
    if not kept:
        raise DataError(
            f"the newest training snapshot {newest.date()} leaves less than {MIN_HISTORY_DAYS} "
            f"days of history after {to_day(first).date()}; choose a later cutoff or a shorter "
            "horizon"
        )
    return kept


def _window_spend(
    features: pd.DataFrame,
    keys: np.ndarray,
    customers: np.ndarray,
    span: np.int64,
    window_start: np.ndarray | np.int64,
    stop: np.ndarray,
) -> np.ndarray:
    """Sum of order values in ``[D - 90, D)`` per customer (running sums within customers)."""
    cumulative = features["cumulative_spend"].to_numpy(dtype=np.float64, na_value=np.nan)
    begin = np.searchsorted(keys, customers * span + np.clip(window_start, 0, None))
    before = np.where(begin > 0, cumulative[np.maximum(begin - 1, 0)], 0.0)
    same_customer = begin > np.searchsorted(keys, customers * span)
    before = np.where(same_customer, before, 0.0)
    return np.asarray(cumulative[stop - 1] - before)


def _residual_life(rows: pd.DataFrame, elapsed: np.ndarray) -> np.ndarray:
    """Median of ``g - e`` over the customer's last gaps ``g`` longer than ``e`` (NaN if none)."""
    gaps = rows[list(LAG_COLUMNS)].to_numpy(dtype=np.float64, na_value=np.nan)
    left = np.where(gaps > elapsed[:, None], gaps - elapsed[:, None], np.nan)
    out = np.full(len(left), np.nan)
    known = ~np.isnan(left).all(axis=1)
    if known.any():
        out[known] = np.nanmedian(left[known], axis=1)
    return out
