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

Honest reporting (:func:`evaluate_anomaly`): the natural labels are a hand-picked list of stock
codes, and the detector's ``is_nonstandard_code`` input (stock-code shape) reproduces most of
that list, so the natural-label AUC is close to circular. It is therefore reported three more
ways: with the detector refitted without that input (``natural_without_code_shape``), on the
price <= 0 lines alone (``price_nonpositive``), and against the trivial two-input rule
``is_nonstandard_code + [price <= 0]``. Injected errors are the headline: per-kind AUC and the
mean +- standard deviation over injection seeds.
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
from retailsage.features.anomaly import ANOMALY_DISTANCE_COLUMNS

NON_MERCHANDISE_CODES: frozenset[str] = frozenset(
    {"POST", "DOT", "M", "m", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "B", "PADS"}
)
INJECTION_KINDS: tuple[str, ...] = ("quantity", "price_high", "price_low", "off_hours")
CODE_SHAPE_FEATURE = "is_nonstandard_code"
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)


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


def natural_rule_score(features: pd.DataFrame, lines: pd.DataFrame) -> np.ndarray:
    """The trivial two-input rule for natural labels: code shape plus ``price <= 0``.

    Args:
        features: the featurizer's output for ``lines``.
        lines: the raw lines.

    Returns:
        ``is_nonstandard_code + [UnitPrice <= 0]`` per line (0, 1 or 2).
    """
    free = (lines[UNIT_PRICE].to_numpy(dtype=np.float64) <= 0.0).astype(np.float64)
    return np.asarray(features[CODE_SHAPE_FEATURE].to_numpy() + free)


def injected_rule_score(features: pd.DataFrame) -> np.ndarray:
    """The trivial two-input rule for injected errors: the larger item-relative |z|.

    Args:
        features: the featurizer's output.

    Returns:
        ``max(|price_vs_item_z|, |quantity_vs_item_z|)`` per line.
    """
    price = np.abs(features["price_vs_item_z"].to_numpy())
    quantity = np.abs(features["quantity_vs_item_z"].to_numpy())
    return np.asarray(np.maximum(price, quantity))


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC rounded for the report."""
    return round(float(anomaly_metrics(labels, scores)["roc_auc"]), 4)


def _spread(values: list[float]) -> dict[str, Any]:
    """Mean, population standard deviation and the values themselves."""
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(array.mean()), 4),
        "std": round(float(array.std()), 4),
        "values": [round(v, 4) for v in values],
    }


def evaluate_anomaly(
    lines: pd.DataFrame,
    cutoff: pd.Timestamp,
    config: Any,
    out_dir: Path | None = None,
    *,
    seed: int = 0,
    seeds: tuple[int, ...] = DEFAULT_SEEDS,
) -> dict[str, Any]:
    """Fit the detector on lines before ``cutoff``; score every mode against baselines.

    The Isolation Forest (scikit-learn defaults) sees exactly the detector's feature matrix, so
    the comparison isolates the model, not the features. The detector is fitted once (its own
    ``seed``); the spread over ``seeds`` is that of the error injection and of the forest.

    Args:
        lines: raw transaction lines (``prepare_anomaly_lines`` output).
        cutoff: train/test boundary.
        config: the ``pca_kmeans`` config.
        out_dir: where the score histogram is written (``None``: no plot).
        seed: seed of the reported single injection draw and of the Isolation Forest.
        seeds: injection (and forest) seeds of the mean +- spread.

    Returns:
        JSON-safe metrics: ``natural``, ``natural_without_code_shape``, ``price_nonpositive``,
        ``injected`` (the headline, with ``per_kind`` and ``over_seeds``).
    """
    from retailsage.models.pca_kmeans import PcaKmeansAnomaly

    train, test = split_lines(lines, cutoff)
    started = time.perf_counter()
    model = PcaKmeansAnomaly(config).fit(train)
    fit_seconds = time.perf_counter() - started
    inputs = model.inputs_
    assert inputs is not None and inputs.featurizer is not None, "fitted on transaction lines"
    featurizer = inputs.featurizer
    forest = IsolationForest(random_state=seed).fit(model.features(train))
    results: dict[str, Any] = {
        "task": "anomaly",
        "model_type": "pca_kmeans",
        "cutoff": str(cutoff.date()),
        "n_train": len(train),
        "fit_seconds": round(fit_seconds, 2),
        "headline": "injected",
    }
    natural = natural_test_set(test)
    results["natural"] = _scored(model, forest, natural.lines, natural.labels)
    natural_features = featurizer.transform(natural.lines)
    results["natural"]["rule_two_inputs"] = anomaly_metrics(
        natural.labels, natural_rule_score(natural_features, natural.lines)
    )
    results["natural_without_code_shape"] = _without_code_shape(
        featurizer.transform(train), natural_features, natural.labels, config, seed
    )
    results["price_nonpositive"] = _price_nonpositive(model, forest, natural, natural_features)
    injected = injected_test_set(test, seed=seed)
    results["injected"] = _scored(model, forest, injected.lines, injected.labels)
    results["injected"]["rule_two_inputs"] = anomaly_metrics(
        injected.labels, injected_rule_score(featurizer.transform(injected.lines))
    )
    results["injected"]["per_kind"] = _per_kind(model, forest, injected)
    results["injected"]["over_seeds"] = _over_seeds(model, test, train, seeds)
    if out_dir is not None and model.projection_ is not None:
        scores = model.predict(natural.lines)["anomaly_score"].to_numpy()
        plots = write_anomaly_plots(
            scores,
            model.projection_.threshold,
            out_dir,
            labels=natural.labels,
            protocol=f"test set ({natural.mode} labels)",
        )
        results["plots"] = [str(p) for p in plots]
    return results


def _scored(
    model: Any, forest: IsolationForest, lines: pd.DataFrame, labels: np.ndarray
) -> dict[str, Any]:
    """Detector and forest metrics on one labelled set."""
    scores = model.predict(lines)
    forest_scores = -forest.score_samples(model.features(lines))
    return {
        "n_test": len(lines),
        "pca_kmeans": anomaly_metrics(labels, scores["anomaly_score"].to_numpy()),
        "isolation_forest": anomaly_metrics(labels, forest_scores),
        "flagged_fraction": float(scores["is_anomaly"].mean()),
    }


def _without_code_shape(
    train_features: pd.DataFrame,
    test_features: pd.DataFrame,
    labels: np.ndarray,
    config: Any,
    seed: int,
) -> dict[str, Any]:
    """Natural labels with both detectors refitted on the features minus the code shape.

    The detector runs in its table mode on the same featurized training lines, so only the
    ``is_nonstandard_code`` column differs from the main run.
    """
    from retailsage.models.pca_kmeans import PcaKmeansAnomaly

    columns = [c for c in ANOMALY_DISTANCE_COLUMNS if c != CODE_SHAPE_FEATURE]
    table = PcaKmeansAnomaly(config).fit(train_features[columns])
    forest = IsolationForest(random_state=seed).fit(train_features[columns].to_numpy())
    scores = table.predict(test_features[columns])["anomaly_score"].to_numpy()
    return {
        "n_test": len(labels),
        "dropped_feature": CODE_SHAPE_FEATURE,
        "pca_kmeans": anomaly_metrics(labels, scores),
        "isolation_forest": anomaly_metrics(
            labels, -forest.score_samples(test_features[columns].to_numpy())
        ),
    }


def _price_nonpositive(
    model: Any, forest: IsolationForest, natural: LabeledLines, features: pd.DataFrame
) -> dict[str, Any]:
    """Natural-mode positives with ``UnitPrice <= 0`` only, against the unlabelled lines.

    Lines labelled only for their stock code are left out, so the code-shape input cannot
    explain the result.
    """
    free = natural.lines[UNIT_PRICE].to_numpy(dtype=np.float64) <= 0.0
    keep = free | (natural.labels == 0)
    lines = natural.lines.loc[keep]
    labels = free[keep].astype(np.int64)
    out = _scored(model, forest, lines, labels)
    out["code_shape_positive_share"] = round(
        float(features[CODE_SHAPE_FEATURE].to_numpy()[free].mean()) if free.any() else 0.0, 4
    )
    return out


def _per_kind(model: Any, forest: IsolationForest, injected: LabeledLines) -> dict[str, Any]:
    """ROC-AUC per injected error kind (that kind's positives against every negative)."""
    assert injected.kind is not None
    scores = model.predict(injected.lines)["anomaly_score"].to_numpy()
    forest_scores = -forest.score_samples(model.features(injected.lines))
    out: dict[str, Any] = {}
    for index, name in enumerate(INJECTION_KINDS):
        subset = (injected.labels == 0) | (injected.kind == index)
        labels = injected.labels[subset]
        if 0 < labels.sum() < len(labels):
            out[name] = {
                "positives": int(labels.sum()),
                "pca_kmeans": _auc(labels, scores[subset]),
                "isolation_forest": _auc(labels, forest_scores[subset]),
            }
    return out


def _over_seeds(
    model: Any, test: pd.DataFrame, train: pd.DataFrame, seeds: tuple[int, ...]
) -> dict[str, Any]:
    """Injected-error AUC (overall and per kind) as mean +- std over injection seeds."""
    overall: dict[str, list[float]] = {"pca_kmeans": [], "isolation_forest": []}
    per_kind: dict[str, list[float]] = {name: [] for name in INJECTION_KINDS}
    train_matrix = model.features(train)
    for seed in seeds:
        injected = injected_test_set(test, seed=seed)
        forest = IsolationForest(random_state=seed).fit(train_matrix)
        scores = model.predict(injected.lines)["anomaly_score"].to_numpy()
        forest_scores = -forest.score_samples(model.features(injected.lines))
        overall["pca_kmeans"].append(_auc(injected.labels, scores))
        overall["isolation_forest"].append(_auc(injected.labels, forest_scores))
        assert injected.kind is not None
        for index, name in enumerate(INJECTION_KINDS):
            subset = (injected.labels == 0) | (injected.kind == index)
            if 0 < injected.labels[subset].sum() < subset.sum():
                per_kind[name].append(_auc(injected.labels[subset], scores[subset]))
    return {
        "seeds": list(seeds),
        "roc_auc": {name: _spread(values) for name, values in overall.items()},
        "pca_kmeans_per_kind": {
            name: _spread(values) for name, values in per_kind.items() if values
        },
    }
