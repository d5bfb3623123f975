"""CompiledTrees predicts bit for bit what Booster.inplace_predict does, or declines."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from retailsage.features.gap import TARGET
from retailsage.models import compiled_trees
from retailsage.models.compiled_trees import SWITCH_ENV, CompiledTrees
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig

BUILT = compiled_trees._treewalk is not None
pytestmark = pytest.mark.skipif(
    not BUILT and not os.environ.get("CI"), reason="the _treewalk extension is not built"
)
N_FEATURES = 7


def train(objective: str, *, rounds: int = 30, depth: int = 6, seed: int = 0) -> xgb.Booster:
    """A booster with full-depth trees, trained with missing values in its data."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, N_FEATURES))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.nan_to_num(x[:, 0]) * 3 + np.sin(np.nan_to_num(x[:, 1])) + rng.normal(size=3000) + 10
    params: dict[str, object] = {
        "objective": objective,
        "max_depth": depth,
        "eta": 0.3,
        "nthread": 1,
        "seed": seed,
    }
    if objective == "reg:pseudohubererror":
        params["huber_slope"] = 20.0  # big enough that every tree splits
    booster = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), rounds)
    booster.set_param({"nthread": 1})
    return booster


def split_values(booster: xgb.Booster) -> np.ndarray:
    """Every split threshold of the booster, as float32."""
    dump = json.loads(booster.save_raw("json"))
    trees = dump["learner"]["gradient_booster"]["model"]["trees"]
    return np.array(
        [
            c
            for t in trees
            for c, left in zip(t["split_conditions"], t["left_children"], strict=True)
            if left >= 0
        ],
        dtype=np.float32,
    )


def hard_inputs(booster: xgb.Booster, rows: int, seed: int) -> np.ndarray:
    """Rows mixing ordinary values with NaN, +-0, exact thresholds and their float32 neighbours."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES)).astype(np.float32)
    splits = split_values(booster)
    assert splits.size, "the booster has no splits to probe"
    exact = rng.choice(splits, size=x.shape)
    pick = rng.random(x.shape)
    x = np.where(pick < 0.25, exact, x)
    x = np.where((pick >= 0.25) & (pick < 0.35), np.nextafter(exact, np.float32(np.inf)), x)
    x = np.where((pick >= 0.35) & (pick < 0.45), np.nextafter(exact, np.float32(-np.inf)), x)
    x = np.where((pick >= 0.45) & (pick < 0.55), np.float32(np.nan), x)
    x = np.where((pick >= 0.55) & (pick < 0.58), np.float32(-0.0), x)
    return x


def test_the_extension_is_built() -> None:
    """`pip install -e .` compiles it (setup.py); CI must not silently fall back to xgboost."""
    assert BUILT


@pytest.mark.parametrize(
    "objective", ["reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"]
)
@pytest.mark.parametrize("rows", [0, 1, 31, 32, 33, 1000])
def test_bit_identical_to_inplace_predict(objective: str, rows: int) -> None:
    booster = train(objective)
    compiled = CompiledTrees.from_booster(booster)
    assert compiled is not None
    x32 = hard_inputs(booster, rows, seed=rows)
    for x in (x32, x32.astype(np.float64)):
        expected = booster.inplace_predict(x)
        got = compiled.predict(x)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def test_float64_inputs_round_to_float32_as_xgboost_does() -> None:
    booster = train("reg:squarederror", seed=3)
    compiled = CompiledTrees.from_booster(booster)
    assert compiled is not None
    splits = split_values(booster).astype(np.float64)
    # float64 values just either side of a float32 threshold, and beyond float32's range
    near = np.concatenate([splits * (1 + 1e-9), splits * (1 - 1e-9), [1e39, -1e39, 3.4e38]])
    x = np.resize(near, (near.size // N_FEATURES + 1) * N_FEATURES).reshape(-1, N_FEATURES)
    np.testing.assert_array_equal(compiled.predict(x), booster.inplace_predict(x))


def test_infinite_values_follow_xgboost() -> None:
    booster = train("reg:squarederror", seed=4)
    compiled = CompiledTrees.from_booster(booster)
    assert compiled is not None
    x = hard_inputs(booster, 200, seed=9)
    x[::3, 0] = np.inf
    x[1::3, 1] = -np.inf
    np.testing.assert_array_equal(compiled.predict(x), booster.inplace_predict(x))


def test_shallow_and_stump_trees() -> None:
    for depth in (1, 2):
        booster = train("reg:absoluteerror", depth=depth, rounds=50, seed=depth)
        compiled = CompiledTrees.from_booster(booster)
        assert compiled is not None
        assert int(compiled.depths.max()) <= depth
        x = hard_inputs(booster, 300, seed=depth)
        np.testing.assert_array_equal(compiled.predict(x), booster.inplace_predict(x))


def test_wrong_width_is_refused() -> None:
    compiled = CompiledTrees.from_booster(train("reg:squarederror", rounds=3))
    assert compiled is not None
    with pytest.raises(ValueError, match=f"\\[n, {N_FEATURES}\\]"):
        compiled.predict(np.zeros((4, N_FEATURES + 1)))
    with pytest.raises(ValueError):
        compiled.predict(np.zeros(N_FEATURES))


def test_declines_what_it_cannot_reproduce() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    logistic = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgb.DMatrix(x, label=(x[:, 0] > 0).astype(float)),
        3,
    )
    assert CompiledTrees.from_booster(logistic) is None  # link function
    dart = xgb.train({"booster": "dart", "max_depth": 2}, xgb.DMatrix(x, label=x[:, 0]), 3)
    assert CompiledTrees.from_booster(dart) is None
    frame = pd.DataFrame({"a": pd.Categorical(rng.choice(["x", "y", "z"], 500)), "b": x[:, 1]})
    categorical = xgb.train(
        {"max_depth": 2, "max_cat_to_onehot": 1},
        xgb.DMatrix(frame, label=x[:, 0], enable_categorical=True),
        3,
    )
    assert CompiledTrees.from_booster(categorical) is None
    two_targets = xgb.train(
        {"max_depth": 2, "multi_strategy": "multi_output_tree", "tree_method": "hist"},
        xgb.DMatrix(x, label=np.column_stack([x[:, 0], x[:, 1]])),
        3,
    )
    assert CompiledTrees.from_booster(two_targets) is None


def test_switch_and_missing_extension_keep_xgboost(monkeypatch: pytest.MonkeyPatch) -> None:
    booster = train("reg:squarederror", rounds=3)
    monkeypatch.setenv(SWITCH_ENV, "0")
    assert CompiledTrees.from_booster(booster) is None
    monkeypatch.delenv(SWITCH_ENV)
    monkeypatch.setattr(compiled_trees, "_treewalk", None)
    assert CompiledTrees.from_booster(booster) is None


def test_the_family_predicts_the_same_either_way(
    gap_rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = XGBoostGapConfig(
        num_round=40, max_depth=6, min_child_fraction=0.0, min_child_weight=1.0, nthread=1
    )
    model = XGBoostGap(config).fit(gap_rows)
    assert model.compiled_trees() is not None
    features = gap_rows.drop(columns=[TARGET])
    compiled = model.predict(features)
    monkeypatch.setenv(SWITCH_ENV, "0")
    plain = XGBoostGap(config)
    plain.spec_, plain.booster_ = model.spec_, model.booster_
    plain.probability_ = model.probability_
    assert plain.compiled_trees() is None
    pd.testing.assert_frame_equal(plain.predict(features), compiled)


def test_a_model_without_trees_predicts_its_base_margin() -> None:
    dump = json.loads(train("reg:squarederror", rounds=2).save_raw("json"))
    model = dump["learner"]["gradient_booster"]["model"]
    model["trees"], model["tree_info"] = [], []
    compiled = CompiledTrees.from_dump(dump)
    assert compiled.n_trees == 0
    out = compiled.predict(np.zeros((3, N_FEATURES)))
    np.testing.assert_array_equal(out, np.full(3, compiled.base_margin, dtype=np.float32))


@pytest.mark.parametrize("damage", ["cycle", "out of range", "bad feature"])
def test_a_malformed_dump_is_declined_not_walked(damage: str) -> None:
    dump = json.loads(train("reg:squarederror", rounds=2).save_raw("json"))
    tree = dump["learner"]["gradient_booster"]["model"]["trees"][0]
    if damage == "cycle":
        tree["left_children"][tree["left_children"][0]] = 0
    elif damage == "out of range":
        tree["right_children"][0] = 10_000
    else:
        tree["split_indices"][0] = N_FEATURES
    with pytest.raises(compiled_trees.Unsupported):
        CompiledTrees.from_dump(dump)


def test_splits_per_tree_counts_internal_nodes() -> None:
    booster = train("reg:squarederror", rounds=5, depth=3)
    compiled = CompiledTrees.from_booster(booster)
    assert compiled is not None
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    splits = [sum(1 for left in t["left_children"] if left >= 0) for t in trees]
    assert compiled.splits_per_tree == pytest.approx(sum(splits) / len(splits))
