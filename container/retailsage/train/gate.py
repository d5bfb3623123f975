"""The quality gate's metric: how much better than the best same-run baseline the model is.

Every family reports its evaluation metric next to ``baseline:<name>:<metric>`` values computed
on the same rows in the same job. :func:`gate_metrics` turns them into one number the state
machine's Choice state compares with a margin, whatever baselines a family reports:

``validation:improvement_over_best_baseline = 1 - model error / best baseline error``

where the error is the MAE for the gap families and ``1 - ROC AUC`` on errors injected into the
evaluation lines for the anomaly detector (whose baseline is a random ranking, AUC 0.5). 0 means
"as good as the best baseline", 0.05 "5 % less error", negative "worse than a baseline".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

IMPROVEMENT_METRIC = "validation:improvement_over_best_baseline"
"""The derived gate metric (also ``infra.config.GATE_METRIC_NAME``)."""


@dataclass(frozen=True)
class GateBasis:
    """Which metric a family's gate compares, and its direction.

    Attributes:
        metric: the metric suffix shared by ``validation:<metric>`` and ``baseline:*:<metric>``.
        higher_is_better: ``False`` for errors (MAE); ``True`` for scores in [0, 1] (AUC),
            whose error is ``1 - score``.
    """

    metric: str
    higher_is_better: bool


GATE_BASES: tuple[GateBasis, ...] = (
    GateBasis("mae", higher_is_better=False),
    GateBasis("injected_roc_auc", higher_is_better=True),
)
"""Tried in order; the first whose ``validation:<metric>`` is present decides."""


def _error(value: float, basis: GateBasis) -> float:
    return 1.0 - value if basis.higher_is_better else value


def gate_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """Return the gate metric for a job's final metrics (empty when it cannot be computed).

    Args:
        metrics: the evaluation's metrics (``validation:*`` and ``baseline:*:*``).

    Returns:
        ``{IMPROVEMENT_METRIC: value}``, or ``{}`` when the model value or every baseline is
        missing or not finite, or the best baseline has no error (nothing to improve on); the
        Choice state then rejects the model.
    """
    for basis in GATE_BASES:
        value = metrics.get(f"validation:{basis.metric}")
        if value is None or not math.isfinite(value):
            continue
        suffix = f":{basis.metric}"
        baselines = [
            float(v)
            for name, v in metrics.items()
            if name.startswith("baseline:") and name.endswith(suffix) and math.isfinite(v)
        ]
        if not baselines:
            return {}
        best = min(_error(v, basis) for v in baselines)
        if best <= 0.0:
            return {}
        return {IMPROVEMENT_METRIC: 1.0 - _error(float(value), basis) / best}
    return {}
