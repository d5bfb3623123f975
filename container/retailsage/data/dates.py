"""Detect the timestamp format of a file once, then parse every row with it.

The UCI CSV exports differ by tool and locale: ``12/1/2010 8:26`` (US, month first),
``2010-12-01 08:26:00`` (ISO) and ``01/12/2010 08:26`` (day first). Guessing per row would
read ``01/12/2010`` as 12 January in one row and 1 December in the next, so the format is
chosen per file from a sample and then applied strictly: a row that does not match it is a
data error naming the row.
"""

from __future__ import annotations

import logging

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


def parse_with_format(values: pd.Series, fmt: str) -> pd.Series:
    """Parse strings with one format; values that do not match become ``NaT``.

    Each distinct string is parsed once (timestamps repeat for every line of an invoice), so
    the cost follows the number of distinct values rather than rows.

    Args:
        values: strings (missing values stay missing).
        fmt: a ``strftime`` format or :data:`ISO_FORMAT`.

    Returns:
        Naive ``datetime64[ns]`` values, same index.
    """
    strings = pa.array(values, type=pa.string(), from_pandas=True)
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    encoded = pc.dictionary_encode(strings)
    distinct = pd.Series(encoded.dictionary.to_pandas(), dtype="string")
    parsed = pd.to_datetime(distinct, format=fmt, errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    lookup = pa.array(parsed.astype("datetime64[ns]"), from_pandas=True)
    result = lookup.take(encoded.indices).to_numpy(zero_copy_only=False)
    return pd.Series(result, index=values.index, dtype="datetime64[ns]")


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
