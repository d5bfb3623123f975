"""The product catalogue of the synthetic generator (internal to it).

Used only by :mod:`retailsage.data.synthetic`: products with stock codes, generated names,
log-normal prices and Zipf-like popularity, followed by the service lines (postage, manual
fixes, fees) and the bad-debt adjustment line of :mod:`retailsage.data.synthetic_tables`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from retailsage.data import synthetic_tables as tables


@dataclass(frozen=True)
class Catalogue:
    """Catalogue arrays: products first, then service lines, then the adjustment line."""

    codes: pa.Array
    descriptions: pa.Array
    prices: np.ndarray
    popularity: np.ndarray
    n_products: int

    def service(self, k: np.ndarray) -> np.ndarray:
        """Catalogue index of service line kinds (postage, manual, fees)."""
        return self.n_products + k

    @property
    def adjustment(self) -> int:
        """Catalogue index of the bad-debt adjustment line."""
        return self.n_products + len(tables.NON_MERCHANDISE)


def draw_catalogue(rng: np.random.Generator, n_products: int) -> Catalogue:
    """Products with 5-digit stock codes (some lettered variants), names and prices."""
    numbers = rng.choice(np.arange(10_002, 90_000), size=n_products, replace=False)
    letters = np.array(["", "", "", "", "A", "B", "C", "D", "E", "F", "G", "L", "S"])
    codes = pd.Series(numbers.astype(str)) + letters[rng.integers(0, len(letters), n_products)]
    adjective = np.array(tables.ADJECTIVES)[rng.integers(0, len(tables.ADJECTIVES), n_products)]
    colour = np.array(tables.COLOURS)[rng.integers(0, len(tables.COLOURS), n_products)]
    noun = np.array(tables.NOUNS)[rng.integers(0, len(tables.NOUNS), n_products)]
    names = pd.Series(adjective) + " " + pd.Series(colour) + " " + pd.Series(noun)
    prices = np.maximum(np.round(rng.lognormal(np.log(2.1), 0.85, n_products) * 20) / 20, 0.05)
    rank = rng.permutation(n_products)
    popularity = 1.0 / (rank + 10.0) ** 0.9
    service_codes = [code for code, _, _ in tables.NON_MERCHANDISE] + [tables.ADJUSTMENT_CODE]
    service_names = [name for _, name, _ in tables.NON_MERCHANDISE]
    service_names.append(tables.ADJUSTMENT_DESCRIPTION)
    service_prices = [price for _, _, price in tables.NON_MERCHANDISE] + [0.0]
    return Catalogue(
        codes=pa.array([*codes.tolist(), *service_codes], pa.string()),
        descriptions=pa.array([*names.tolist(), *service_names], pa.string()),
        prices=np.concatenate([prices, service_prices]),
        popularity=popularity / popularity.sum(),
        n_products=n_products,
    )
