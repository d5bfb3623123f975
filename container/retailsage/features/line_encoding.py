"""Vectorised building blocks of the anomaly features: encodings, robust statistics, time.

Every string operation runs once per *distinct* value (``Distinct``), every statistic is a
grouped numpy/pandas reduction; nothing loops over rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retailsage.data.schema import INVOICE_NO

MAD_TO_STD = 1.4826
PRICE_EPS = 0.01  # one penny: keeps log(price) finite for zero prices
MINUTES_PER_DAY = 24 * 60
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
N_TIME_CELLS = 7 * 24


class Distinct:
    """A text column factorized once, so per-value work runs on the distinct values only.

    ``values`` holds the distinct values as a numpy unicode array, stripped and upper-cased;
    missing values become "". ``positions`` maps each row to its value.
    """

    def __init__(self, column: pd.Series) -> None:
        positions, uniques = column.array.factorize()
        values = normalized_text(np.asarray(uniques, dtype=object))
        positions = np.asarray(positions, dtype=np.int64)
        missing = positions < 0
        if missing.any():
            positions = np.where(missing, len(values), positions)
            values = np.append(values, "")
        self.values: np.ndarray = values
        self.positions: np.ndarray = positions

    def expand(self, per_value: np.ndarray) -> np.ndarray:
        """Broadcast an array over the distinct values back to one entry per row."""
        return np.asarray(per_value)[self.positions]

    def lookup(self, known: pd.Index) -> np.ndarray:
        """Index of each row's value in ``known`` (-1 where absent)."""
        return self.expand(known.get_indexer(pd.Index(self.values, dtype=object)))

    def ranked(self) -> tuple[list[str], np.ndarray]:
        """Distinct values by row count, descending (ties by value), and their counts."""
        names, merged = np.unique(self.values, return_inverse=True)
        counts = np.bincount(
            merged, weights=np.bincount(self.positions, minlength=len(self.values))
        )
        order = np.lexsort((names, -counts))
        return [str(name) for name in names[order]], counts[order].astype(np.float64)


def normalized_text(values: np.ndarray) -> np.ndarray:
    """Strip and upper-case an object array of (non-missing) distinct values."""
    text = values.astype(np.str_) if len(values) else np.zeros(0, dtype=np.str_)
    return np.asarray(np.strings.upper(np.strings.strip(text)))


def item_categories(codes: np.ndarray) -> np.ndarray:
    """Index into ``ITEM_CATEGORIES`` from each normalized stock code's shape.

    0: five digits; 1: five digits then letters; 2: anything else.
    """
    length = np.strings.str_len(codes)
    digits = np.strings.isdigit(codes)
    head_digits = np.strings.isdigit(np.strings.slice(codes, 0, 5))
    tail_letters = np.strings.isalpha(np.strings.slice(codes, 5, None))
    standard = (length == 5) & digits
    variant = (length > 5) & head_digits & tail_letters
    return np.where(standard, 0, np.where(variant, 1, 2))


def transaction_type_ids(lines: pd.DataFrame) -> np.ndarray:
    """Index into ``TRANSACTION_TYPES`` from each line's invoice number prefix (C / A)."""
    invoices = Distinct(lines[INVOICE_NO])
    kind = np.where(
        np.strings.startswith(invoices.values, "C"),
        1,
        np.where(np.strings.startswith(invoices.values, "A"), 2, 0),
    )
    return invoices.expand(kind)


def robust_centre(
    values: np.ndarray, groups: np.ndarray, n_groups: int, floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group median and floored robust spread (1.4826 * MAD); slot 0 is the global pair.

    Groups without values get the global pair.
    """
    centre = np.zeros(n_groups + 1)
    spread = np.full(n_groups + 1, floor)
    if not len(values):
        return centre, spread
    centre[0] = float(np.median(values))
    spread[0] = max(MAD_TO_STD * float(np.median(np.abs(values - centre[0]))), floor)
    present, medians = group_medians(values, groups)
    centre[1:] = centre[0]
    centre[present + 1] = medians
    present, mads = group_medians(np.abs(values - centre[groups + 1]), groups)
    spread[1:] = spread[0]
    spread[present + 1] = np.maximum(MAD_TO_STD * mads, floor)
    return centre, spread


def group_medians(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``values`` per group; returns (groups present, their medians)."""
    medians = pd.Series(values).groupby(groups, sort=True).median()
    return medians.index.to_numpy(dtype=np.int64), medians.to_numpy(dtype=np.float64)


def calendar(dates: pd.Series) -> dict[str, np.ndarray]:
    """Fractional hour of day, day of week (Monday 0) and day of month."""
    minutes = epoch_minutes(dates)
    days = minutes // MINUTES_PER_DAY
    in_day = minutes - days * MINUTES_PER_DAY
    day = days.astype("datetime64[D]")
    return {
        "hour": in_day / 60.0,
        "day_of_week": ((days + EPOCH_WEEKDAY) % 7).astype(np.float64),
        "day_of_month": ((day - day.astype("datetime64[M]")).astype(np.int64) + 1).astype(
            np.float64
        ),
    }


def time_cells(dates: pd.Series) -> np.ndarray:
    """(weekday, hour) cell index 0..167 of each timestamp."""
    minutes = epoch_minutes(dates)
    days = minutes // MINUTES_PER_DAY
    hour = (minutes - days * MINUTES_PER_DAY) // 60
    return np.asarray(((days + EPOCH_WEEKDAY) % 7) * 24 + hour, dtype=np.int64)


def epoch_minutes(dates: pd.Series) -> np.ndarray:
    """Whole minutes since 1970-01-01 (floor) of naive timestamps, as int64."""
    return np.asarray(dates.to_numpy().astype("datetime64[m]").astype(np.int64))


def signed_log(values: np.ndarray) -> np.ndarray:
    """sign(x) * log1p(|x|): compresses heavy tails, keeps sign and zero."""
    return np.asarray(np.sign(values) * np.log1p(np.abs(values)))


def log_price(price: np.ndarray) -> np.ndarray:
    """log(max(price, 0) + 1 penny): finite for zero and negative prices."""
    return np.asarray(np.log(np.clip(price, 0.0, None) + PRICE_EPS))


def blank(text: pd.Series) -> np.ndarray:
    """True where a text column is missing or whitespace only."""
    distinct = Distinct(text)
    return distinct.expand(np.strings.str_len(distinct.values) == 0)


def float_array(values: Any) -> np.ndarray:
    """A float64 array from a JSON list (raises ValueError/TypeError on bad input)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise ValueError("expected a flat list of finite numbers")
    return array
