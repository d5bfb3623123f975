"""Small helpers shared by the feature modules: column checks and date coercion."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from retailsage.core.errors import DataError


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`DataError` naming every required column ``frame`` lacks.

    Args:
        frame: the table to check.
        columns: the column names it must carry.
        what: a short name of the table for the message (e.g. ``"transactions"``).

    Raises:
        DataError: one or more columns are missing.
    """
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(f"{what} table lacks column(s) {missing}; it has {list(frame.columns)}")


def to_day(value: str | pd.Timestamp) -> pd.Timestamp:
    """Parse a date-like value and truncate it to midnight.

    Args:
        value: an ISO date string or a timestamp.

    Returns:
        The timestamp at 00:00 of that day (timezone-naive).

    Raises:
        DataError: the value is not a date.
    """
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"not a date: {value!r} ({exc})") from exc
    if stamp is pd.NaT:
        raise DataError(f"not a date: {value!r}")
    return stamp.normalize()
