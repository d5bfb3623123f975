"""Fixtures for the model-family tests: synthetic transactions, gap rows, contract cases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import torch
from tests.models.model_cases import TINY_CONFIGS, FamilyCase, make_transactions
from threadpoolctl import threadpool_limits

from retailsage.features.gap import TARGET, gap_training_rows
from retailsage.models.registry import get_family


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> Iterator[None]:
    """One BLAS/OpenMP/torch thread: tiny fits on a shared 2-core box run fastest that way."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def transactions() -> pd.DataFrame:
    """About 1,500 typed transaction lines."""
    return make_transactions()


@pytest.fixture(scope="session")
def gap_rows(transactions: pd.DataFrame) -> pd.DataFrame:
    """Gap training rows with an observed target."""
    rows = gap_training_rows(transactions)
    return rows.loc[rows[TARGET].notna()].reset_index(drop=True)


@pytest.fixture(scope="session")
def family_case(
    request: pytest.FixtureRequest, transactions: pd.DataFrame, gap_rows: pd.DataFrame
) -> FamilyCase:
    """The contract-suite case for the family named by the test's parameter."""
    name: str = request.param
    if name == "pca_kmeans":
        return FamilyCase(
            name, TINY_CONFIGS[name](), transactions, None, transactions.iloc[:200], "Quantity"
        )
    half = len(gap_rows) * 3 // 4
    train, validation = gap_rows.iloc[:half], gap_rows.iloc[half:]
    return FamilyCase(
        name, TINY_CONFIGS[name](), train, validation, validation.iloc[:50], "order_value"
    )


@pytest.fixture(scope="session")
def fitted(family_case: FamilyCase) -> Any:
    """The case's family fitted once per session (tests needing a fresh fit make their own)."""
    return get_family(family_case.name)(family_case.config).fit(
        family_case.train, family_case.validation
    )
