"""XGBoost and LSTM specifics: explanations, objectives, unknown countries, resume, metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tests.models.model_cases import TINY_CONFIGS

from retailsage.core.errors import BadInput, DataError, HyperparameterError
from retailsage.models.base import TrainingHooks, TrainingInterrupted
from retailsage.models.lstm_gap import LSTMGap, LSTMGapConfig
from retailsage.models.registry import get_family
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig


def _split(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    half = len(rows) * 3 // 4
    return rows.iloc[:half], rows.iloc[half:]


@pytest.mark.parametrize("log_target", [False, True])
def test_xgboost_explain_sums_to_prediction(gap_rows: pd.DataFrame, log_target: bool) -> None:
    config = XGBoostGapConfig(num_round=20, nthread=1, log_target=log_target)
    model = XGBoostGap(config).fit(gap_rows)
    frame = gap_rows.iloc[:40]
    contributions = model.explain(frame)
    assert list(contributions.columns) == [*model.input_columns, "bias"]
    total = contributions.sum(axis=1).to_numpy()
    expected = model.predict(frame)["predicted_gap_days"].to_numpy()
    np.testing.assert_allclose(np.expm1(total) if log_target else total, expected, rtol=1e-4)


@pytest.mark.parametrize("log_target", [False, True])
def test_lstm_explain_sums_to_the_unclipped_output(
    gap_rows: pd.DataFrame, log_target: bool
) -> None:
    from retailsage.models.lstm_training import predict_scaled

    config = LSTMGapConfig(
        epochs=2, hidden_size=8, window_length=6, device="cpu", num_threads=1, log_target=log_target
    )
    model = LSTMGap(config).fit(gap_rows)
    frame = gap_rows.iloc[:60]
    contributions = model.explain(frame)
    assert list(contributions.columns) == [*model.input_columns, "bias"]
    assert contributions.index.equals(frame.index)
    assert model.network_ is not None
    scaled = predict_scaled(model.network_, model._inputs(frame), torch.device("cpu"))
    unclipped = scaled * model.scaling_["target_std"] + model.scaling_["target_mean"]
    total = contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, unclipped, rtol=1e-4, atol=1e-4)
    days = model.predict(frame)["predicted_gap_days"].to_numpy()
    np.testing.assert_allclose(
        np.clip(np.expm1(total) if log_target else total, 0, None), days, rtol=1e-4, atol=1e-4
    )
    # columns the network does not read, and padded (missing) lags, contribute nothing
    unread = ["last_gap", "month", *[f"gap_lag_{k}" for k in range(7, 13)]]
    assert (contributions[unread] == 0.0).all().all()
    missing = frame["gap_lag_3"].isna().to_numpy()
    assert missing.any() and (contributions.loc[missing, "gap_lag_3"] == 0.0).all()
    assert contributions["gap_lag_1"].abs().sum() > 0 and contributions["Country"].abs().sum() > 0
    assert contributions["bias"].nunique() == 1


def test_lstm_explain_covers_the_asof_covariates(transactions: pd.DataFrame) -> None:
    from retailsage.features.asof import RECENCY, asof_training_rows, snapshot_dates

    first = pd.Timestamp(transactions["InvoiceDate"].min()).normalize()
    days = snapshot_dates(first, pd.Timestamp("2011-10-01"), 14, 6)
    rows = asof_training_rows(transactions, days, 60)
    config = LSTMGapConfig(epochs=1, hidden_size=8, device="cpu", num_threads=1)
    model = LSTMGap(config).fit(rows)
    assert RECENCY in model.input_columns
    frame = rows.iloc[:40]
    contributions = model.explain(frame)
    assert list(contributions.columns) == [*model.input_columns, "bias"]
    assert contributions[RECENCY].abs().sum() > 0
    days_out = model.predict(frame)["predicted_gap_days"].to_numpy()
    total = contributions.sum(axis=1).to_numpy()
    positive = days_out > 0
    assert positive.any()
    np.testing.assert_allclose(total[positive], days_out[positive], rtol=1e-4, atol=1e-4)


def test_lstm_integrated_gradients_converge_before_the_residual_is_spread(
    gap_rows: pd.DataFrame,
) -> None:
    from retailsage.models import lstm_explain

    config = LSTMGapConfig(epochs=2, hidden_size=8, device="cpu", num_threads=1)
    model = LSTMGap(config).fit(gap_rows)
    assert model.network_ is not None
    inputs = model._inputs(gap_rows.iloc[:30])
    coarse, output, reference = lstm_explain.integrated_gradients(model.network_, inputs, 32)
    fine, _, _ = lstm_explain.integrated_gradients(model.network_, inputs, 256)
    np.testing.assert_allclose(coarse.sum(axis=1), output - reference, atol=1e-5)
    # the midpoint rule with 32 points already agrees with 256 points (no large correction)
    spread = np.abs(fine).sum(axis=1).max()
    assert np.abs(coarse - fine).max() < 0.02 * spread


@pytest.mark.parametrize(
    "objective", ["reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"]
)
def test_xgboost_objectives_fit_and_early_stop(gap_rows: pd.DataFrame, objective: str) -> None:
    train, validation = _split(gap_rows)
    seen: list[tuple[str, int]] = []
    hooks = TrainingHooks(on_metric=lambda name, value, step: seen.append((name, step)))
    config = XGBoostGapConfig(
        num_round=200, eta=0.3, nthread=1, objective=objective, early_stopping_rounds=5
    )
    model = XGBoostGap(config).fit(train, validation, hooks=hooks)
    assert {name for name, _ in seen} == {"validation:mae", "validation:rmse"}
    assert model.booster_ is not None and model.booster_.num_boosted_rounds() < 200
    assert (model.predict(validation)["predicted_gap_days"] >= 0).all()


def test_xgboost_maps_unseen_country_to_unknown_code(gap_rows: pd.DataFrame) -> None:
    model = XGBoostGap(XGBoostGapConfig(num_round=10, nthread=1)).fit(gap_rows)
    frame = gap_rows.iloc[:5].copy()
    frame["Country"] = pd.array(["Atlantis", None, "Germany", "France", "X"], dtype="string")
    assert model.spec_ is not None
    codes = model.spec_.codes("Country", frame["Country"])
    assert codes[0] == 0 and codes[1] == 0 and codes[4] == 0 and codes[2] > 0
    assert len(model.predict(frame)) == 5


def test_xgboost_resumes_from_checkpoint(gap_rows: pd.DataFrame, tmp_path: Path) -> None:
    config = XGBoostGapConfig(num_round=30, nthread=1, subsample=1.0, colsample_bytree=1.0)
    calls = iter(range(1_000))
    stopping = TrainingHooks(
        checkpoint_dir=tmp_path, checkpoint_every=5, should_stop=lambda: next(calls) >= 11
    )
    with pytest.raises(TrainingInterrupted):
        XGBoostGap(config).fit(gap_rows, hooks=stopping)
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == "xgboost-00000012.ubj"
    resumed = XGBoostGap(config).fit(gap_rows, hooks=TrainingHooks(checkpoint_dir=tmp_path))
    straight = XGBoostGap(config).fit(gap_rows)
    assert resumed.booster_ is not None and resumed.booster_.num_boosted_rounds() == 30
    np.testing.assert_allclose(
        resumed.predict(gap_rows).to_numpy(), straight.predict(gap_rows).to_numpy(), rtol=1e-5
    )


def test_lstm_resumes_from_checkpoint_like_an_uninterrupted_run(
    gap_rows: pd.DataFrame, tmp_path: Path
) -> None:
    train, validation = _split(gap_rows)
    config = LSTMGapConfig(epochs=4, hidden_size=8, batch_size=64, device="cpu")
    calls = iter(range(1_000))
    stopping = TrainingHooks(checkpoint_dir=tmp_path, should_stop=lambda: next(calls) >= 1)
    with pytest.raises(TrainingInterrupted):
        LSTMGap(config).fit(train, validation, hooks=stopping)
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["lstm-00000001.pt", "lstm-00000002.pt"]
    metrics: list[tuple[str, float, int]] = []
    hooks = TrainingHooks(checkpoint_dir=tmp_path, on_metric=lambda *m: metrics.append(m))
    resumed = LSTMGap(config).fit(train, validation, hooks=hooks)
    assert [step for name, _, step in metrics if name == "validation:mae"] == [3, 4]
    straight = LSTMGap(config).fit(train, validation)
    np.testing.assert_allclose(
        resumed.predict(validation).to_numpy(), straight.predict(validation).to_numpy(), rtol=1e-5
    )
    assert not list(tmp_path.glob("*.sagemaker-ignore"))


def test_outlier_filter_drops_an_extreme_customer(gap_rows: pd.DataFrame) -> None:
    from retailsage.models.outlier_filter import inlier_mask
    from retailsage.models.tabular import TabularSpec

    rows = gap_rows.copy()
    whale = rows["CustomerID"] == rows["CustomerID"].iloc[0]
    for column in ("order_value", "order_items", "order_lines"):
        rows.loc[whale, column] = rows[column].max() * 500
    for column in ("cumulative_spend", "cumulative_items"):
        rows.loc[whale, column] = rows[column].max() * 5_000
    spec = TabularSpec.learn(rows, "gap_days")
    keep = inlier_mask(rows, spec, "gap_days", contamination=0.05, seed=0)
    assert not keep[whale.to_numpy()].any()
    assert keep.mean() > 0.85
    config = XGBoostGapConfig(num_round=5, nthread=1, outlier_filter=True)
    assert len(XGBoostGap(config).fit(rows).predict(rows)) == len(rows)


def test_excluded_columns_stay_required_but_never_contribute(gap_rows: pd.DataFrame) -> None:
    config = XGBoostGapConfig(num_round=10, nthread=1, exclude_columns=("month", "day_of_week"))
    model = XGBoostGap(config).fit(gap_rows)
    assert "month" in model.input_columns
    contributions = model.explain(gap_rows.iloc[:20])
    assert (contributions[["month", "day_of_week"]] == 0.0).all().all()
    shifted = gap_rows.iloc[:20].assign(month=1, day_of_week=3)
    pd.testing.assert_frame_equal(model.predict(shifted), model.predict(gap_rows.iloc[:20]))
    with pytest.raises(BadInput, match="month"):
        model.predict(gap_rows.drop(columns=["month"]))
    with pytest.raises(HyperparameterError, match="no_such_column"):
        XGBoostGap(XGBoostGapConfig(exclude_columns=("no_such_column",))).fit(gap_rows)


def test_recency_weights_halve_per_half_life() -> None:
    from retailsage.models.gap_common import recency_weights

    rows = pd.DataFrame({"order_date": pd.to_datetime(["2011-01-01", "2011-05-01", "2011-08-29"])})
    weights = recency_weights(rows, 120.0)
    assert weights is not None
    np.testing.assert_allclose(weights, [0.5 ** (240 / 120), 0.5 ** (120 / 120), 1.0])
    assert recency_weights(rows, 0.0) is None


def test_min_child_fraction_scales_the_leaf_floor_with_the_training_weight(
    gap_rows: pd.DataFrame,
) -> None:
    config = XGBoostGapConfig(min_child_weight=20.0, min_child_fraction=0.15)
    assert config.booster_params(1_000.0)["min_child_weight"] == pytest.approx(150.0)
    assert config.booster_params(50.0)["min_child_weight"] == pytest.approx(20.0)
    with pytest.raises(HyperparameterError, match="min_child_fraction"):
        XGBoostGapConfig(min_child_fraction=0.8)
    coarse = XGBoostGapConfig(
        num_round=5, nthread=1, min_child_weight=0.0, min_child_fraction=0.4, subsample=1.0
    )
    booster = XGBoostGap(coarse).fit(gap_rows).booster_
    assert booster is not None
    leaves = booster.trees_to_dataframe().query("Feature == 'Leaf'").groupby("Tree").size()
    assert (leaves <= 2).all()  # every leaf holds >= 40 % of the weight: one split at most


@pytest.mark.parametrize("family", ["xgboost", "lstm"])
@pytest.mark.parametrize("part", ["train", "validation"])
def test_infinite_training_value_is_a_data_error_naming_the_column(
    gap_rows: pd.DataFrame, family: str, part: str
) -> None:
    half = len(gap_rows) // 2
    train, validation = gap_rows.iloc[:half].copy(), gap_rows.iloc[half:].copy()
    bad = train if part == "train" else validation
    bad.iloc[3, bad.columns.get_loc("order_value")] = -np.inf
    model = get_family(family)(TINY_CONFIGS[family]())
    with pytest.raises(DataError, match=r"column 'order_value' holds -inf at row 3"):
        model.fit(train, validation)
