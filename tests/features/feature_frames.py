"""Builders of small, hand-typed transaction frames for the feature tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retailsage.data.schema import TRANSACTION_COLUMNS

Line = tuple[str, str, str, int, str, float, str | None, str]


def typed_lines(records: Sequence[Line]) -> pd.DataFrame:
    """Build a transaction frame with the loader's dtypes from plain tuples."""
    frame = pd.DataFrame.from_records(list(records), columns=list(TRANSACTION_COLUMNS))
    return frame.astype(
        {
            "InvoiceNo": "string",
            "StockCode": "string",
            "Description": "string",
            "Quantity": "int64",
            "InvoiceDate": "datetime64[ns]",
            "UnitPrice": "float64",
            "CustomerID": "string",
            "Country": "string",
        }
    )


def random_clean_lines(n_lines: int, n_customers: int, seed: int) -> pd.DataFrame:
    """Random clean lines (positive quantity and price) over one year, built vectorised."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2011-01-01T08:00", "m")
    minutes = rng.integers(0, 365 * 24 * 60, n_lines)
    customers = rng.integers(0, n_customers, n_lines)
    return pd.DataFrame(
        {
            "InvoiceNo": pd.array((540000 + rng.integers(0, 5000, n_lines)).astype(str), "string"),
            "StockCode": pd.array(
                (20000 + rng.integers(0, 40, n_lines)).astype(str), dtype="string"
            ),
            "Description": pd.array(np.full(n_lines, "ITEM"), dtype="string"),
            "Quantity": rng.integers(1, 50, n_lines).astype(np.int64),
            "InvoiceDate": (start + minutes).astype("datetime64[ns]"),
            "UnitPrice": np.round(rng.uniform(0.3, 20.0, n_lines), 2),
            "CustomerID": pd.array((12000 + customers).astype(str), dtype="string"),
            "Country": pd.array(
                np.where(customers % 3 == 0, "France", "United Kingdom"), dtype="string"
            ),
        }
    )
