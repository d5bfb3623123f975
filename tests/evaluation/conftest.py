"""Fixtures for the evaluation tests: one BLAS/OpenMP thread on the shared test box."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="session", autouse=True)
def _single_thread_eval() -> Iterator[None]:
    """Tiny fits run fastest single-threaded on a loaded 2-core machine."""
    with threadpool_limits(1):
        yield
