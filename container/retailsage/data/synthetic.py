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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from retailsage.core.errors import UserError
from retailsage.data import synthetic_tables as tables
from retailsage.data.schema import INVOICE_DATE
from retailsage.data.sources import LABEL_COLUMN
from retailsage.data.synthetic_catalogue import draw_catalogue
from retailsage.data.synthetic_lines import (
    adjustments,
    append_lines,
    cancellations,
    inject_anomalies,
    purchase_lines,
    to_frame,
)
from retailsage.data.synthetic_orders import (
    Calendar,
    Orders,
    draw_customers,
    guest_orders,
    registered_orders,
)

__all__ = [
    "LABEL_COLUMN",
    "GeneratorSpec",
    "generate_transactions",
    "iter_generated_chunks",
    "write_transactions",
]

_LINES_PER_CUSTOMER = 93.0
_GUEST_SHARE = 0.22
_CANCEL_SHARE = 0.017
_ADJUST_SHARE = 5e-5


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
    calendar = Calendar(spec.start, spec.end)
    registered, guest, cancel, adjust = _row_budget(spec.n_rows)
    customers = draw_customers(rng, spec.customers(registered), calendar.span)
    catalogue = draw_catalogue(rng, int(np.clip(spec.n_rows // 20, 50, 4_000)))
    parts = [registered_orders(rng, customers, calendar.span, registered)] if registered else []
    guests = guest_orders(rng, calendar, guest)
    orders = Orders(
        np.concatenate([*(p.customer for p in parts), guests.customer]),
        np.concatenate([*(p.u for p in parts), guests.u]),
        np.concatenate([*(p.lines for p in parts), guests.lines]),
    )
    lines = purchase_lines(rng, orders, customers, catalogue, calendar)
    lines = append_lines(lines, cancellations(rng, lines, catalogue, calendar, cancel))
    lines = append_lines(lines, adjustments(rng, catalogue, calendar, adjust))
    inject_anomalies(rng, lines, catalogue, round(spec.n_rows * spec.anomaly_rate))
    chronological = np.lexsort((rng.random(len(lines.inv_time_ns)), lines.inv_time_ns))
    invoice_number = np.empty(len(chronological), dtype=np.int64)
    invoice_number[chronological] = (
        tables.FIRST_INVOICE + invoice_offset + np.arange(len(chronological))
    )
    return to_frame(lines, catalogue, invoice_number, customer_offset, spec.with_labels)


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
        UserError: the suffix is not one of ``.csv``, ``.csv.gz``, ``.parquet``, or the file
            cannot be created or written (no such directory, no permission, disk full).
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith((".csv", ".csv.gz", ".parquet")):
        raise UserError(f"{path}: output must end in .csv, .csv.gz or .parquet")
    chunks = iter([frame]) if isinstance(frame, pd.DataFrame) else frame
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".parquet"):
            _write_parquet(chunks, path)
        else:
            _write_csv(chunks, path, gzip=name.endswith(".gz"))
    except OSError as exc:  # Arrow's IO errors are OSError subclasses too
        raise UserError(f"{path}: cannot write the output file: {exc}") from exc
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
