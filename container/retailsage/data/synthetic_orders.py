"""Calendar, customers and orders of the synthetic generator (internal to it).

Used only by :mod:`retailsage.data.synthetic`: the seasonal calendar that maps operational
time onto days and business hours, the customer base (cadence, basket size, country, pack
profile) and the orders of registered customers (gamma renewal processes) and guests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from retailsage.core.errors import UserError
from retailsage.data import synthetic_tables as tables

DAY_NS = 86_400 * 10**9
"""Nanoseconds per day."""

MINUTE_NS = 60 * 10**9
"""Nanoseconds per minute."""


def choice(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Draw indices ``0..len(p)-1`` with probabilities ``p`` (fast inverse-CDF sampling)."""
    cdf = np.cumsum(p)
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right"), len(p) - 1)


# ------------------------------------------------------------------------------ calendar


class Calendar:
    """Maps operational time (one unit = one average day) onto seasonal calendar time."""

    def __init__(self, start: str, end: str) -> None:
        days = pd.date_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize())
        weights = (
            tables.MONTH_WEIGHTS[days.month.to_numpy() - 1]
            * tables.WEEKDAY_WEIGHTS[days.day_of_week.to_numpy()]
        )
        if weights.sum() <= 0:
            weights = np.ones(len(days))
        self.n_days = len(days)
        self.day_ns = days.to_numpy().astype("datetime64[ns]").astype(np.int64)
        self.edges = np.concatenate([[0.0], np.cumsum(weights * self.n_days / weights.sum())])
        self.hour_p = tables.HOUR_WEIGHTS / tables.HOUR_WEIGHTS.sum()

    @property
    def span(self) -> float:
        """Total operational time of the window."""
        return float(self.n_days)

    def last_ns(self) -> int:
        """Nanosecond timestamp of the last minute of the window."""
        return int(self.day_ns[-1]) + DAY_NS - MINUTE_NS

    def day_of(self, u: np.ndarray) -> np.ndarray:
        """Calendar day index of operational times (zero-intensity days are skipped)."""
        day = np.searchsorted(self.edges, u, side="right") - 1
        return np.clip(day, 0, self.n_days - 1)

    def business_time(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Random times of day (ns since midnight) following business hours, to the minute."""
        hours = choice(rng, self.hour_p, n)
        return (hours * 60 + rng.integers(0, 60, size=n)) * MINUTE_NS

    def timestamps(self, rng: np.random.Generator, u: np.ndarray) -> np.ndarray:
        """Nanosecond timestamps for operational times: the day, then a business time."""
        return self.day_ns[self.day_of(u)] + self.business_time(rng, len(u))

    def next_open(self, ns: np.ndarray) -> np.ndarray:
        """Move timestamps falling on a closed weekday (zero intensity) to the next open day."""
        closed = tables.WEEKDAY_WEIGHTS <= 0
        if closed.all():
            return ns
        ns = ns.copy()
        for _ in range(7):
            shut = closed[(ns // DAY_NS + 3) % 7]  # 1970-01-01 was a Thursday (index 3)
            if not shut.any():
                break
            ns[shut] += DAY_NS
        return ns

    def random_u(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Operational times spread uniformly (hence seasonally on the calendar)."""
        return rng.uniform(0.0, self.span, size=n)


# ----------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class Customers:
    """Per-customer arrays: cadence, basket mean, first order, country, pack profile."""

    mean_gap: np.ndarray
    shape: np.ndarray
    basket: np.ndarray
    first_u: np.ndarray
    country: np.ndarray
    wholesale: np.ndarray
    favourite_seed: np.ndarray


def draw_customers(rng: np.random.Generator, n: int, span: float) -> Customers:
    """Draw a customer base: cadence, basket size, first order, country, pack profile."""
    mean_gap = np.clip(rng.lognormal(np.log(35.0), 0.9, size=n), 2.0, 400.0)
    existing = rng.random(n) < 0.35
    first_u = np.where(
        existing,
        rng.uniform(0.0, 1.0, size=n) * np.minimum(mean_gap, span),
        rng.uniform(0.0, span, size=n),
    )
    p_country = tables.COUNTRY_CUSTOMER_WEIGHTS / tables.COUNTRY_CUSTOMER_WEIGHTS.sum()
    return Customers(
        mean_gap=mean_gap,
        shape=rng.uniform(1.2, 6.0, size=n),
        basket=np.clip(rng.lognormal(np.log(14.0), 0.8, size=n), 1.0, 250.0),
        first_u=first_u,
        country=choice(rng, p_country, n),
        wholesale=rng.random(n) < 0.2,
        favourite_seed=rng.integers(0, 2**31, size=n),
    )


# -------------------------------------------------------------------------------- orders


def _basket_lines(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Lines per order: 1 + negative binomial around the customer's basket mean."""
    return 1 + rng.poisson(rng.gamma(2.0, (mean - 1.0) / 2.0 + 1e-9))


@dataclass(frozen=True)
class Orders:
    """Per-order arrays: customer index (-1 for guests), operational time, line count."""

    customer: np.ndarray
    u: np.ndarray
    lines: np.ndarray


def _renewal_orders(rng: np.random.Generator, cust: Customers, span: float) -> Orders:
    """All orders of every customer: a gamma renewal process from the first order on."""
    expected = (span - cust.first_u) / cust.mean_gap
    draws = np.ceil(1.5 * expected + 6.0 * np.sqrt(expected + 1.0) + 2.0).astype(np.int64)
    owner = np.repeat(np.arange(len(draws)), draws)
    gaps = rng.gamma(cust.shape[owner], cust.mean_gap[owner] / cust.shape[owner])
    starts = np.concatenate([[0], np.cumsum(draws)[:-1]])
    gaps[starts] = 0.0
    total = np.cumsum(gaps)
    u = cust.first_u[owner] + total - total[starts][owner]
    inside = u < span
    owner, u = owner[inside], u[inside]
    return Orders(owner, u, _basket_lines(rng, cust.basket[owner]))


def _fit_orders(rng: np.random.Generator, orders: Orders, n_customers: int, rows: int) -> Orders:
    """Keep whole customers in random order until exactly ``rows`` lines are reached."""
    rank = rng.permutation(n_customers)[orders.customer]
    order = np.lexsort((orders.u, rank))
    lines = orders.lines[order]
    before = np.cumsum(lines) - lines
    keep = before < rows
    kept = order[keep]
    lines = lines[keep].copy()
    lines[-1] = rows - before[keep][-1]
    return Orders(orders.customer[kept], orders.u[kept], lines)


def registered_orders(rng: np.random.Generator, cust: Customers, span: float, rows: int) -> Orders:
    """Registered-customer orders totalling exactly ``rows`` lines.

    The customer base's order rate is scaled so that it is expected to produce a little more
    than needed; should a draw still fall short, the rate is raised and the draw repeated.
    """
    n = len(cust.mean_gap)
    expected_lines = float(np.sum(cust.basket * (1.0 + (span - cust.first_u) / cust.mean_gap)))
    scale = max(expected_lines / (1.08 * rows), 1e-6)
    for _ in range(8):
        scaled = replace(cust, mean_gap=cust.mean_gap * scale)
        orders = _renewal_orders(rng, scaled, span)
        produced = int(orders.lines.sum())
        if produced >= rows:
            return _fit_orders(rng, orders, n, rows)
        scale *= 0.8 * produced / rows if produced else 0.1
    raise UserError(f"cannot fit {rows} rows into the customer base; raise n_customers")


def guest_orders(rng: np.random.Generator, calendar: Calendar, rows: int) -> Orders:
    """Guest checkouts: seasonal arrival times, larger baskets, exactly ``rows`` lines."""
    if rows == 0:
        return Orders(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64))
    lines = _basket_lines(rng, np.full(rows // 20 + 1, 30.0))
    while lines.sum() < rows:
        lines = np.concatenate([lines, _basket_lines(rng, np.full(len(lines), 30.0))])
    before = np.cumsum(lines) - lines
    lines = lines[before < rows]
    lines[-1] = rows - before[before < rows][-1]
    return Orders(np.full(len(lines), -1), calendar.random_u(rng, len(lines)), lines)
