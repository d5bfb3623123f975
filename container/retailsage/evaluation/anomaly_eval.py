"""Anomaly evaluation on transaction lines: natural labels and injected errors.

The label definitions live here and only here; the detector never sees them.

* **Natural labels** (mode ``natural``): a test line is anomalous when its stock code is a
  non-merchandise code (postage, manual, fees, charity, ...) or its unit price is <= 0.
  Cancellation lines (InvoiceNo "C...") are excluded from the test set: they are neither
  "normal" merchandise sales nor errors by this definition, so scoring them either way would
  measure the label choice rather than the detector.
* **Injected errors** (mode ``injected``): from the clean test lines (no natural label, no
  cancellation) a seeded fraction is corrupted: quantity x20-100, price x10-100 or x0.01-0.1,
  or the timestamp moved to off-hours (00:00-05:59); these are the positives, the untouched
  clean lines the negatives.

Training always uses the lines before the cutoff, unlabeled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from retailsage.data.schema import INVOICE_DATE, INVOICE_NO, QUANTITY, STOCK_CODE, UNIT_PRICE
from retailsage.evaluation.metrics import anomaly_metrics
from retailsage.evaluation.plots import write_anomaly_plots

NON_MERCHANDISE_CODES: frozenset[str] = frozenset(
    {"POST", "DOT", "M", "m", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "B", "PADS"}
)
INJECTION_KINDS: tuple[str, ...] = ("quantity", "price_high", "price_low", "off_hours")


@dataclass(frozen=True)
class LabeledLines:
    """Test lines with 0/1 labels for one evaluation mode."""

    lines: pd.DataFrame
    labels: np.ndarray
    mode: str
    kind: np.ndarray | None = None
    """Injected mode only: index into ``INJECTION_KINDS`` per line, -1 where not injected."""


def natural_labels(lines: pd.DataFrame) -> np.ndarray:
    """1 for non-merchandise stock codes or a unit price <= 0, else 0."""
    codes = lines[STOCK_CODE].astype("string").str.strip()
    named = codes.isin(NON_MERCHANDISE_CODES).to_numpy(dtype=bool, na_value=False)
    free = lines[UNIT_PRICE].to_numpy(dtype=np.float64) <= 0.0
    return (named | free).astype(np.int64)


def is_cancellation(lines: pd.DataFrame) -> np.ndarray:
    """True for lines of cancellation invoices (InvoiceNo starting with "C")."""
    prefix = lines[INVOICE_NO].astype("string").str.strip().str[:1].str.upper()
    return (prefix == "C").to_numpy(dtype=bool, na_value=False)


def split_lines(lines: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split lines into before-cutoff (train) and on/after-cutoff (test)."""
    before = (lines[INVOICE_DATE] < cutoff).to_numpy()
    return lines.loc[before], lines.loc[~before]


def natural_test_set(test: pd.DataFrame) -> LabeledLines:
    """Mode (a): test lines without cancellations, labeled by :func:`natural_labels`."""
    kept = test.loc[~is_cancellation(test)]
    return LabeledLines(kept, natural_labels(kept), "natural")


def injected_test_set(test: pd.DataFrame, *, rate: float = 0.02, seed: int = 0) -> LabeledLines:
    """Mode (b): corrupt a seeded ``rate`` of the clean test lines, label those 1.

    Args:
        test: raw test lines.
        rate: fraction of clean lines to corrupt.
        seed: random seed.

    Returns:
        Clean lines plus the corrupted ones, labeled.
    """
    clean = test.loc[~is_cancellation(test) & (natural_labels(test) == 0)].copy()
    rng = np.random.default_rng(seed)
    chosen = rng.random(len(clean)) < rate
    kind = rng.integers(0, len(INJECTION_KINDS), len(clean))
    quantity = clean[QUANTITY].to_numpy(dtype=np.int64).copy()
    price = clean[UNIT_PRICE].to_numpy(dtype=np.float64).copy()
    dates = clean[INVOICE_DATE].to_numpy().copy()
    hit = chosen & (kind == 0)
    quantity[hit] = quantity[hit] * rng.integers(20, 101, int(hit.sum()))
    hit = chosen & (kind == 1)
    price[hit] = np.round(price[hit] * rng.uniform(10.0, 100.0, int(hit.sum())), 2)
    hit = chosen & (kind == 2)
    price[hit] = np.maximum(np.round(price[hit] * rng.uniform(0.01, 0.1, int(hit.sum())), 3), 0.001)
    hit = chosen & (kind == 3)
    days = dates[hit].astype("datetime64[D]")
    minutes = rng.integers(0, 6 * 60, int(hit.sum())).astype("timedelta64[m]")
    dates[hit] = (days + minutes).astype(dates.dtype)
    clean[QUANTITY] = quantity
    clean[UNIT_PRICE] = price
    clean[INVOICE_DATE] = dates
    return LabeledLines(clean, chosen.astype(np.int64), "injected", np.where(chosen, kind, -1))


def evaluate_anomaly(
    lines: pd.DataFrame,
    cutoff: pd.Timestamp,
    config: Any,
    out_dir: Path | None = None,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit the detector on lines before ``cutoff``; score both modes against an Isolation Forest.

    The Isolation Forest (scikit-learn defaults, same seed) sees exactly the detector's feature
    matrix, so the comparison isolates the model, not the features.

    Args:
        lines: raw transaction lines (``prepare_anomaly_lines`` output).
        cutoff: train/test boundary.
        config: the ``pca_kmeans`` config.
        out_dir: where the score histogram is written (``None``: no plot).
        seed: seed of the error injection and of the Isolation Forest.

    Returns:
        JSON-safe metrics per mode for ``pca_kmeans`` and ``isolation_forest``.
    """
    from retailsage.models.pca_kmeans import PcaKmeansAnomaly

    train, test = split_lines(lines, cutoff)
    started = time.perf_counter()
    model = PcaKmeansAnomaly(config).fit(train)
    fit_seconds = time.perf_counter() - started
    forest = IsolationForest(random_state=seed).fit(model.features(train))
    results: dict[str, Any] = {
        "task": "anomaly",
        "model_type": "pca_kmeans",
        "cutoff": str(cutoff.date()),
        "n_train": len(train),
        "fit_seconds": round(fit_seconds, 2),
    }
    for labeled in (natural_test_set(test), injected_test_set(test, seed=seed)):
        scores = model.predict(labeled.lines)
        forest_scores = -forest.score_samples(model.features(labeled.lines))
        results[labeled.mode] = {
            "n_test": len(labeled.lines),
            "pca_kmeans": anomaly_metrics(labeled.labels, scores["anomaly_score"].to_numpy()),
            "isolation_forest": anomaly_metrics(labeled.labels, forest_scores),
            "flagged_fraction": float(scores["is_anomaly"].mean()),
        }
    if out_dir is not None and model.projection_ is not None:
        labeled = natural_test_set(test)
        natural = model.predict(labeled.lines)["anomaly_score"].to_numpy()
        plots = write_anomaly_plots(
            natural,
            model.projection_.threshold,
            out_dir,
            labels=labeled.labels,
            protocol=f"test set ({labeled.mode} labels)",
        )
        results["plots"] = [str(p) for p in plots]
    return results
