"""Detect the timestamp format of a file once, then parse every row with it.

The UCI CSV exports differ by tool and locale: ``12/1/2010 8:26`` (US, month first),
``2010-12-01 08:26:00`` (ISO) and ``01/12/2010 08:26`` (day first). Guessing per row would
read ``01/12/2010`` as 12 January in one row and 1 December in the next, so the format is
chosen per file from a sample and then applied strictly: a row that does not match it is a
data error naming the row.

Time zones: a value with an offset (``2011-12-01T10:00:00Z``, ``...+02:00``) is converted to UTC
and stored naive; a value without one is taken as it is. Supported dates: years 1678-2261 (what
``datetime64[ns]`` holds, with headroom for date arithmetic); a date outside is rejected rather
than wrapped or crashing. Training and serving share these rules.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

logger = logging.getLogger(__name__)

ISO_FORMAT = "ISO8601"

DATE_FORMATS: tuple[str, ...] = (
    ISO_FORMAT,
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%y %H:%M",
    "%d/%m/%y %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y",
)
"""Candidate formats, in order of preference. When a sample fits both a month-first and a
day-first format (no day above 12 in it), the earlier, month-first one (the UCI export) wins."""

_SAMPLE_VALUES = 50_000

EARLIEST_DATE = pd.Timestamp("1678-01-01")
"""The first supported date (``datetime64[ns]`` starts in September 1677)."""
LATEST_DATE_EXCLUSIVE = pd.Timestamp("2262-01-01")
"""The first unsupported date (``datetime64[ns]`` ends in April 2262)."""
DATE_RANGE_TEXT = "years 1678-2261"
"""The supported range, for error messages."""


def naive_utc(parsed: pd.Series) -> pd.Series:
    """Convert timezone-aware timestamps to UTC and drop the zone; naive ones are unchanged.

    Args:
        parsed: a datetime Series of any unit, aware or naive.

    Returns:
        Naive timestamps, same unit and index.
    """
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def out_of_range(parsed: pd.Series) -> np.ndarray:
    """Flag timestamps outside the supported range (missing values are not flagged).

    Args:
        parsed: naive datetime Series of any unit.

    Returns:
        A boolean mask, True where the date is before 1678 or after 2261.
    """
    outside = (parsed < EARLIEST_DATE) | (parsed >= LATEST_DATE_EXCLUSIVE)
    return np.asarray(outside.fillna(False), dtype=bool)


def bounded_ns(parsed: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Return naive UTC ``datetime64[ns]`` values, out-of-range dates made missing.

    Args:
        parsed: a datetime Series of any unit, aware or naive.

    Returns:
        The naive ``datetime64[ns]`` Series (``NaT`` where out of range) and the mask of
        out-of-range rows, so callers can name them.
    """
    naive = naive_utc(parsed)
    outside = out_of_range(naive)
    if outside.any():
        naive = naive.mask(outside)
    return naive.astype("datetime64[ns]"), outside


def parse_with_format(values: pd.Series, fmt: str) -> pd.Series:
    """Parse strings with one format; values that do not match become ``NaT``.

    Each distinct string is parsed once (timestamps repeat for every line of an invoice), so
    the cost follows the number of distinct values rather than rows.

    Args:
        values: strings (missing values stay missing).
        fmt: a ``strftime`` format or :data:`ISO_FORMAT`.

    Returns:
        Naive ``datetime64[ns]`` values, same index: values with an offset converted to UTC,
        dates outside the supported range (:func:`out_of_range`) ``NaT``.
    """
    strings = pa.array(values, type=pa.string(), from_pandas=True)
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    encoded = pc.dictionary_encode(strings)
    distinct = pd.Series(encoded.dictionary.to_pandas(), dtype="string")
    parsed, _ = bounded_ns(parse_dates(distinct, fmt))
    lookup = pa.array(parsed, from_pandas=True)
    result = lookup.take(encoded.indices).to_numpy(zero_copy_only=False)
    return pd.Series(result, index=values.index, dtype="datetime64[ns]")


def parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    """Parse with one format (``"mixed"`` too); unparseable values become ``NaT``.

    Args:
        values: strings (or other scalars pandas can read as dates).
        fmt: a ``strftime`` format, :data:`ISO_FORMAT` or ``"mixed"``.

    Returns:
        Datetimes of any unit; aware (UTC) when values carry different offsets or some carry
        one and others none (naive ones are then read as UTC). See :func:`bounded_ns`.
    """
    try:
        return pd.to_datetime(values, format=fmt, errors="coerce")
    except ValueError:  # mixed offsets, or offset and naive values in one column
        return pd.to_datetime(values, format=fmt, errors="coerce", utc=True)


def out_of_range_values(values: pd.Series, fmt: str) -> np.ndarray:
    """Flag values that parse with ``fmt`` but lie outside the supported range.

    The error path of :func:`parse_with_format` callers, to say why a value was rejected.

    Args:
        values: strings.
        fmt: a ``strftime`` format or :data:`ISO_FORMAT`.

    Returns:
        A boolean mask, same length as ``values``.
    """
    return out_of_range(naive_utc(parse_dates(pd.Series(values, dtype="string"), fmt)))


def detect_format(values: pd.Series) -> str | None:
    """Pick the date format that parses a sample of the values.

    The sample is the first distinct non-missing values (up to 50,000), so a file sorted by
    time shows days above 12 early and month-first/day-first is decided correctly.

    Args:
        values: date strings of the first chunk of a file.

    Returns:
        The first format of :data:`DATE_FORMATS` that parses the whole sample; failing that,
        the one parsing most of it; ``None`` when the sample is empty or nothing parses.
    """
    sample = pd.Series(values.dropna().unique()[:_SAMPLE_VALUES], dtype="string").str.strip()
    if sample.empty:
        return None
    best, best_ok = None, 0
    for fmt in DATE_FORMATS:
        ok = int(parse_with_format(sample, fmt).notna().sum())
        if ok == len(sample):
            _warn_if_ambiguous(sample, fmt)
            return fmt
        if ok > best_ok:
            best, best_ok = fmt, ok
    return best


def _warn_if_ambiguous(sample: pd.Series, chosen: str) -> None:
    """Log when a day-first reading would have parsed the sample as well."""
    if not chosen.startswith("%m/%d"):
        return
    swapped = chosen.replace("%m/%d", "%d/%m")
    if bool(parse_with_format(sample, swapped).notna().all()):
        logger.warning(
            "dates are ambiguous (no day above 12 in the sample); reading them month first "
            "(%s) as in the UCI export",
            chosen,
        )
