"""Small synthetic inputs, tiny configs and the contract-suite case type for model tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.models.lstm_gap import LSTMGapConfig
from retailsage.models.pca_kmeans import PcaKmeansConfig
from retailsage.models.xgboost_gap import XGBoostGapConfig

COUNTRIES = np.array(["United Kingdom", "Germany", "France"])


def make_transactions(n_customers: int = 80, seed: int = 7) -> pd.DataFrame:
    """Typed transaction lines: customers with their own gamma-distributed order cadence."""
    rng = np.random.default_rng(seed)
    orders_per = rng.integers(3, 12, n_customers)
    customer = np.repeat(np.arange(n_customers), orders_per)
    cadence = rng.gamma(2.0, 12.0, n_customers)[customer]
    gaps = np.maximum(1, rng.gamma(3.0, cadence / 3.0)).round()
    first = np.r_[0, np.cumsum(orders_per)[:-1]]
    gaps[first] = rng.integers(0, 60, n_customers)
    cumulative = np.cumsum(gaps)
    day = cumulative - np.repeat(cumulative[first] - gaps[first], orders_per)
    lines_per = rng.integers(1, 5, len(customer))
    line_order = np.repeat(np.arange(len(customer)), lines_per)
    n_lines = len(line_order)
    items = rng.integers(0, 30, n_lines)
    price = np.round((1.0 + items % 7) * rng.lognormal(0, 0.05, n_lines), 2)
    hour = rng.integers(8, 18, n_lines)
    date = (
        pd.Timestamp("2011-01-03")
        + pd.to_timedelta(day[line_order], unit="D")
        + pd.to_timedelta(hour, unit="h")
    )
    cust = customer[line_order]
    return pd.DataFrame(
        {
            "InvoiceNo": pd.array((500000 + line_order).astype(str), dtype="string"),
            "StockCode": pd.array((20000 + items).astype(str), dtype="string"),
            "Description": pd.array([f"ITEM {i}" for i in items], dtype="string"),
            "Quantity": rng.integers(1, 24, n_lines).astype(np.int64),
            "InvoiceDate": date.astype("datetime64[ns]"),
            "UnitPrice": price.astype(np.float64),
            "CustomerID": pd.array((12000 + cust).astype(str), dtype="string"),
            "Country": pd.array(COUNTRIES[cust % 3], dtype="string"),
        }
    )[list(TRANSACTION_COLUMNS)]


@dataclass(frozen=True)
class FamilyCase:
    """One family's tiny config and data for the contract suite."""

    name: str
    config: Any
    train: pd.DataFrame
    validation: pd.DataFrame | None
    score: pd.DataFrame
    numeric_column: str


TINY_CONFIGS: dict[str, Callable[[], Any]] = {
    "pca_kmeans": lambda: PcaKmeansConfig(n_clusters=3, n_init=1),
    "xgboost": lambda: XGBoostGapConfig(num_round=15, early_stopping_rounds=0, nthread=1),
    "lstm": lambda: LSTMGapConfig(epochs=2, hidden_size=8, batch_size=64),
}
