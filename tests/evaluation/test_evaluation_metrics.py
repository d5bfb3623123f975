"""Metric functions, baselines, label definitions and error injection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.models.model_cases import make_transactions

from retailsage.core.errors import DataError
from retailsage.evaluation.anomaly_eval import (
    INJECTION_KINDS,
    evaluate_anomaly,
    injected_rule_score,
    injected_test_set,
    natural_labels,
    natural_rule_score,
    natural_test_set,
)
from retailsage.evaluation.metrics import anomaly_metrics, gap_baselines, gap_metrics
from retailsage.evaluation.plots import write_anomaly_plots, write_gap_plots


def test_gap_metrics_on_hand_computed_values() -> None:
    metrics = gap_metrics(np.array([10.0, 20.0, 30.0, 40.0]), np.array([12.0, 20.0, 24.0, 40.0]))
    assert metrics == pytest.approx({"mae": 2.0, "rmse": np.sqrt(10.0), "medae": 1.0})


def test_gap_metrics_reject_mismatched_or_nan_input() -> None:
    with pytest.raises(DataError):
        gap_metrics(np.ones(3), np.ones(2))
    with pytest.raises(DataError):
        gap_metrics(np.array([1.0, np.nan]), np.ones(2))


def test_gap_baselines_use_train_median_and_past_mean_gap() -> None:
    train = pd.DataFrame({"gap_days": [5.0, 10.0, 30.0, np.nan]})
    test = pd.DataFrame({"gap_days": [10.0, 20.0, 40.0], "mean_gap": [14.0, np.nan, 40.0]})
    baselines = gap_baselines(train, test)
    assert baselines["global_median"]["mae"] == pytest.approx((0 + 10 + 30) / 3)
    # the first-order row (no past gap) falls back to the median of 10
    assert baselines["customer_mean_gap"]["mae"] == pytest.approx((4 + 10 + 0) / 3)


def test_anomaly_metrics_perfect_and_inverted_ranking() -> None:
    labels = np.array([0, 0, 1, 0, 1])
    scores = np.array([0.1, 0.2, 0.9, 0.3, 0.8])
    assert anomaly_metrics(labels, scores)["roc_auc"] == 1.0
    assert anomaly_metrics(labels, -scores)["roc_auc"] == 0.0
    assert anomaly_metrics(labels, scores)["positives"] == 2
    with pytest.raises(DataError, match="both"):
        anomaly_metrics(np.zeros(3), np.ones(3))


def test_natural_labels_name_non_merchandise_and_free_lines() -> None:
    lines = make_transactions(10).iloc[:6].copy()
    lines["StockCode"] = pd.array(["POST", "20001", "m", "BANK CHARGES", "20003", "20004"])
    lines["UnitPrice"] = [1.0, 1.0, 1.0, 1.0, 0.0, 2.0]
    lines["InvoiceNo"] = pd.array(["1", "2", "3", "4", "5", "C6"], dtype="string")
    assert natural_labels(lines).tolist() == [1, 0, 1, 1, 1, 0]
    assert len(natural_test_set(lines).lines) == 5  # the cancellation is excluded


def test_injected_errors_corrupt_a_seeded_fraction() -> None:
    lines = make_transactions(200)
    labeled = injected_test_set(lines, rate=0.1, seed=1)
    again = injected_test_set(lines, rate=0.1, seed=1)
    np.testing.assert_array_equal(labeled.labels, again.labels)
    assert 0.07 < labeled.labels.mean() < 0.13
    changed = (
        (labeled.lines["Quantity"].to_numpy() != lines["Quantity"].to_numpy())
        | (labeled.lines["UnitPrice"].to_numpy() != lines["UnitPrice"].to_numpy())
        | (labeled.lines["InvoiceDate"].to_numpy() != lines["InvoiceDate"].to_numpy())
    )
    np.testing.assert_array_equal(changed, labeled.labels.astype(bool))
    hours = labeled.lines["InvoiceDate"].dt.hour.to_numpy()
    moved = labeled.labels.astype(bool) & (hours < 6)
    assert moved.any()


def test_plots_write_png_files(tmp_path) -> None:
    rng = np.random.default_rng(0)
    gap = write_gap_plots(rng.gamma(2, 10, 200), rng.gamma(2, 10, 200), tmp_path / "gap")
    anomaly = write_anomaly_plots(rng.normal(size=500), 1.5, tmp_path / "anomaly")
    for path in [*gap, *anomaly]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_injected_errors_record_their_kind() -> None:
    labeled = injected_test_set(make_transactions(400), rate=0.2, seed=3)
    assert labeled.kind is not None
    injected = labeled.labels.astype(bool)
    np.testing.assert_array_equal(labeled.kind >= 0, injected)
    assert set(labeled.kind[injected].tolist()) <= set(range(len(INJECTION_KINDS)))


def test_two_input_rules_score_what_they_read() -> None:
    lines = make_transactions(10).iloc[:3].copy()
    lines["UnitPrice"] = [0.0, 1.0, 2.0]
    features = pd.DataFrame(
        {
            "is_nonstandard_code": [1.0, 1.0, 0.0],
            "price_vs_item_z": [0.5, -4.0, 1.0],
            "quantity_vs_item_z": [-2.0, 1.0, 0.0],
        },
        index=lines.index,
    )
    assert natural_rule_score(features, lines).tolist() == [2.0, 1.0, 0.0]
    assert injected_rule_score(features).tolist() == [2.0, 4.0, 1.0]


def test_evaluation_reports_every_honest_view() -> None:
    from retailsage.data.cleaning import prepare_anomaly_lines
    from retailsage.data.synthetic import generate_transactions
    from retailsage.models.pca_kmeans import PcaKmeansConfig

    lines = prepare_anomaly_lines(generate_transactions(6_000, seed=2))
    cutoff = lines["InvoiceDate"].quantile(0.6)
    config = PcaKmeansConfig(n_clusters=4, n_init=1)
    results = evaluate_anomaly(lines, cutoff, config, seeds=(0, 1))
    assert results["headline"] == "injected"
    for mode in ("natural", "natural_without_code_shape", "price_nonpositive", "injected"):
        for model in ("pca_kmeans", "isolation_forest"):
            assert 0.0 <= results[mode][model]["roc_auc"] <= 1.0, (mode, model)
    assert results["natural_without_code_shape"]["dropped_feature"] == "is_nonstandard_code"
    assert "rule_two_inputs" in results["natural"] and "rule_two_inputs" in results["injected"]
    assert set(results["injected"]["per_kind"]) <= set(INJECTION_KINDS)
    spread = results["injected"]["over_seeds"]["roc_auc"]["pca_kmeans"]
    assert len(spread["values"]) == 2
    assert spread["mean"] == pytest.approx(np.mean(spread["values"]), abs=1e-4)


def _capture_titles(monkeypatch):
    import retailsage.evaluation.plots as plots

    titles: dict[str, list[str]] = {}
    original = plots._save

    def save(figure, path):
        suptitle = figure._suptitle.get_text() if figure._suptitle is not None else ""
        titles[path.name] = [suptitle, *(ax.get_title() for ax in figure.axes)]
        return original(figure, path)

    monkeypatch.setattr(plots, "_save", save)
    return titles


def test_gap_plots_name_model_protocol_and_metric(tmp_path, monkeypatch) -> None:
    titles = _capture_titles(monkeypatch)
    true = np.array([10.0, 20.0, 30.0, 40.0] * 50)
    pred = true + np.array([2.0, -2.0, 4.0, 0.0] * 50)
    write_gap_plots(true, pred, tmp_path, model="xgboost", protocol="p1 holdout")
    for name in ("gap_predicted_vs_actual.png", "gap_residuals.png"):
        text = " ".join(titles[name])
        assert "xgboost" in text and "p1 holdout" in text and "n=200" in text
        assert "MAE 2.00 days" in text


def test_anomaly_roc_pr_only_with_labels_of_both_classes(tmp_path, monkeypatch) -> None:
    titles = _capture_titles(monkeypatch)
    rng = np.random.default_rng(1)
    scores = np.r_[rng.normal(0, 1, 400), rng.normal(3, 1, 40)]
    labels = np.r_[np.zeros(400), np.ones(40)]
    unlabeled = write_anomaly_plots(scores, 2.0, tmp_path / "a")
    assert [p.name for p in unlabeled] == ["anomaly_scores.png"]
    one_class = write_anomaly_plots(scores, 2.0, tmp_path / "b", labels=np.zeros(440))
    assert [p.name for p in one_class] == ["anomaly_scores.png"]
    labeled = write_anomaly_plots(scores, 2.0, tmp_path / "c", labels=labels, protocol="validation")
    assert [p.name for p in labeled] == ["anomaly_scores.png", "anomaly_roc_pr.png"]
    assert labeled[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = " ".join(titles["anomaly_roc_pr.png"])
    assert "40 labelled anomalies" in curves and "ROC" in curves and "Precision-recall" in curves
    assert "flagged" in titles["anomaly_scores.png"][1]


def test_describe_protocol() -> None:
    from retailsage.evaluation.plots import describe_protocol

    assert (
        describe_protocol({"protocol": "p2cap", "cutoff": "2011-09-01", "horizon_days": 60})
        == "p2cap holdout, cutoff 2011-09-01, H=60 days"
    )
    assert describe_protocol({"evaluated_on": "validation"}) == "evaluated on validation"
    assert describe_protocol({}) == ""
