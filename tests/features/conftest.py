"""Fixtures for the feature tests: small, hand-typed transaction frames."""

from __future__ import annotations

import pandas as pd
import pytest
from feature_frames import random_clean_lines, typed_lines


@pytest.fixture
def tiny_history() -> pd.DataFrame:
    """Two customers; A orders on 4 days (two invoices on day 1), B once."""
    return typed_lines(
        [
            ("1", "10001", "MUG", 2, "2011-01-03 09:00", 1.50, "A1", "United Kingdom"),
            ("1", "10002", "CUP", 4, "2011-01-03 09:00", 2.00, "A1", "United Kingdom"),
            ("2", "10001", "MUG", 1, "2011-01-03 15:30", 1.50, "A1", "United Kingdom"),
            ("3", "10003", "BOWL", 10, "2011-01-13 11:00", 0.50, "A1", "United Kingdom"),
            ("4", "10002", "CUP", 3, "2011-01-17 10:00", 2.00, "A1", "France"),
            ("5", "10001", "MUG", 6, "2011-02-16 12:00", 1.00, "A1", "United Kingdom"),
            ("6", "10003", "BOWL", 1, "2011-01-10 10:00", 5.00, "B2", "Germany"),
        ]
    )


@pytest.fixture(scope="module")
def random_lines() -> pd.DataFrame:
    """About 3,000 random clean lines of 60 customers."""
    return random_clean_lines(3000, 60, seed=7)
