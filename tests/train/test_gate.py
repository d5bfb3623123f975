"""The quality gate's metric: improvement over the best same-run baseline, for every family."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retailsage.data.synthetic import generate_transactions
from retailsage.train.anomaly_task import injected_metrics
from retailsage.train.gate import IMPROVEMENT_METRIC, gate_metrics


def test_gap_gate_compares_with_the_best_of_whatever_baselines_exist() -> None:
    metrics = {
        "validation:mae": 9.0,
        "baseline:median:mae": 12.0,
        "baseline:customer_mean:mae": 10.0,
        "baseline:median:rmse": 1.0,  # another metric: ignored
    }
    assert gate_metrics(metrics) == {IMPROVEMENT_METRIC: pytest.approx(0.1)}
    # a model worse than the median baseline is negative (the --rows 2000 case)
    worse = {"validation:mae": 18.75, "baseline:median:mae": 24.0, "baseline:mean:mae": 15.04}
    assert gate_metrics(worse)[IMPROVEMENT_METRIC] == pytest.approx(1 - 18.75 / 15.04)
    # renamed/new baselines (e.g. global median gap, residual life) are picked up generically
    renamed = {"validation:mae": 5.0, "baseline:residual_life:mae": 4.0}
    assert gate_metrics(renamed)[IMPROVEMENT_METRIC] == pytest.approx(-0.25)


def test_anomaly_gate_uses_the_injected_auc_against_a_random_ranking() -> None:
    metrics = {
        "validation:injected_roc_auc": 0.9,
        "baseline:random:injected_roc_auc": 0.5,
        "train:anomaly_rate": 0.02,
    }
    # error = 1 - AUC: 0.1 against 0.5
    assert gate_metrics(metrics) == {IMPROVEMENT_METRIC: pytest.approx(0.8)}


@pytest.mark.parametrize(
    "metrics",
    [
        {},
        {"train:anomaly_rate": 0.02},  # the old, by-construction gate metric alone
        {"validation:mae": 3.0},  # no baseline
        {"validation:mae": math.nan, "baseline:median:mae": 3.0},
        {"validation:mae": 3.0, "baseline:median:mae": 0.0},  # nothing to improve on
    ],
)
def test_gate_metric_is_absent_when_it_cannot_be_computed(metrics: dict[str, float]) -> None:
    # the Choice state rejects a model whose gate value is absent
    assert gate_metrics(metrics) == {}


class _ByPrice:
    """A stand-in detector that scores lines by how far their price is from 3."""

    def predict(self, lines: pd.DataFrame) -> pd.DataFrame:
        price = lines["UnitPrice"].to_numpy(dtype=np.float64)
        return pd.DataFrame({"anomaly_score": np.abs(np.log(np.maximum(price, 1e-3) / 3.0))})


def test_injected_metrics_label_corrupted_lines_and_skip_numeric_tables() -> None:
    lines = generate_transactions(3_000, seed=1)
    metrics = injected_metrics(_ByPrice(), lines)  # type: ignore[arg-type]
    assert metrics["baseline:random:injected_roc_auc"] == 0.5
    # half the injection kinds change the price by x10-100 or x0.01-0.1: well above random
    assert 0.6 < metrics["validation:injected_roc_auc"] <= 1.0
    assert 0.0 < metrics["validation:injected_average_precision"] <= 1.0
    assert injected_metrics(_ByPrice(), pd.DataFrame({"a": [1.0, 2.0]})) == {}  # type: ignore[arg-type]
