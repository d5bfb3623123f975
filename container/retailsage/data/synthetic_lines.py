"""Transaction lines of the synthetic generator and the typed frame (internal to it).

Used only by :mod:`retailsage.data.synthetic`: expands orders into priced product lines
(favourites, pack quantities, duplicates, service lines, gifts, guest write-offs), adds
``C`` cancellation and ``A`` adjustment invoices, injects labelled anomalies and builds the
typed frame sorted by invoice number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retailsage.data import schema
from retailsage.data import synthetic_tables as tables
from retailsage.data.coerce import STRING
from retailsage.data.sources import LABEL_COLUMN
from retailsage.data.synthetic_catalogue import Catalogue
from retailsage.data.synthetic_orders import DAY_NS, MINUTE_NS, Calendar, Customers, Orders, choice

_DUPLICATE_SHARE = 0.004
_SERVICE_SHARE = 0.005
_GIFT_SHARE = 0.001
_WRITE_OFF_SHARE = 0.004
_FAVOURITES = 30
_FAVOURITE_SHARE = 0.25


# ---------------------------------------------------------------------------------- lines


@dataclass
class Lines:
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


def purchase_lines(
    rng: np.random.Generator,
    orders: Orders,
    cust: Customers,
    catalogue: Catalogue,
    calendar: Calendar,
) -> Lines:
    """Expand purchase orders (registered and guest) into priced product lines."""
    n_inv = len(orders.u)
    invoice = np.repeat(np.arange(n_inv), orders.lines)
    n = len(invoice)
    customer = orders.customer[invoice]
    registered = customer >= 0
    first_of_invoice = np.concatenate([[True], invoice[1:] != invoice[:-1]])

    product = choice(rng, catalogue.popularity, n)
    favourite = registered & (rng.random(n) < _FAVOURITE_SHARE)
    seeds = cust.favourite_seed[customer[favourite]]
    slot = rng.integers(0, _FAVOURITES, size=len(seeds))
    product[favourite] = (seeds + slot * 7_919) % catalogue.n_products

    wholesale = registered & cust.wholesale[np.where(registered, customer, 0)]
    retail_q = tables.RETAIL_PACKS[choice(rng, tables.RETAIL_PACK_WEIGHTS, n)]
    bulk_q = tables.WHOLESALE_PACKS[choice(rng, tables.WHOLESALE_PACK_WEIGHTS, n)]
    quantity = np.where(wholesale, bulk_q, retail_q).astype(np.int64)
    price = catalogue.prices[product] * np.where(quantity >= 24, 0.85, 1.0)
    price = np.maximum(np.round(price * 100) / 100, 0.01)

    dup = np.flatnonzero(~first_of_invoice & (rng.random(n) < _DUPLICATE_SHARE))
    product[dup], quantity[dup], price[dup] = product[dup - 1], quantity[dup - 1], price[dup - 1]

    service = np.flatnonzero(rng.random(n) < _SERVICE_SHARE)
    kind = choice(rng, tables.NON_MERCHANDISE_WEIGHTS, len(service))
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
    guest_country = choice(rng, p_guest, n_inv)
    return Lines(
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


def append_lines(lines: Lines, extra: Lines) -> Lines:
    """Concatenate two line sets, renumbering the second one's invoices."""
    offset = len(lines.inv_time_ns)
    return Lines(
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


def cancellations(
    rng: np.random.Generator, lines: Lines, catalogue: Catalogue, calendar: Calendar, rows: int
) -> Lines:
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
    inv_time = calendar.next_open(lines.inv_time_ns[src_invoice] + delay_days * DAY_NS)
    same_day = lines.inv_time_ns[src_invoice] + rng.integers(5, 120, len(src_invoice)) * MINUTE_NS
    inv_time = np.where(
        inv_time > calendar.last_ns(), np.minimum(same_day, calendar.last_ns()), inv_time
    )
    full = rng.random(rows) < 0.7
    bought = lines.quantity[source]
    returned = np.where(full, bought, rng.integers(1, np.maximum(bought, 1) + 1))
    return Lines(
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


def adjustments(
    rng: np.random.Generator, catalogue: Catalogue, calendar: Calendar, rows: int
) -> Lines:
    """``A`` invoices: one bad-debt adjustment line each, mostly negative amounts."""
    amount = np.round(rng.lognormal(np.log(5_000.0), 1.0, rows), 2)
    sign = np.where(rng.random(rows) < 2 / 3, -1.0, 1.0)
    inv_time = calendar.timestamps(rng, calendar.random_u(rng, rows))
    return Lines(
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


def _empty_lines() -> Lines:
    """A line set without rows."""
    ints, floats, flags = np.empty(0, np.int64), np.empty(0), np.empty(0, dtype=bool)
    return Lines(
        ints, ints, ints, floats, flags, ints, flags, ints, ints, ints, ints.astype(np.int8)
    )


def inject_anomalies(
    rng: np.random.Generator, lines: Lines, catalogue: Catalogue, rows: int
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
    midnight = lines.time_ns[night] - lines.time_ns[night] % DAY_NS
    minutes = rng.integers(2 * 60, 5 * 60, len(night))
    lines.time_ns[night] = midnight + minutes * MINUTE_NS
    lines.anomaly[chosen] = True


# ------------------------------------------------------------------------------ assembly


def to_frame(
    lines: Lines,
    catalogue: Catalogue,
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
            schema.INVOICE_NO: text(invoice_text.take(inv_index)),
            schema.STOCK_CODE: text(catalogue.codes.take(product)),
            schema.DESCRIPTION: text(description),
            schema.QUANTITY: lines.quantity[order],
            schema.INVOICE_DATE: lines.time_ns[order].astype("datetime64[ns]"),
            schema.UNIT_PRICE: lines.price[order],
            schema.CUSTOMER_ID: text(customer_text.take(inv_index)),
            schema.COUNTRY: text(countries.take(pa.array(lines.inv_country[invoice]))),
        }
    )
    if with_labels:
        frame[LABEL_COLUMN] = lines.anomaly[order]
    return frame
