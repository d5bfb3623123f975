"""``retailsage generate``: write synthetic transactions to CSV, CSV.gz or Parquet."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from retailsage.data.synthetic import iter_generated_chunks, write_transactions

logger = logging.getLogger(__name__)

_CHUNK_ROWS = 1_000_000


def _positive_int(text: str) -> int:
    """Parse a positive integer argument (``1_000_000`` and ``1e6`` style accepted)."""
    try:
        value = int(float(text.replace("_", "")))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``generate`` sub-command.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.
    """
    parser = subparsers.add_parser(
        "generate",
        help="write synthetic Online Retail transactions",
        description=(
            "Write seeded synthetic transactions in the Online Retail schema. Sizes above "
            f"{_CHUNK_ROWS:,} rows are generated and written in independent customer shards "
            "with bounded memory."
        ),
    )
    parser.add_argument("--rows", type=_positive_int, required=True, help="number of rows")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--out", type=Path, required=True, help="output file: .csv, .csv.gz or .parquet"
    )
    parser.add_argument(
        "--anomaly-rate", type=float, default=0.0, help="share of injected anomalies (0-0.5)"
    )
    parser.add_argument(
        "--with-labels", action="store_true", help="add the injected_anomaly label column"
    )
    parser.add_argument("--customers", type=_positive_int, default=None, help="customer base")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the data set described by the parsed arguments.

    Args:
        args: parsed ``generate`` arguments.

    Returns:
        0 on success.

    Raises:
        UserError: a bad setting or output path (``retailsage`` exits 2).
    """
    chunks = iter_generated_chunks(
        args.rows,
        chunk_rows=_CHUNK_ROWS,
        seed=args.seed,
        n_customers=args.customers,
        anomaly_rate=args.anomaly_rate,
        with_labels=args.with_labels,
    )
    path = write_transactions(chunks, args.out)
    logger.info("wrote %d synthetic transactions to %s", args.rows, path)
    return 0
