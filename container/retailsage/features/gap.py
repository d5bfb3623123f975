"""Days-to-next-purchase ("gap") features: one row per order, where an order is a customer-day.

One code path serves training (:func:`gap_training_rows`), extraction for Batch Transform and
real-time scoring (:func:`snapshot_rows`). Every feature of an order is computed from that
customer's orders up to and including that order only, so a training row never sees the future
and a snapshot row "as of D" equals the training row of the customer's last order on/before D.

All work is vectorised over the whole table (factorize, bincount, shifted arrays); there are no
Python loops over rows or customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retailsage.data.schema import COUNTRY, INVOICE_DATE, QUANTITY, UNIT_PRICE
from retailsage.features._frame import require_columns, to_day

CUSTOMER_ID = "CustomerID"
ORDER_DATE = "order_date"
AS_OF_DATE = "as_of_date"
TARGET = "gap_days"
NEXT_ORDER_DATE = "next_order_date"
N_LAGS = 12

LAG_COLUMNS: tuple[str, ...] = tuple(f"gap_lag_{k}" for k in range(1, N_LAGS + 1))
"""The customer's last ``N_LAGS`` gaps in days, most recent first; NaN where absent."""

ORDER_COLUMNS: tuple[str, ...] = (
    CUSTOMER_ID,
    ORDER_DATE,
    "order_value",
    "order_items",
    "order_lines",
    COUNTRY,
)
"""Columns of :func:`build_orders`, in order."""

GAP_NUMERIC_COLUMNS: tuple[str, ...] = (
    "order_index",
    "days_since_first_order",
    "last_gap",
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
    "month",
    "day_of_week",
)
"""Numeric per-order features other than the lags (see docs/features.md for definitions)."""

GAP_CATEGORICAL_COLUMNS: tuple[str, ...] = (COUNTRY,)
"""String features; model families encode them (unseen values map to their "unknown")."""

GAP_FEATURE_COLUMNS: tuple[str, ...] = GAP_NUMERIC_COLUMNS + LAG_COLUMNS + GAP_CATEGORICAL_COLUMNS
"""The model inputs, in the CSV column order serving and Batch Transform use."""

_LINE_COLUMNS = (CUSTOMER_ID, INVOICE_DATE, QUANTITY, UNIT_PRICE, COUNTRY)
_NS_PER_DAY = np.int64(86_400 * 10**9)


def build_orders(clean: pd.DataFrame) -> pd.DataFrame:
    """Aggregate clean transaction lines to orders, one row per (customer, calendar day).

    Lines without a customer cannot form an order and are ignored.

    Args:
        clean: cleaned transaction lines (see ``retailsage.data.cleaning``) with at least
            ``CustomerID, InvoiceDate, Quantity, UnitPrice, Country``.

    Returns:
        Columns :data:`ORDER_COLUMNS`, sorted by customer then day: ``order_value`` is
        sum(Quantity * UnitPrice), ``order_items`` sum(Quantity), ``order_lines`` the number of
        lines, ``Country`` that of the order's first line. ``CustomerID`` and ``Country`` are
        pandas ``string`` dtype, ``order_date`` is ``datetime64[ns]`` at midnight.

    Raises:
        DataError: a required column is missing.
    """
    require_columns(clean, _LINE_COLUMNS, "transactions")
    known = clean[CUSTOMER_ID].notna().to_numpy(dtype=bool)
    if not known.any():
        return _empty_orders()
    lines = {name: clean[name] if known.all() else clean[name][known] for name in _LINE_COLUMNS}
    customer_codes, customers = pd.factorize(lines[CUSTOMER_ID].astype("string"), sort=True)
    days = _day_numbers(lines[INVOICE_DATE])
    first_day = days.min()
    span = np.int64(days.max() - first_day + 1)
    key = customer_codes.astype(np.int64) * span + (days - first_day)
    order_of_line, order_keys = pd.factorize(key, sort=True)
    n_orders = len(order_keys)
    quantity = lines[QUANTITY].to_numpy(dtype=np.float64)
    amount = quantity * lines[UNIT_PRICE].to_numpy(dtype=np.float64)
    first_line = np.empty(n_orders, dtype=np.int64)
    first_line[order_of_line[::-1]] = np.arange(len(key), dtype=np.int64)[::-1]
    order_keys = np.asarray(order_keys, dtype=np.int64)
    order_days = (order_keys % span + first_day) * _NS_PER_DAY
    return pd.DataFrame(
        {
            CUSTOMER_ID: customers.astype("string").take(order_keys // span).array,
            ORDER_DATE: order_days.astype("datetime64[ns]"),
            "order_value": np.bincount(order_of_line, weights=amount, minlength=n_orders),
            "order_items": np.bincount(order_of_line, weights=quantity, minlength=n_orders),
            "order_lines": np.bincount(order_of_line, minlength=n_orders).astype(np.int64),
            COUNTRY: lines[COUNTRY].astype("string").array.take(first_line),
        }
    )


def gap_training_rows(clean: pd.DataFrame) -> pd.DataFrame:
    """Build one training row per order with its features and days-to-next-order target.

    Args:
        clean: cleaned transaction lines (see :func:`build_orders`).

    Returns:
        Columns ``CustomerID, order_date, *GAP_FEATURE_COLUMNS, gap_days, next_order_date``;
        ``gap_days`` and ``next_order_date`` are NaN/NaT on each customer's last order.

    Raises:
        DataError: a required column is missing.
    """
    return order_features(build_orders(clean))


def order_features(orders: pd.DataFrame) -> pd.DataFrame:
    """Compute the per-order features and target from :func:`build_orders` output.

    Args:
        orders: one row per (customer, day), sorted by customer then day.

    Returns:
        The same table as :func:`gap_training_rows`.

    Raises:
        DataError: a required column is missing.
    """
    require_columns(orders, ORDER_COLUMNS, "orders")
    n = len(orders)
    position = np.arange(n, dtype=np.int64)
    customer_codes = pd.factorize(orders[CUSTOMER_ID])[0]
    starts = np.ones(n, dtype=bool)
    starts[1:] = customer_codes[1:] != customer_codes[:-1]
    group_start = np.maximum.accumulate(np.where(starts, position, 0)) if n else position
    order_index = position - group_start
    days = _day_numbers(orders[ORDER_DATE]).astype(np.float64)
    gaps = np.full(n, np.nan)
    gaps[1:] = days[1:] - days[:-1]
    gaps[starts] = np.nan
    lags = _lag_matrix(gaps, order_index)
    value = orders["order_value"].to_numpy(dtype=np.float64)
    items = orders["order_items"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gap = np.where(order_index > 0, (days - days[group_start]) / order_index, np.nan)
    roll3_mean, roll3_std = _window_stats(lags[:, :3])
    roll5_mean, roll5_std = _window_stats(lags[:, :5])
    order_date = orders[ORDER_DATE]
    numeric = {
        "order_index": order_index,
        "days_since_first_order": days - days[group_start],
        "last_gap": lags[:, 0],
        "mean_gap": mean_gap,
        "gap_roll3_mean": roll3_mean,
        "gap_roll3_std": roll3_std,
        "gap_roll5_mean": roll5_mean,
        "gap_roll5_std": roll5_std,
        "order_value": value,
        "order_items": items,
        "order_lines": orders["order_lines"].to_numpy(dtype=np.int64),
        "cumulative_spend": _group_cumsum(value, customer_codes),
        "cumulative_items": _group_cumsum(items, customer_codes),
        "month": order_date.dt.month.to_numpy(dtype=np.int64),
        "day_of_week": order_date.dt.day_of_week.to_numpy(dtype=np.int64),
    }
    next_day = _next_day(days, starts)
    columns: dict[str, object] = {
        CUSTOMER_ID: orders[CUSTOMER_ID].astype("string").array,
        ORDER_DATE: order_date.to_numpy(),
        **numeric,
        **{name: lags[:, k] for k, name in enumerate(LAG_COLUMNS)},
        COUNTRY: orders[COUNTRY].astype("string").array,
        TARGET: next_day - days,
        NEXT_ORDER_DATE: _days_to_datetime(next_day),
    }
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def snapshot_rows(clean: pd.DataFrame, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Build one scoring row per customer from the history strictly before ``as_of``.

    The row answers "as of the start of day ``as_of``, when will this customer buy next?":
    the features of the customer's last order before ``as_of`` plus the as-of features of
    :mod:`retailsage.features.asof` (``days_since_last_order`` and the windows before
    ``as_of``). Models trained with ``target=order_gap`` ignore the as-of columns.

    Args:
        clean: cleaned transaction lines (see :func:`build_orders`).
        as_of: the scoring day; lines on that calendar day and later are not used. ``None``
            means the day after the data's last date (all history).

    Returns:
        Columns ``CustomerID, as_of_date, order_date, *SNAPSHOT_FEATURE_COLUMNS`` (the gap
        features then the as-of features), one row per customer with at least one order
        before ``as_of``, sorted by customer. ``order_date`` is the last order used; its gap
        features equal that order's training row.

    Raises:
        DataError: a required column is missing or ``as_of`` is not a date.
    """
    from retailsage.features.asof import snapshot_features  # asof builds on this module

    require_columns(clean, _LINE_COLUMNS, "transactions")
    dates = clean[INVOICE_DATE]
    if as_of is None:
        day = (dates.max().normalize() if len(clean) else pd.Timestamp(0)) + pd.Timedelta(days=1)
    else:
        day = to_day(as_of)
    return snapshot_features(clean, day)


def is_gap_feature_frame(frame: pd.DataFrame) -> bool:
    """Tell whether ``frame`` is already featurized (carries every gap feature column).

    Args:
        frame: any table (raw transactions, training rows, snapshot rows, a CSV payload).

    Returns:
        True when all of :data:`GAP_FEATURE_COLUMNS` are columns of ``frame``.
    """
    return set(GAP_FEATURE_COLUMNS).issubset(map(str, frame.columns))


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Whole days since the epoch for each timestamp (int64, floor)."""
    return np.asarray(dates.to_numpy().astype("datetime64[D]").astype(np.int64))


def _days_to_datetime(days: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_day_numbers` for float day numbers (NaN -> NaT)."""
    stamps = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    known = ~np.isnan(days)
    stamps[known] = (days[known].astype(np.int64) * _NS_PER_DAY).astype("datetime64[ns]")
    return stamps


def _lag_matrix(gaps: np.ndarray, order_index: np.ndarray) -> np.ndarray:
    """``[n, N_LAGS]`` matrix; column k-1 holds the k-th most recent gap (NaN if absent)."""
    n = len(gaps)
    lags = np.full((n, N_LAGS), np.nan)
    for k in range(1, N_LAGS + 1):  # a fixed 12 columns, not a loop over rows
        shifted = np.full(n, np.nan)
        shifted[k - 1 :] = gaps[: max(n - k + 1, 0)]
        lags[:, k - 1] = np.where(order_index >= k, shifted, np.nan)
    return lags


def _window_stats(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (>= 1 value) and sample std (>= 2 values) across columns, ignoring NaN."""
    known = ~np.isnan(window)
    count = known.sum(axis=1)
    values = np.where(known, window, 0.0)
    total = values.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        centred = np.where(known, window - mean[:, None], 0.0)
        variance = (centred**2).sum(axis=1) / (count - 1)
        std = np.where(count > 1, np.sqrt(variance), np.nan)
    return mean, std


def _group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` within each group, inclusive of the row.

    Summed per group (not as a difference of one global running sum) so that a customer's
    figures are bit-identical whatever other customers' orders are present.
    """
    return np.asarray(pd.Series(values).groupby(groups, sort=False).cumsum().to_numpy())


def _next_day(days: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Day number of the same customer's next order, NaN on each customer's last order."""
    following = np.full(len(days), np.nan)
    following[:-1] = days[1:]
    last = np.ones(len(days), dtype=bool)
    last[:-1] = starts[1:]
    following[last] = np.nan
    return following


def _empty_orders() -> pd.DataFrame:
    """An orders table with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            CUSTOMER_ID: pd.array([], dtype="string"),
            ORDER_DATE: np.array([], dtype="datetime64[ns]"),
            "order_value": np.array([], dtype=np.float64),
            "order_items": np.array([], dtype=np.float64),
            "order_lines": np.array([], dtype=np.int64),
            COUNTRY: pd.array([], dtype="string"),
        }
    )
