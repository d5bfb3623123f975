"""Fixtures for the data-area tests: small generated frames and hand-written files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from retailsage.data.synthetic import generate_transactions

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    """3,000 generated rows with labelled anomalies (shared, treat as read-only)."""
    return generate_transactions(3_000, seed=11, anomaly_rate=0.02, with_labels=True)


@pytest.fixture(scope="session")
def year_frame() -> pd.DataFrame:
    """60,000 generated rows over the default year, for structure checks (read-only)."""
    return generate_transactions(60_000, seed=5, anomaly_rate=0.01, with_labels=True)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write CSV text (header added unless given) to a file under tmp_path."""

    def write(body: str, name: str = "part.csv", header: str | None = HEADER) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = body if header is None else f"{header}\n{body}"
        path.write_text(text, encoding="utf-8")
        return path

    return write
