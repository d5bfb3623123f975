"""Helpers shared by the serve tests and benchmarks: synthetic lines, payloads, apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask

from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.features.gap import GAP_FEATURE_COLUMNS
from retailsage.serve.app import create_app
from retailsage.serve.settings import ServeSettings

COUNTRIES = np.array(["United Kingdom", "France", "Germany", "EIRE"])


def synthetic_transactions(n_rows: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """Clean-looking Online Retail lines: 120 customers, 40 items, one year."""
    rng = np.random.default_rng(seed)
    customers = rng.integers(12_000, 12_120, n_rows)
    items = rng.integers(0, 40, n_rows)
    minutes = rng.integers(0, 365 * 24 * 60, n_rows)
    dates = pd.Timestamp("2011-01-01") + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame(
        {
            "InvoiceNo": pd.array((536_000 + minutes // 90).astype(str), dtype="string"),
            "StockCode": pd.array((20_000 + items).astype(str), dtype="string"),
            "Description": pd.array(np.char.add("ITEM ", items.astype(str)), dtype="string"),
            "Quantity": rng.integers(1, 24, n_rows).astype(np.int64),
            "InvoiceDate": dates.astype("datetime64[ns]"),
            "UnitPrice": np.round(1.0 + items * 0.25 + rng.random(n_rows), 2),
            "CustomerID": pd.array(customers.astype(str), dtype="string"),
            "Country": pd.array(COUNTRIES[customers % 4], dtype="string"),
        }
    )[list(TRANSACTION_COLUMNS)]


def gap_csv(snapshots: pd.DataFrame, *, with_ids: bool = False) -> bytes:
    """Headerless CSV of snapshot rows (model inputs only, or CustomerID,as_of_date first)."""
    columns = (
        ["CustomerID", "as_of_date", *GAP_FEATURE_COLUMNS]
        if with_ids
        else list(GAP_FEATURE_COLUMNS)
    )
    frame = snapshots[columns].copy()
    if with_ids:
        frame["as_of_date"] = frame["as_of_date"].dt.strftime("%Y-%m-%d")
    return frame.to_csv(header=False, index=False, lineterminator="\n").encode()


def make_app(model_dir: Path, **settings: Any) -> Flask:
    """create_app with explicit settings (no environment reads)."""
    return create_app(model_dir, ServeSettings(model_dir=model_dir, **settings))
