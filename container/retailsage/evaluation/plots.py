"""Evaluation plots as PNG files (matplotlib's non-interactive Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

_DPI = 100


def _save(figure: Figure, path: Path) -> Path:
    """Write a figure to ``path`` and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)
    return path


def describe_protocol(description: Mapping[str, Any]) -> str:
    """Render how the evaluation rows were obtained (a task's ``PreparedData.description``).

    Args:
        description: e.g. ``{"holdout": "temporal", "protocol": "p1", "cutoff": "2011-09-01"}``
            or ``{"evaluated_on": "validation"}``.

    Returns:
        A short label such as ``p1 holdout, cutoff 2011-09-01, H=60 days``.
    """
    if description.get("protocol"):
        text = f"{description['protocol']} holdout"
        if description.get("cutoff"):
            text += f", cutoff {description['cutoff']}"
        if description.get("horizon_days"):
            text += f", H={description['horizon_days']} days"
        return text
    where = description.get("holdout") or description.get("evaluated_on") or ""
    return f"evaluated on {where}" if where else ""


def _subtitle(model: str, protocol: str, n: int, metric: str) -> str:
    """One line naming the model, the evaluation protocol, the sample size and the metric."""
    parts = [part for part in (model, protocol, f"n={n:,}", metric) if part]
    return " | ".join(parts)


def write_gap_plots(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    out_dir: Path,
    *,
    model: str = "",
    protocol: str = "",
) -> list[Path]:
    """Plot predicted vs actual days (hexbin density) and the residual histogram.

    Every figure's title names the model, the evaluation protocol, the number of evaluated
    rows and the metric (MAE, median residual), so a PNG read on its own says what it shows.

    Args:
        y_true: observed days to the next order.
        y_pred: predicted days.
        out_dir: destination directory (created if needed).
        model: the model type, e.g. ``xgboost``.
        protocol: how the rows were held out, e.g. ``p1, cutoff 2011-09-01``.

    Returns:
        The written files: ``gap_predicted_vs_actual.png`` and ``gap_residuals.png``.
    """
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    residuals = pred - true
    mae = float(np.mean(np.abs(residuals))) if len(true) else float("nan")
    subtitle = _subtitle(model, protocol, len(true), f"MAE {mae:.2f} days")
    scatter, ax = plt.subplots(figsize=(6, 5.4))
    top = float(max(true.max(initial=1.0), pred.max(initial=1.0)))
    if len(true):
        # Thousands of rows overplot as a scatter; hexagon counts (log colour) show the density.
        cells = ax.hexbin(
            true, pred, gridsize=40, bins="log", mincnt=1, cmap="viridis", extent=(0, top, 0, top)
        )
        scatter.colorbar(cells, ax=ax, label="rows per cell (log)")
    ax.plot([0, top], [0, top], color="tab:red", linewidth=1, label="perfect (y = x)")
    ax.set(xlabel="actual days to next order", ylabel="predicted days")
    ax.set_title(f"Predicted vs actual days to next order\n{subtitle}", fontsize=10)
    ax.legend(loc="upper left")
    residual, ax2 = plt.subplots(figsize=(6.4, 4.2))
    ax2.hist(residuals, bins=60, color="tab:blue")
    ax2.axvline(0.0, color="black", linewidth=1)
    median = float(np.median(residuals)) if len(residuals) else float("nan")
    ax2.axvline(median, color="tab:orange", linewidth=1.2, label=f"median {median:+.2f} days")
    ax2.set(xlabel="predicted - actual (days)", ylabel="rows")
    ax2.set_title(f"Residuals\n{subtitle}", fontsize=10)
    ax2.legend(loc="upper left")
    return [
        _save(scatter, out_dir / "gap_predicted_vs_actual.png"),
        _save(residual, out_dir / "gap_residuals.png"),
    ]


def write_anomaly_plots(
    scores: np.ndarray,
    threshold: float,
    out_dir: Path,
    *,
    labels: np.ndarray | None = None,
    model: str = "pca_kmeans",
    protocol: str = "",
) -> list[Path]:
    """Plot the anomaly-score histogram and, when labels exist, ROC and precision-recall curves.

    Args:
        scores: anomaly scores of the scored lines.
        threshold: the model's threshold.
        out_dir: destination directory (created if needed).
        labels: 1 = known anomaly, 0 = normal, aligned with ``scores``; the curves are drawn
            only when both classes occur.
        model: the model type named in the titles.
        protocol: which lines were scored, e.g. ``validation channel``.

    Returns:
        ``anomaly_scores.png``, plus ``anomaly_roc_pr.png`` with labels of both classes.
    """
    values = np.asarray(scores, dtype=np.float64)
    flagged = float(np.mean(values > threshold)) if len(values) else float("nan")
    known = labels is not None and 0 < int(np.sum(labels)) < len(values)
    figure, ax = plt.subplots(figsize=(6.4, 4.2))
    if known:
        assert labels is not None
        positive = np.asarray(labels).astype(bool)
        edges = np.histogram_bin_edges(values, bins=80).tolist()
        ax.hist(values[~positive], bins=edges, color="tab:gray", log=True, label="normal")
        ax.hist(
            values[positive],
            bins=edges,
            color="tab:red",
            alpha=0.6,
            log=True,
            label="labelled anomaly",
        )
    else:
        ax.hist(values, bins=80, color="tab:gray", log=True, label="lines")
    ax.axvline(
        threshold, color="black", linestyle="--", linewidth=1.2, label=f"threshold {threshold:.3g}"
    )
    ax.set(xlabel="anomaly score", ylabel="lines (log scale)")
    subtitle = _subtitle(model, protocol, len(values), f"flagged {flagged:.2%}")
    ax.set_title(f"Anomaly scores\n{subtitle}", fontsize=10)
    ax.legend(loc="upper right")
    written = [_save(figure, out_dir / "anomaly_scores.png")]
    if known:
        assert labels is not None
        written.append(
            _write_roc_pr(values, np.asarray(labels), threshold, model, protocol, out_dir)
        )
    return written


def _write_roc_pr(
    scores: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    model: str,
    protocol: str,
    out_dir: Path,
) -> Path:
    """ROC and precision-recall curves side by side, the model's operating point marked."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    truth = labels.astype(bool)
    fpr, tpr, _ = roc_curve(truth, scores)
    precision, recall, _ = precision_recall_curve(truth, scores)
    auc = float(roc_auc_score(truth, scores))
    ap = float(average_precision_score(truth, scores))
    decided = scores > threshold
    point_tpr = float(np.mean(decided[truth]))
    point_fpr = float(np.mean(decided[~truth]))
    point_precision = float(np.mean(truth[decided])) if decided.any() else 1.0
    figure, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4.4))
    roc.plot(fpr, tpr, color="tab:blue", label=f"ROC-AUC {auc:.3f}")
    roc.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance")
    roc.plot(point_fpr, point_tpr, "o", color="tab:red", label="at threshold")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    roc.legend(loc="lower right")
    pr.plot(recall, precision, color="tab:green", label=f"average precision {ap:.3f}")
    pr.axhline(float(truth.mean()), color="gray", linestyle=":", label="chance (prevalence)")
    pr.plot(point_tpr, point_precision, "o", color="tab:red", label="at threshold")
    pr.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    pr.legend(loc="lower left")
    positives = int(truth.sum())
    subtitle = _subtitle(model, protocol, len(scores), f"{positives:,} labelled anomalies")
    figure.suptitle(f"Anomaly ranking against labels\n{subtitle}", fontsize=10)
    return _save(figure, out_dir / "anomaly_roc_pr.png")
