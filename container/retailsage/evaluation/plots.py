"""Evaluation plots as PNG files (matplotlib's non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

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


def write_gap_plots(y_true: np.ndarray, y_pred: np.ndarray, out_dir: Path) -> list[Path]:
    """Plot predicted vs actual days and the residual histogram.

    Args:
        y_true: observed days to the next order.
        y_pred: predicted days.
        out_dir: destination directory (created if needed).

    Returns:
        The written files: ``gap_predicted_vs_actual.png`` and ``gap_residuals.png``.
    """
    true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    scatter, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(true, pred, s=4, alpha=0.3)
    top = float(max(true.max(initial=1.0), pred.max(initial=1.0)))
    ax.plot([0, top], [0, top], color="black", linewidth=1, label="perfect")
    ax.set(xlabel="actual days to next order", ylabel="predicted days", title="Predicted vs actual")
    ax.legend(loc="upper left")
    residual, ax2 = plt.subplots(figsize=(6, 4))
    ax2.hist(pred - true, bins=60, color="tab:blue")
    ax2.axvline(0.0, color="black", linewidth=1)
    ax2.set(xlabel="predicted - actual (days)", ylabel="orders", title="Residuals")
    return [
        _save(scatter, out_dir / "gap_predicted_vs_actual.png"),
        _save(residual, out_dir / "gap_residuals.png"),
    ]


def write_anomaly_plots(scores: np.ndarray, threshold: float, out_dir: Path) -> list[Path]:
    """Plot the anomaly-score histogram (log-count axis) with the decision threshold.

    Args:
        scores: anomaly scores of the scored lines.
        threshold: the model's threshold.
        out_dir: destination directory (created if needed).

    Returns:
        The written file: ``anomaly_scores.png``.
    """
    figure, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.asarray(scores, dtype=np.float64), bins=80, color="tab:gray", log=True)
    ax.axvline(threshold, color="tab:red", linewidth=1.5, label=f"threshold {threshold:.3g}")
    ax.set(xlabel="anomaly score", ylabel="lines (log scale)", title="Anomaly scores")
    ax.legend(loc="upper right")
    return [_save(figure, out_dir / "anomaly_scores.png")]
