"""Gap-model evaluation: fit on a protocol's train side, score its test side with baselines."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from retailsage.evaluation.metrics import (
    asof_baselines,
    gap_baselines,
    gap_metrics,
    past_date_share,
    probability_metrics,
)
from retailsage.evaluation.plots import write_gap_plots
from retailsage.features.asof import PURCHASED
from retailsage.features.gap import AS_OF_DATE
from retailsage.features.protocols import Split, split_p1, split_p2cap
from retailsage.models.base import ModelFamily
from retailsage.models.registry import get_family


def protocol_split(
    rows: pd.DataFrame, protocol: str, cutoff: pd.Timestamp, horizon_days: int
) -> Split:
    """Split gap rows by ``p1`` or ``p2cap`` (``END`` = the rows' last order date)."""
    if protocol == "p1":
        return split_p1(rows, cutoff)
    return split_p2cap(rows, cutoff, horizon_days)


def evaluate_gap(
    model_type: str,
    split: Split,
    config: Any,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Fit a gap family on ``split.train`` and score it and the baselines on ``split.test``.

    No validation set is passed: early stopping on the test side would leak, and the defaults
    are chosen to train without one.

    Args:
        model_type: ``xgboost`` or ``lstm``.
        split: the protocol split (target column ``gap_days``).
        config: the family config.
        out_dir: where plots are written (``None``: no plots).

    Returns:
        JSON-safe metrics: ``model``, ``baselines``, sizes, fit time and plot paths.
    """
    family = cast("Callable[[Any], ModelFamily]", get_family(model_type))
    started = time.perf_counter()
    model = family(config).fit(split.train)
    fit_seconds = time.perf_counter() - started
    y_true = split.test[split.target].to_numpy(dtype=np.float64)
    predicted = model.predict(split.test)
    y_pred = predicted["predicted_gap_days"].to_numpy(dtype=np.float64)
    if split.horizon_days is not None:
        y_pred = np.minimum(y_pred, float(split.horizon_days))
    protocol = split.protocol + (f" H={split.horizon_days} days" if split.horizon_days else "")
    plots = (
        write_gap_plots(y_true, y_pred, out_dir, model=model_type, protocol=protocol)
        if out_dir is not None
        else []
    )
    model_metrics: dict[str, float] = dict(gap_metrics(y_true, y_pred))
    if split.protocol == "asof" and split.gaps is not None and split.horizon_days is not None:
        as_of = pd.to_datetime(split.test[AS_OF_DATE]).reset_index(drop=True)
        days = np.round(predicted["predicted_gap_days"].to_numpy(dtype=np.float64))
        model_metrics["past_date_share"] = past_date_share(
            as_of, as_of + pd.to_timedelta(days, unit="D")
        )
        model_metrics.update(
            probability_metrics(
                split.test[PURCHASED].to_numpy(dtype=np.float64),
                predicted["purchase_probability"].to_numpy(dtype=np.float64),
            )
        )
        baselines = asof_baselines(split.train, split.test, split.gaps, split.horizon_days)
    else:
        baselines = gap_baselines(split.train, split.test)
    return {
        "task": "gap",
        "model_type": model_type,
        "protocol": split.protocol,
        "cutoff": str(split.cutoff.date()) if split.cutoff is not None else None,
        "horizon_days": split.horizon_days,
        "n_train": int(split.train[split.target].notna().sum()),
        "n_test": len(split.test),
        "fit_seconds": round(fit_seconds, 2),
        "model": model_metrics,
        "baselines": baselines,
        "plots": [str(p) for p in plots],
    }
