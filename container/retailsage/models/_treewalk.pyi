"""Type stub for the C extension built from ``_treewalk.c``."""

import numpy as np

def predict(
    nodes: np.ndarray,
    values: np.ndarray,
    roots: np.ndarray,
    depths: np.ndarray,
    x: np.ndarray,
    n_features: int,
    out: np.ndarray,
) -> None:
    """Add each row's leaf values to ``out`` (float32, pre-filled with the base margin)."""
