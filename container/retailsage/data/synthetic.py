"""Seeded synthetic transactions in the Online Retail schema, at any size.

The generator is the project's default data source (demo, tests without the real file) and
is built so that the modelling tasks are learnable, not just so that the columns look right:

* **Customers** each have their own purchase cadence: order gaps are gamma distributed with a
  per-customer mean (log-normal, median about five weeks) and shape (regular to erratic), so
  a customer's history predicts the days to the next purchase. Part of the base exists at the
  start of the window; the rest is acquired over it. Each customer has a country (UK about
  90%), a basket-size mean, a retail or wholesale pack profile and a few favourite products.
* **Seasonality**: order processes run in an "operational time" that is mapped onto the
  calendar through month (September-November run-up, November peak) and weekday (no
  Saturdays) intensities; times of day follow business hours (peak around noon).
* **Lines**: a catalogue with Zipf-like popularity and log-normal prices; pack quantities;
  bulk discount for big packs; some exact duplicate lines, postage/manual/fee lines, zero-price
  gifts and guest write-offs with no description.
* **Guests** (no ``CustomerID``, about 22% of purchase lines), **cancellations** (``C``
  invoices reversing earlier lines of the same customer, about 1.7% of rows) and bad-debt
  **adjustments** (``A`` invoices).
* **Injected anomalies** (``anomaly_rate > 0``): quantity x20-100, price x10-100 or
  x0.01-0.1, or an off-hours time (02:00-04:59); flagged in :data:`LABEL_COLUMN`.

Everything is vectorised numpy; strings are built once per catalogue entry or invoice and
gathered with Arrow ``take``. :func:`iter_generated_chunks` produces huge data sets in
independent customer shards with bounded memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from retailsage.core.errors import UserError
from retailsage.data import synthetic_tables as tables
from retailsage.data.coerce import STRING
from retailsage.data.schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    INVOICE_DATE,
    INVOICE_NO,
    QUANTITY,
    STOCK_CODE,
    UNIT_PRICE,
)
from retailsage.data.sources import LABEL_COLUMN

__all__ = [
    "LABEL_COLUMN",
    "GeneratorSpec",
    "generate_transactions",
    "iter_generated_chunks",
    "write_transactions",
]

_DAY_NS = 86_400 * 10**9
_MINUTE_NS = 60 * 10**9
_LINES_PER_CUSTOMER = 93.0
_GUEST_SHARE = 0.22
_CANCEL_SHARE = 0.017
_ADJUST_SHARE = 5e-5
_DUPLICATE_SHARE = 0.004
_SERVICE_SHARE = 0.005
_GIFT_SHARE = 0.001
_WRITE_OFF_SHARE = 0.004
_FAVOURITES = 30
_FAVOURITE_SHARE = 0.25


@dataclass(frozen=True)
class GeneratorSpec:
    """Validated generator settings (the typed boundary of the public functions).

    Attributes:
        n_rows: exact number of rows to produce.
        n_customers: size of the customer base (customers whose orders do not fit in
            ``n_rows`` do not appear); about one customer per 93 rows when ``None``.
        start: first calendar day (inclusive).
        end: last calendar day (inclusive).
        anomaly_rate: share of rows turned into labelled anomalies, in ``[0, 0.5]``.
        with_labels: add the boolean :data:`LABEL_COLUMN`.
    """

    n_rows: int
    n_customers: int | None = None
    start: str = "2010-12-01"
    end: str = "2011-12-09"
    anomaly_rate: float = 0.0
    with_labels: bool = False

    def __post_init__(self) -> None:
        """Reject impossible settings with a :class:`UserError`."""
        if self.n_rows < 1:
            raise UserError(f"n_rows must be at least 1, got {self.n_rows}")
        if self.n_customers is not None and self.n_customers < 1:
            raise UserError(f"n_customers must be at least 1, got {self.n_customers}")
        if not 0.0 <= self.anomaly_rate <= 0.5:
            raise UserError(f"anomaly_rate must be in [0, 0.5], got {self.anomaly_rate}")
        try:
            first, last = pd.Timestamp(self.start), pd.Timestamp(self.end)
        except ValueError as exc:
            raise UserError(f"start/end must be dates (YYYY-MM-DD): {exc}") from exc
        if last < first:
            raise UserError(f"end {self.end} is before start {self.start}")

    def customers(self, registered_rows: int) -> int:
        """The customer-base size for a number of registered-customer rows."""
        if self.n_customers is not None:
            return self.n_customers
        return max(1, round(registered_rows / _LINES_PER_CUSTOMER))


def _choice(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Draw indices ``0..len(p)-1`` with probabilities ``p`` (fast inverse-CDF sampling)."""
    cdf = np.cumsum(p)
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right"), len(p) - 1)


# ------------------------------------------------------------------------------ calendar


class _Calendar:
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
        return int(self.day_ns[-1]) + _DAY_NS - _MINUTE_NS

    def day_of(self, u: np.ndarray) -> np.ndarray:
        """Calendar day index of operational times (zero-intensity days are skipped)."""
        day = np.searchsorted(self.edges, u, side="right") - 1
        return np.clip(day, 0, self.n_days - 1)

    def business_time(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Random times of day (ns since midnight) following business hours, to the minute."""
        hours = _choice(rng, self.hour_p, n)
        return (hours * 60 + rng.integers(0, 60, size=n)) * _MINUTE_NS

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
            shut = closed[(ns // _DAY_NS + 3) % 7]  # 1970-01-01 was a Thursday (index 3)
            if not shut.any():
                break
            ns[shut] += _DAY_NS
        return ns

    def random_u(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Operational times spread uniformly (hence seasonally on the calendar)."""
        return rng.uniform(0.0, self.span, size=n)


# ----------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class _Customers:
    mean_gap: np.ndarray
    shape: np.ndarray
    basket: np.ndarray
    first_u: np.ndarray
    country: np.ndarray
    wholesale: np.ndarray
    favourite_seed: np.ndarray


def _draw_customers(rng: np.random.Generator, n: int, span: float) -> _Customers:
    """Draw a customer base: cadence, basket size, first order, country, pack profile."""
    mean_gap = np.clip(rng.lognormal(np.log(35.0), 0.9, size=n), 2.0, 400.0)
    existing = rng.random(n) < 0.35
    first_u = np.where(
        existing,
        rng.uniform(0.0, 1.0, size=n) * np.minimum(mean_gap, span),
        rng.uniform(0.0, span, size=n),
    )
    p_country = tables.COUNTRY_CUSTOMER_WEIGHTS / tables.COUNTRY_CUSTOMER_WEIGHTS.sum()
    return _Customers(
        mean_gap=mean_gap,
        shape=rng.uniform(1.2, 6.0, size=n),
        basket=np.clip(rng.lognormal(np.log(14.0), 0.8, size=n), 1.0, 250.0),
        first_u=first_u,
        country=_choice(rng, p_country, n),
        wholesale=rng.random(n) < 0.2,
        favourite_seed=rng.integers(0, 2**31, size=n),
    )


def _basket_lines(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Lines per order: 1 + negative binomial around the customer's basket mean."""
    return 1 + rng.poisson(rng.gamma(2.0, (mean - 1.0) / 2.0 + 1e-9))


@dataclass(frozen=True)
class _Orders:
    customer: np.ndarray
    u: np.ndarray
    lines: np.ndarray


def _renewal_orders(rng: np.random.Generator, cust: _Customers, span: float) -> _Orders:
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
    return _Orders(owner, u, _basket_lines(rng, cust.basket[owner]))


def _fit_orders(rng: np.random.Generator, orders: _Orders, n_customers: int, rows: int) -> _Orders:
    """Keep whole customers in random order until exactly ``rows`` lines are reached."""
    rank = rng.permutation(n_customers)[orders.customer]
    order = np.lexsort((orders.u, rank))
    lines = orders.lines[order]
    before = np.cumsum(lines) - lines
    keep = before < rows
    kept = order[keep]
    lines = lines[keep].copy()
    lines[-1] = rows - before[keep][-1]
    return _Orders(orders.customer[kept], orders.u[kept], lines)


def _registered_orders(
    rng: np.random.Generator, cust: _Customers, span: float, rows: int
) -> _Orders:
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


def _guest_orders(rng: np.random.Generator, calendar: _Calendar, rows: int) -> _Orders:
    """Guest checkouts: seasonal arrival times, larger baskets, exactly ``rows`` lines."""
    if rows == 0:
        return _Orders(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64))
    lines = _basket_lines(rng, np.full(rows // 20 + 1, 30.0))
    while lines.sum() < rows:
        lines = np.concatenate([lines, _basket_lines(rng, np.full(len(lines), 30.0))])
    before = np.cumsum(lines) - lines
    lines = lines[before < rows]
    lines[-1] = rows - before[before < rows][-1]
    return _Orders(np.full(len(lines), -1), calendar.random_u(rng, len(lines)), lines)


# ------------------------------------------------------------------------------ catalogue


@dataclass(frozen=True)
class _Catalogue:
    codes: pa.Array
    descriptions: pa.Array
    prices: np.ndarray
    popularity: np.ndarray
    n_products: int

    def service(self, k: np.ndarray) -> np.ndarray:
        """Catalogue index of service line kinds (postage, manual, fees)."""
        return self.n_products + k

    @property
    def adjustment(self) -> int:
        """Catalogue index of the bad-debt adjustment line."""
        return self.n_products + len(tables.NON_MERCHANDISE)


def _catalogue(rng: np.random.Generator, n_products: int) -> _Catalogue:
    """Products with 5-digit stock codes (some lettered variants), names and prices."""
    numbers = rng.choice(np.arange(10_002, 90_000), size=n_products, replace=False)
    letters = np.array(["", "", "", "", "A", "B", "C", "D", "E", "F", "G", "L", "S"])
    codes = pd.Series(numbers.astype(str)) + letters[rng.integers(0, len(letters), n_products)]
    adjective = np.array(tables.ADJECTIVES)[rng.integers(0, len(tables.ADJECTIVES), n_products)]
    colour = np.array(tables.COLOURS)[rng.integers(0, len(tables.COLOURS), n_products)]
    noun = np.array(tables.NOUNS)[rng.integers(0, len(tables.NOUNS), n_products)]
    names = pd.Series(adjective) + " " + pd.Series(colour) + " " + pd.Series(noun)
    prices = np.maximum(np.round(rng.lognormal(np.log(2.1), 0.85, n_products) * 20) / 20, 0.05)
    rank = rng.permutation(n_products)
    popularity = 1.0 / (rank + 10.0) ** 0.9
    service_codes = [code for code, _, _ in tables.NON_MERCHANDISE] + [tables.ADJUSTMENT_CODE]
    service_names = [name for _, name, _ in tables.NON_MERCHANDISE]
    service_names.append(tables.ADJUSTMENT_DESCRIPTION)
    service_prices = [price for _, _, price in tables.NON_MERCHANDISE] + [0.0]
    return _Catalogue(
        codes=pa.array([*codes.tolist(), *service_codes], pa.string()),
        descriptions=pa.array([*names.tolist(), *service_names], pa.string()),
        prices=np.concatenate([prices, service_prices]),
        popularity=popularity / popularity.sum(),
        n_products=n_products,
    )


# ---------------------------------------------------------------------------------- lines


@dataclass
class _Lines:
    """Line-level arrays (one entry per output row) and invoice-level arrays."""

    invoice: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    no_description: np.ndarray
    time_ns: np.ndarray
    anomaly: np.ndarray
    inv_customer: np.ndarray
    inv_country: np.ndarray
    inv_time_ns: np.ndarray
    inv_prefix: np.ndarray


def _purchase_lines(
    rng: np.random.Generator,
    orders: _Orders,
    cust: _Customers,
    catalogue: _Catalogue,
    calendar: _Calendar,
) -> _Lines:
    """Expand purchase orders (registered and guest) into priced product lines."""
    n_inv = len(orders.u)
    invoice = np.repeat(np.arange(n_inv), orders.lines)
    n = len(invoice)
    customer = orders.customer[invoice]
    registered = customer >= 0
    first_of_invoice = np.concatenate([[True], invoice[1:] != invoice[:-1]])

    product = _choice(rng, catalogue.popularity, n)
    favourite = registered & (rng.random(n) < _FAVOURITE_SHARE)
    seeds = cust.favourite_seed[customer[favourite]]
    slot = rng.integers(0, _FAVOURITES, size=len(seeds))
    product[favourite] = (seeds + slot * 7_919) % catalogue.n_products

    wholesale = registered & cust.wholesale[np.where(registered, customer, 0)]
    retail_q = tables.RETAIL_PACKS[_choice(rng, tables.RETAIL_PACK_WEIGHTS, n)]
    bulk_q = tables.WHOLESALE_PACKS[_choice(rng, tables.WHOLESALE_PACK_WEIGHTS, n)]
    quantity = np.where(wholesale, bulk_q, retail_q).astype(np.int64)
    price = catalogue.prices[product] * np.where(quantity >= 24, 0.85, 1.0)
    price = np.maximum(np.round(price * 100) / 100, 0.01)

    dup = np.flatnonzero(~first_of_invoice & (rng.random(n) < _DUPLICATE_SHARE))
    product[dup], quantity[dup], price[dup] = product[dup - 1], quantity[dup - 1], price[dup - 1]

    service = np.flatnonzero(rng.random(n) < _SERVICE_SHARE)
    kind = _choice(rng, tables.NON_MERCHANDISE_WEIGHTS, len(service))
    product[service] = catalogue.service(kind)
    quantity[service] = 1
    typical = catalogue.prices[product[service]]
    price[service] = np.round(typical * rng.lognormal(0.0, 0.3, len(service)), 2)

    gift = np.flatnonzero(registered & (rng.random(n) < _GIFT_SHARE))
    price[gift] = 0.0
    no_description = np.zeros(n, dtype=bool)
    write_off = np.flatnonzero(~registered & (rng.random(n) < _WRITE_OFF_SHARE))
    price[write_off], quantity[write_off] = 0.0, -quantity[write_off]
    no_description[write_off] = True

    inv_time = calendar.timestamps(rng, orders.u)
    p_guest = tables.COUNTRY_CUSTOMER_WEIGHTS / tables.COUNTRY_CUSTOMER_WEIGHTS.sum()
    guest_country = _choice(rng, p_guest, n_inv)
    return _Lines(
        invoice=invoice,
        product=product,
        quantity=quantity,
        price=price,
        no_description=no_description,
        time_ns=inv_time[invoice],
        anomaly=np.zeros(n, dtype=bool),
        inv_customer=orders.customer,
        inv_country=np.where(orders.customer >= 0, cust.country[orders.customer], guest_country),
        inv_time_ns=inv_time,
        inv_prefix=np.zeros(n_inv, dtype=np.int8),
    )


def _append(lines: _Lines, extra: _Lines) -> _Lines:
    """Concatenate two line sets, renumbering the second one's invoices."""
    offset = len(lines.inv_time_ns)
    return _Lines(
        invoice=np.concatenate([lines.invoice, extra.invoice + offset]),
        product=np.concatenate([lines.product, extra.product]),
        quantity=np.concatenate([lines.quantity, extra.quantity]),
        price=np.concatenate([lines.price, extra.price]),
        no_description=np.concatenate([lines.no_description, extra.no_description]),
        time_ns=np.concatenate([lines.time_ns, extra.time_ns]),
        anomaly=np.concatenate([lines.anomaly, extra.anomaly]),
        inv_customer=np.concatenate([lines.inv_customer, extra.inv_customer]),
        inv_country=np.concatenate([lines.inv_country, extra.inv_country]),
        inv_time_ns=np.concatenate([lines.inv_time_ns, extra.inv_time_ns]),
        inv_prefix=np.concatenate([lines.inv_prefix, extra.inv_prefix]),
    )


_PREFIXES = ("", "C", "A")


def _cancellations(
    rng: np.random.Generator, lines: _Lines, catalogue: _Catalogue, calendar: _Calendar, rows: int
) -> _Lines:
    """``C`` invoices reversing earlier merchandise lines of registered customers."""
    eligible = np.flatnonzero(
        (lines.inv_customer[lines.invoice] >= 0)
        & (lines.product < catalogue.n_products)
        & (lines.quantity > 0)
        & (lines.price > 0)
    )
    if rows == 0 or len(eligible) == 0:
        return _empty_lines()
    source = np.sort(rng.choice(eligible, size=rows))
    src_invoice, invoice = np.unique(lines.invoice[source], return_inverse=True)
    delay_days = 1 + np.floor(rng.exponential(4.0, size=len(src_invoice))).astype(np.int64)
    inv_time = calendar.next_open(lines.inv_time_ns[src_invoice] + delay_days * _DAY_NS)
    same_day = lines.inv_time_ns[src_invoice] + rng.integers(5, 120, len(src_invoice)) * _MINUTE_NS
    inv_time = np.where(
        inv_time > calendar.last_ns(), np.minimum(same_day, calendar.last_ns()), inv_time
    )
    full = rng.random(rows) < 0.7
    bought = lines.quantity[source]
    returned = np.where(full, bought, rng.integers(1, np.maximum(bought, 1) + 1))
    return _Lines(
        invoice=invoice,
        product=lines.product[source],
        quantity=-returned.astype(np.int64),
        price=lines.price[source],
        no_description=np.zeros(rows, dtype=bool),
        time_ns=inv_time[invoice],
        anomaly=np.zeros(rows, dtype=bool),
        inv_customer=lines.inv_customer[src_invoice],
        inv_country=lines.inv_country[src_invoice],
        inv_time_ns=inv_time,
        inv_prefix=np.full(len(src_invoice), 1, dtype=np.int8),
    )


def _adjustments(
    rng: np.random.Generator, catalogue: _Catalogue, calendar: _Calendar, rows: int
) -> _Lines:
    """``A`` invoices: one bad-debt adjustment line each, mostly negative amounts."""
    amount = np.round(rng.lognormal(np.log(5_000.0), 1.0, rows), 2)
    sign = np.where(rng.random(rows) < 2 / 3, -1.0, 1.0)
    inv_time = calendar.timestamps(rng, calendar.random_u(rng, rows))
    return _Lines(
        invoice=np.arange(rows),
        product=np.full(rows, catalogue.adjustment),
        quantity=np.ones(rows, dtype=np.int64),
        price=sign * amount,
        no_description=np.zeros(rows, dtype=bool),
        time_ns=inv_time,
        anomaly=np.zeros(rows, dtype=bool),
        inv_customer=np.full(rows, -1),
        inv_country=np.zeros(rows, dtype=np.int64),
        inv_time_ns=inv_time,
        inv_prefix=np.full(rows, 2, dtype=np.int8),
    )


def _empty_lines() -> _Lines:
    """A line set without rows."""
    ints, floats, flags = np.empty(0, np.int64), np.empty(0), np.empty(0, dtype=bool)
    return _Lines(
        ints, ints, ints, floats, flags, ints, flags, ints, ints, ints, ints.astype(np.int8)
    )


def _inject_anomalies(
    rng: np.random.Generator, lines: _Lines, catalogue: _Catalogue, rows: int
) -> None:
    """Turn ``rows`` ordinary purchase lines into labelled anomalies, in place."""
    eligible = np.flatnonzero(
        (lines.inv_prefix[lines.invoice] == 0)
        & (lines.product < catalogue.n_products)
        & (lines.quantity > 0)
        & (lines.price > 0)
    )
    rows = min(rows, len(eligible))
    if rows == 0:
        return
    chosen = rng.choice(eligible, size=rows, replace=False)
    kind = rng.integers(0, 4, size=rows)
    big_q, high_p, low_p, night = (chosen[kind == k] for k in range(4))
    lines.quantity[big_q] = np.round(lines.quantity[big_q] * rng.uniform(20, 100, len(big_q)))
    lines.price[high_p] = np.round(lines.price[high_p] * rng.uniform(10, 100, len(high_p)), 2)
    cheap = np.round(lines.price[low_p] * rng.uniform(0.01, 0.1, len(low_p)), 3)
    lines.price[low_p] = np.maximum(cheap, 0.001)
    midnight = lines.time_ns[night] - lines.time_ns[night] % _DAY_NS
    minutes = rng.integers(2 * 60, 5 * 60, len(night))
    lines.time_ns[night] = midnight + minutes * _MINUTE_NS
    lines.anomaly[chosen] = True


# ------------------------------------------------------------------------------ assembly


def _to_frame(
    lines: _Lines,
    catalogue: _Catalogue,
    invoice_number: np.ndarray,
    customer_offset: int,
    with_labels: bool,
) -> pd.DataFrame:
    """Sort lines by invoice number and build the typed frame."""
    position = np.arange(len(lines.invoice))
    order = np.lexsort((position, invoice_number[lines.invoice]))
    invoice = lines.invoice[order]
    prefixes = pa.array(np.array(_PREFIXES)[lines.inv_prefix])
    numbers = pc.cast(pa.array(invoice_number), pa.string())
    invoice_text = pc.binary_join_element_wise(prefixes, numbers, "")
    customer = lines.inv_customer
    customer_text = pc.cast(
        pa.array(tables.FIRST_CUSTOMER + customer_offset + customer, mask=customer < 0),
        pa.string(),
    )
    countries = pa.array(tables.COUNTRIES, pa.string())
    product = pa.array(lines.product[order])
    description = catalogue.descriptions.take(product)
    description = pc.if_else(pa.array(lines.no_description[order]), None, description)
    inv_index = pa.array(invoice)

    def text(array: pa.Array) -> pd.Series:
        return pd.Series(array, dtype=STRING)

    frame = pd.DataFrame(
        {
            INVOICE_NO: text(invoice_text.take(inv_index)),
            STOCK_CODE: text(catalogue.codes.take(product)),
            DESCRIPTION: text(description),
            QUANTITY: lines.quantity[order],
            INVOICE_DATE: lines.time_ns[order].astype("datetime64[ns]"),
            UNIT_PRICE: lines.price[order],
            CUSTOMER_ID: text(customer_text.take(inv_index)),
            COUNTRY: text(countries.take(pa.array(lines.inv_country[invoice]))),
        }
    )
    if with_labels:
        frame[LABEL_COLUMN] = lines.anomaly[order]
    return frame


def _row_budget(n_rows: int) -> tuple[int, int, int, int]:
    """Split ``n_rows`` into registered, guest, cancellation and adjustment rows."""
    adjust = max(1, round(n_rows * _ADJUST_SHARE)) if n_rows >= 1_000 else 0
    cancel = round(n_rows * _CANCEL_SHARE) if n_rows >= 20 else 0
    rest = n_rows - adjust - cancel
    guest = round(rest * _GUEST_SHARE) if n_rows >= 10 else 0
    return rest - guest, guest, cancel, adjust


def _generate_shard(
    spec: GeneratorSpec,
    rng: np.random.Generator,
    customer_offset: int = 0,
    invoice_offset: int = 0,
) -> pd.DataFrame:
    """Generate one self-contained data set (customers, catalogue, invoices) of ``n_rows``."""
    calendar = _Calendar(spec.start, spec.end)
    registered, guest, cancel, adjust = _row_budget(spec.n_rows)
    customers = _draw_customers(rng, spec.customers(registered), calendar.span)
    catalogue = _catalogue(rng, int(np.clip(spec.n_rows // 20, 50, 4_000)))
    parts = [_registered_orders(rng, customers, calendar.span, registered)] if registered else []
    guests = _guest_orders(rng, calendar, guest)
    orders = _Orders(
        np.concatenate([*(p.customer for p in parts), guests.customer]),
        np.concatenate([*(p.u for p in parts), guests.u]),
        np.concatenate([*(p.lines for p in parts), guests.lines]),
    )
    lines = _purchase_lines(rng, orders, customers, catalogue, calendar)
    lines = _append(lines, _cancellations(rng, lines, catalogue, calendar, cancel))
    lines = _append(lines, _adjustments(rng, catalogue, calendar, adjust))
    _inject_anomalies(rng, lines, catalogue, round(spec.n_rows * spec.anomaly_rate))
    chronological = np.lexsort((rng.random(len(lines.inv_time_ns)), lines.inv_time_ns))
    invoice_number = np.empty(len(chronological), dtype=np.int64)
    invoice_number[chronological] = (
        tables.FIRST_INVOICE + invoice_offset + np.arange(len(chronological))
    )
    return _to_frame(lines, catalogue, invoice_number, customer_offset, spec.with_labels)


def generate_transactions(
    n_rows: int,
    *,
    seed: int = 0,
    n_customers: int | None = None,
    start: str = "2010-12-01",
    end: str = "2011-12-09",
    anomaly_rate: float = 0.0,
    with_labels: bool = False,
) -> pd.DataFrame:
    """Generate synthetic transactions with the typed schema of the loader.

    Args:
        n_rows: exact number of rows.
        seed: the random seed; the same arguments always give the same frame.
        n_customers: size of the customer base (default about one per 93 rows, like the
            real data); customers whose orders do not fit in ``n_rows`` do not appear.
        start: first calendar day (inclusive).
        end: last calendar day (inclusive).
        anomaly_rate: share of rows turned into injected anomalies (0 to 0.5).
        with_labels: add the boolean :data:`LABEL_COLUMN` marking injected anomalies.

    Returns:
        ``n_rows`` rows with :data:`TRANSACTION_COLUMNS` (+ the label), sorted by invoice.

    Raises:
        UserError: a setting is out of range.
    """
    spec = GeneratorSpec(n_rows, n_customers, start, end, anomaly_rate, with_labels)
    return _generate_shard(spec, np.random.default_rng(seed))


def iter_generated_chunks(
    n_rows: int,
    *,
    chunk_rows: int = 1_000_000,
    seed: int = 0,
    n_customers: int | None = None,
    start: str = "2010-12-01",
    end: str = "2011-12-09",
    anomaly_rate: float = 0.0,
    with_labels: bool = False,
) -> Iterator[pd.DataFrame]:
    """Generate a huge data set as independent shards of at most ``chunk_rows`` rows.

    Each shard has its own slice of the customer base (disjoint ``CustomerID`` ranges) over
    the whole time window and its own invoice-number range, so the concatenation is a valid
    data set (each customer's history lies in one shard), though not globally sorted by time.

    Args:
        n_rows: total rows over all shards.
        chunk_rows: the most rows per shard.
        seed: the random seed (shard seeds are spawned from it).
        n_customers: total customer base, split across shards in proportion to their rows.
        start: first calendar day (inclusive).
        end: last calendar day (inclusive).
        anomaly_rate: share of injected anomalies.
        with_labels: add the label column.

    Yields:
        Typed frames; their lengths sum to ``n_rows``.

    Raises:
        UserError: a setting is out of range.
    """
    if chunk_rows < 1:
        raise UserError(f"chunk_rows must be at least 1, got {chunk_rows}")
    GeneratorSpec(n_rows, n_customers, start, end, anomaly_rate, with_labels)
    shards = math.ceil(n_rows / chunk_rows)
    sizes = np.full(shards, n_rows // shards)
    sizes[: n_rows % shards] += 1
    # One shard reproduces generate_transactions(n_rows, seed=seed) exactly.
    root = np.random.SeedSequence(seed)
    seeds = [root] if shards == 1 else root.spawn(shards)
    customer_offset = invoice_offset = 0
    for size, child in zip(sizes.tolist(), seeds, strict=True):
        shard_customers = (
            None if n_customers is None else max(1, round(n_customers * size / n_rows))
        )
        spec = GeneratorSpec(size, shard_customers, start, end, anomaly_rate, with_labels)
        yield _generate_shard(spec, np.random.default_rng(child), customer_offset, invoice_offset)
        customer_offset += spec.customers(size)
        invoice_offset += size


def write_transactions(frame: pd.DataFrame | Iterator[pd.DataFrame], path: Path) -> Path:
    """Write transactions to ``.csv``, ``.csv.gz`` or ``.parquet`` (chosen by suffix).

    Dates are written as ISO ``YYYY-MM-DD HH:MM:SS`` in CSV. An iterator of frames (for
    example :func:`iter_generated_chunks`) is written chunk by chunk with bounded memory.

    Args:
        frame: a typed frame, or an iterator of typed frames with the same columns.
        path: the output file; parent directories are created.

    Returns:
        The path written.

    Raises:
        UserError: the suffix is not one of ``.csv``, ``.csv.gz``, ``.parquet``.
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith((".csv", ".csv.gz", ".parquet")):
        raise UserError(f"{path}: output must end in .csv, .csv.gz or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    chunks = iter([frame]) if isinstance(frame, pd.DataFrame) else frame
    if name.endswith(".parquet"):
        _write_parquet(chunks, path)
    else:
        _write_csv(chunks, path, gzip=name.endswith(".gz"))
    return path


def _write_csv(chunks: Iterator[pd.DataFrame], path: Path, *, gzip: bool) -> None:
    """Stream frames to one CSV file (gzip-compressed when asked) with Arrow's writer."""
    sink = pa.CompressedOutputStream(str(path), "gzip") if gzip else pa.OSFile(str(path), "wb")
    writer: pacsv.CSVWriter | None = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            position = table.schema.get_field_index(INVOICE_DATE)
            seconds = pc.cast(table.column(position), pa.timestamp("s"), safe=False)
            dates = pc.cast(seconds, pa.string())  # "YYYY-MM-DD HH:MM:SS", ISO 8601
            table = table.set_column(position, INVOICE_DATE, dates)
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
        sink.close()


def _write_parquet(chunks: Iterator[pd.DataFrame], path: Path) -> None:
    """Write frames to one Parquet file, one row group per frame."""
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in chunks:
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
