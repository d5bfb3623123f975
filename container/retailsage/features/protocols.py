"""Temporal evaluation protocols for the gap models (as-of, P1 and P2-cap).

**as-of** (the default, ``target=asof``) with cutoff ``D`` and horizon ``H``: train on customer
snapshots at as-of days ``<= D - H`` built from the lines before ``D`` (every such target is
settled before ``D``); test on every customer's snapshot as of ``D``, its truth
``min(days from D to the first purchase on/after D, H)`` read from the lines on/after ``D``.

P1 and P2-cap (``target=order_gap``) split :func:`~retailsage.features.gap.gap_training_rows`
output at a cutoff date ``C`` so that training uses only what was known before ``C``:

* **P1**: train on orders whose next order happened before ``C`` (their target is known at
  ``C``); test on orders on/after ``C`` whose next order is observed in the data.
* **P2-cap** with horizon ``H``: train on orders before ``C - H``; test on orders in
  ``[C, END - H]``; the target is ``min(gap, H)`` in both, and "no next order in the data"
  counts as ``H``. Every such target is observable (nothing is censored): a train order's capped
  target is settled before ``C`` and a test order's before ``END``.

``END`` is the last order date in the rows (2011-12-09 for the real Online Retail file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retailsage.core.errors import DataError, HyperparameterError
from retailsage.features._frame import require_columns, to_day
from retailsage.features.asof import (
    DEFAULT_SNAPSHOT_COUNT,
    DEFAULT_SNAPSHOT_EVERY_DAYS,
    asof_rows_from_orders,
    snapshot_dates,
)
from retailsage.features.gap import (
    NEXT_ORDER_DATE,
    ORDER_DATE,
    TARGET,
    build_orders,
    order_features,
)

PROTOCOLS: tuple[str, ...] = ("p1", "p2cap")
"""Protocols of the per-order target (``target=order_gap``); ``asof`` is :func:`split_asof`."""
DEFAULT_CUTOFF_FRACTION = 0.75
"""Default cutoff: the day at this fraction of the orders' time span."""


@dataclass(frozen=True)
class Split:
    """A train/test split of gap rows.

    Attributes:
        train: training rows (a copy; P2-cap has the capped target in ``target``).
        test: test rows (a copy).
        target: the name of the target column in both frames.
        protocol: ``"p1"`` or ``"p2cap"``.
        cutoff: the cutoff day ``C``.
        horizon_days: ``H`` for P2-cap, ``None`` for P1.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    target: str
    protocol: str = "p1"
    cutoff: pd.Timestamp | None = None
    horizon_days: int | None = None
    gaps: np.ndarray | None = None
    """as-of only: every observed order-to-order gap before ``D`` (for the baselines)."""


def split_asof(
    clean: pd.DataFrame,
    cutoff: str | pd.Timestamp | None,
    horizon_days: int,
    every_days: int = DEFAULT_SNAPSHOT_EVERY_DAYS,
    count: int = DEFAULT_SNAPSHOT_COUNT,
    *,
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    require_rows: bool = True,
) -> Split:
    """Split clean transaction lines by the as-of protocol at ``cutoff``.

    Args:
        clean: cleaned transaction lines.
        cutoff: ``D``; ``None`` takes the day at :data:`DEFAULT_CUTOFF_FRACTION` of the order
            span, moved earlier if needed so that ``D + H`` is at most the day after the data.
        horizon_days: ``H`` (> 0).
        every_days: spacing of the training snapshots.
        count: the most training snapshots.
        span: the first and last order day of the whole data set when ``clean`` holds only
            some customers (a host of a multi-host job); the cutoff and the snapshot dates are
            derived from it, so every host cuts the same dates. ``None``: ``clean``'s own span.
        require_rows: raise when a side is empty (a multi-host job checks the totals instead).

    Returns:
        The split: ``train`` = snapshots at :func:`snapshot_dates` ``(first, D - H)`` from the
        lines before ``D``; ``test`` = the snapshot as of ``D`` with the truth; both carry the
        capped target in ``gap_days`` and the label ``purchased_within_horizon``.

    Raises:
        HyperparameterError: ``horizon_days`` is not positive.
        DataError: no customer orders, or too little history before ``D - H``.
    """
    if int(horizon_days) <= 0:
        raise HyperparameterError(f"horizon_days must be > 0, got {horizon_days}")
    orders = build_orders(clean)
    if orders.empty and require_rows:
        raise DataError("no customer orders to split: the data has no purchases by customers")
    first, last = span if span is not None else (orders[ORDER_DATE].min(), orders[ORDER_DATE].max())
    horizon = pd.Timedelta(days=int(horizon_days))
    if cutoff is None:
        day = min(
            (first + (last - first) * DEFAULT_CUTOFF_FRACTION).normalize(),
            last + pd.Timedelta(days=1) - horizon,
        )
    else:
        day = to_day(cutoff)
    history = orders.loc[(orders[ORDER_DATE] < day).to_numpy()].reset_index(drop=True)
    if history.empty and require_rows:
        raise DataError(f"as-of split at {day.date()}: no customer order before the cutoff")
    oldest = first if span is not None else history[ORDER_DATE].min()
    dates = snapshot_dates(oldest, day - horizon, every_days, count)
    train = _asof_rows(history, dates, int(horizon_days), require_rows)
    test = _asof_rows(orders, [day], int(horizon_days), require_rows)
    gaps = (
        order_features(history)[TARGET].to_numpy(dtype=np.float64, na_value=np.nan)
        if len(history)
        else np.zeros(0)
    )
    if require_rows:
        _require_both(train, test, f"as-of at cutoff {day.date()} with horizon {horizon_days} d")
    return Split(train, test, TARGET, "asof", day, int(horizon_days), gaps[~np.isnan(gaps)])


def refit_snapshot_dates(
    first: pd.Timestamp,
    last: pd.Timestamp,
    horizon_days: int,
    every_days: int = DEFAULT_SNAPSHOT_EVERY_DAYS,
    count: int = DEFAULT_SNAPSHOT_COUNT,
) -> list[pd.Timestamp]:
    """Snapshot days of the final refit on all the data, the newest at ``last + 1 - H``.

    The newest snapshot's horizon ``[last + 1 - H, last]`` lies inside the data, so every
    target is observed; the holdout's training snapshots end ``D - H`` instead.

    Args:
        first: the first order day of the data.
        last: the last order day of the data.
        horizon_days: ``H`` (> 0).
        every_days: spacing of the snapshots.
        count: the most snapshots.

    Returns:
        :func:`~retailsage.features.asof.snapshot_dates` from ``first`` to ``last + 1 - H``.

    Raises:
        DataError: the data is too short for one snapshot with ``H`` days of future.
    """
    newest = to_day(last) + pd.Timedelta(days=1) - pd.Timedelta(days=int(horizon_days))
    return snapshot_dates(first, newest, every_days, count)


def refit_asof_rows(
    clean: pd.DataFrame,
    horizon_days: int,
    every_days: int = DEFAULT_SNAPSHOT_EVERY_DAYS,
    count: int = DEFAULT_SNAPSHOT_COUNT,
    *,
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    require_rows: bool = True,
) -> pd.DataFrame:
    """Training snapshots of the final refit: every line used, the newest at ``last + 1 - H``.

    Args:
        clean: cleaned transaction lines (all of them, not only those before the cutoff).
        horizon_days: ``H`` (> 0).
        every_days: spacing of the snapshots.
        count: the most snapshots.
        span: the first and last order day of the whole data set when ``clean`` holds only
            some customers (a host of a multi-host job); ``None``: ``clean``'s own span.
        require_rows: raise when there are no rows (a multi-host job checks the totals).

    Returns:
        Snapshot rows as :func:`~retailsage.features.asof.asof_rows_from_orders` builds them.

    Raises:
        DataError: no customer orders or too little history (with ``require_rows``).
    """
    orders = build_orders(clean)
    if orders.empty and span is None:
        if require_rows:
            raise DataError("no customer orders to refit on: the data has no purchases")
        return pd.DataFrame()
    first, last = span if span is not None else (orders[ORDER_DATE].min(), orders[ORDER_DATE].max())
    dates = refit_snapshot_dates(first, last, horizon_days, every_days, count)
    return _asof_rows(orders, dates, int(horizon_days), require_rows)


def _asof_rows(
    orders: pd.DataFrame, dates: list[pd.Timestamp], horizon_days: int, require_rows: bool
) -> pd.DataFrame:
    """Snapshot rows of ``orders``; an empty frame instead of an error when rows are optional."""
    try:
        return asof_rows_from_orders(orders, dates, horizon_days)
    except DataError:
        if require_rows:
            raise
        return pd.DataFrame()


def split_p1(rows: pd.DataFrame, cutoff: str | pd.Timestamp, *, require_rows: bool = True) -> Split:
    """Split gap rows by protocol P1 at ``cutoff``.

    Args:
        rows: :func:`~retailsage.features.gap.gap_training_rows` output.
        cutoff: the cutoff day ``C``.
        require_rows: raise when a side is empty (a host of a multi-host job holds only some
            customers, so the job checks the totals over hosts instead).

    Returns:
        Train = rows whose ``next_order_date < C``; test = rows with ``order_date >= C`` and an
        observed next order. Target column ``gap_days`` unchanged.

    Raises:
        DataError: columns are missing or either side is empty.
    """
    require_columns(rows, (ORDER_DATE, NEXT_ORDER_DATE, TARGET), "gap rows")
    day = to_day(cutoff)
    next_order = rows[NEXT_ORDER_DATE]
    train = rows.loc[(next_order < day).to_numpy()]
    test = rows.loc[((rows[ORDER_DATE] >= day) & next_order.notna()).to_numpy()]
    if require_rows:
        _require_both(train, test, f"P1 at cutoff {day.date()}")
    return Split(train.copy(), test.copy(), TARGET, "p1", day, None)


def split_p2cap(
    rows: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    horizon_days: int,
    end: str | pd.Timestamp | None = None,
    *,
    require_rows: bool = True,
) -> Split:
    """Split gap rows by protocol P2-cap at ``cutoff`` with horizon ``horizon_days``.

    Args:
        rows: :func:`~retailsage.features.gap.gap_training_rows` output.
        cutoff: the cutoff day ``C``.
        horizon_days: the cap ``H`` in days (> 0).
        end: the data's last day ``END``; ``None`` takes the latest ``order_date`` in ``rows``.
        require_rows: raise when a side is empty (see :func:`split_p1`).

    Returns:
        Train = rows with ``order_date < C - H``; test = rows with ``C <= order_date <= END - H``.
        In both, ``gap_days`` is replaced by ``min(gap_days, H)`` with a missing next order
        counted as ``H``.

    Raises:
        HyperparameterError: ``horizon_days`` is not positive.
        DataError: columns are missing or either side is empty.
    """
    require_columns(rows, (ORDER_DATE, TARGET), "gap rows")
    if int(horizon_days) <= 0:
        raise HyperparameterError(f"horizon_days must be > 0, got {horizon_days}")
    day = to_day(cutoff)
    horizon = pd.Timedelta(days=int(horizon_days))
    last = to_day(end) if end is not None else rows[ORDER_DATE].max()
    order_date = rows[ORDER_DATE]
    train = _capped(rows.loc[(order_date < day - horizon).to_numpy()], horizon_days)
    in_test = (order_date >= day) & (order_date <= last - horizon)
    test = _capped(rows.loc[in_test.to_numpy()], horizon_days)
    if require_rows:
        _require_both(train, test, f"P2-cap at cutoff {day.date()} with horizon {horizon_days} d")
    return Split(train, test, TARGET, "p2cap", day, int(horizon_days))


def temporal_holdout(
    rows: pd.DataFrame,
    protocol: str = "p1",
    cutoff: str | pd.Timestamp | None = None,
    horizon_days: int = 60,
    *,
    end: str | pd.Timestamp | None = None,
    require_rows: bool = True,
) -> Split:
    """Split gap rows by the named protocol, choosing a default cutoff when none is given.

    Args:
        rows: :func:`~retailsage.features.gap.gap_training_rows` output.
        protocol: ``"p1"`` or ``"p2cap"``.
        cutoff: the cutoff day; ``None`` takes :func:`default_cutoff`.
        horizon_days: ``H`` for P2-cap (ignored by P1).
        end: P2-cap's ``END`` (the data's last day); ``None`` takes the rows' latest order.
        require_rows: raise when a side is empty (see :func:`split_p1`).

    Returns:
        The :class:`Split`.

    Raises:
        HyperparameterError: unknown protocol or bad horizon.
        DataError: columns are missing, the rows are empty, or a side of the split is empty.
    """
    if protocol not in PROTOCOLS:
        raise HyperparameterError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    day = default_cutoff(rows) if cutoff is None else cutoff
    if protocol == "p1":
        return split_p1(rows, day, require_rows=require_rows)
    return split_p2cap(rows, day, horizon_days, end, require_rows=require_rows)


def default_cutoff(rows: pd.DataFrame) -> pd.Timestamp:
    """Return the day at :data:`DEFAULT_CUTOFF_FRACTION` of the rows' order-date span.

    Args:
        rows: gap rows with an ``order_date`` column.

    Returns:
        That day (midnight).

    Raises:
        DataError: the rows are empty or lack ``order_date``.
    """
    require_columns(rows, (ORDER_DATE,), "gap rows")
    if rows.empty:
        raise DataError("no gap rows to split: the data has no customer orders")
    first, last = rows[ORDER_DATE].min(), rows[ORDER_DATE].max()
    return (first + (last - first) * DEFAULT_CUTOFF_FRACTION).normalize()


def _capped(rows: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Copy of ``rows`` with the target replaced by min(gap, H), a missing gap counting as H."""
    capped = rows.copy()
    gap = capped[TARGET].to_numpy(dtype=np.float64, na_value=np.nan)
    capped[TARGET] = np.minimum(np.nan_to_num(gap, nan=np.inf), float(horizon_days))
    return capped


def _require_both(train: pd.DataFrame, test: pd.DataFrame, what: str) -> None:
    """Raise :class:`DataError` when the train or test side of a split is empty."""
    if train.empty or test.empty:
        raise DataError(
            f"{what} leaves {len(train)} train and {len(test)} test rows; "
            "choose a cutoff inside the data's date range (and a shorter horizon)"
        )
