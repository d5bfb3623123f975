"""The contract every model family honours (the project's ``check_estimator``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.models.model_cases import FamilyCase

from retailsage.core.errors import BadInput, HyperparameterError, NotFittedError
from retailsage.core.hyperparameters import parse_hyperparameters, to_hyperparameters
from retailsage.models.artifacts import load_model, read_manifest, save_model
from retailsage.models.base import DriftReporting, Refittable
from retailsage.models.registry import MODEL_TYPES, get_family

pytestmark = pytest.mark.parametrize("family_case", MODEL_TYPES, indirect=True)


def _fit(case: FamilyCase):
    return get_family(case.name)(case.config).fit(case.train, case.validation)


def test_fit_returns_self(family_case: FamilyCase) -> None:
    model = get_family(family_case.name)(family_case.config)
    assert model.fit(family_case.train, family_case.validation) is model


def test_predict_and_save_before_fit_raise_not_fitted(
    family_case: FamilyCase, tmp_path: Path
) -> None:
    model = get_family(family_case.name)(family_case.config)
    with pytest.raises(NotFittedError):
        model.predict(family_case.score)
    with pytest.raises(NotFittedError):
        save_model(model, tmp_path)


def test_predict_returns_output_columns_for_every_row_in_order(
    family_case: FamilyCase, fitted: Any
) -> None:
    model = fitted
    score = family_case.score
    out = model.predict(score)
    assert list(out.columns) == list(model.output_columns)
    assert len(out) == len(score)
    assert out.index.equals(score.index)
    assert np.isfinite(out.to_numpy(dtype=np.float64)).all()
    shuffled = score.sample(frac=1.0, random_state=3)
    again = model.predict(shuffled)
    pd.testing.assert_frame_equal(again.loc[score.index], out)


def test_save_load_predict_is_identical(
    family_case: FamilyCase, fitted: Any, tmp_path: Path
) -> None:
    model = fitted
    manifest = save_model(model, tmp_path / "model")
    assert manifest["family"] == family_case.name
    assert read_manifest(tmp_path / "model")["input_columns"] == list(model.input_columns)
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(model)
    assert loaded.input_columns == model.input_columns
    pd.testing.assert_frame_equal(
        loaded.predict(family_case.score), model.predict(family_case.score)
    )
    assert not list((tmp_path / "model").glob("*.pkl"))


def test_missing_column_raises_bad_input_naming_it(family_case: FamilyCase, fitted: Any) -> None:
    model = fitted
    column = model.input_columns[0]
    with pytest.raises(BadInput, match=column):
        model.predict(family_case.score.drop(columns=[column]))


def test_non_numeric_value_raises_bad_input_naming_column(
    family_case: FamilyCase, fitted: Any
) -> None:
    model = fitted
    bad = family_case.score.astype({family_case.numeric_column: "object"})
    bad.iloc[1, bad.columns.get_loc(family_case.numeric_column)] = "lots"
    with pytest.raises(BadInput, match=family_case.numeric_column):
        model.predict(bad)


def test_fixed_seed_gives_deterministic_output(family_case: FamilyCase) -> None:
    first = _fit(family_case).predict(family_case.score)
    second = _fit(family_case).predict(family_case.score)
    pd.testing.assert_frame_equal(first, second)


def test_config_round_trips_through_sagemaker_strings(family_case: FamilyCase) -> None:
    config_cls = get_family(family_case.name).config_cls
    raw = to_hyperparameters(family_case.config)
    assert all(isinstance(v, str) for v in raw.values())
    assert parse_hyperparameters(config_cls, raw) == family_case.config
    assert parse_hyperparameters(config_cls, {}) == config_cls()


def test_config_rejects_out_of_range_and_unknown_values(family_case: FamilyCase) -> None:
    config_cls = get_family(family_case.name).config_cls
    first_int = next(k for k, v in to_hyperparameters(config_cls()).items() if v.isdigit())
    with pytest.raises(HyperparameterError, match=first_int):
        parse_hyperparameters(config_cls, {first_int: "-5"})
    with pytest.raises(HyperparameterError, match="no_such_knob"):
        parse_hyperparameters(config_cls, {"no_such_knob": "1"})


def test_empty_frame_gives_empty_predictions_and_explanations(
    family_case: FamilyCase, fitted: Any
) -> None:
    empty = family_case.score.iloc[:0]
    predictions = fitted.predict(empty)
    assert len(predictions) == 0
    assert tuple(predictions.columns) == type(fitted).output_columns
    if hasattr(fitted, "explain"):  # the gap families; both answer zero rows alike
        contributions = fitted.explain(empty)
        assert len(contributions) == 0
        assert list(contributions.columns) == [*fitted.input_columns, "bias"]


def test_optional_hooks_are_declared_by_protocol(family_case: FamilyCase) -> None:
    # the training runner finds the refit and drift hooks by these protocols, not by name
    model = get_family(family_case.name)(family_case.config)
    gap = family_case.name in ("xgboost", "lstm")
    assert isinstance(model, Refittable) is gap
    assert isinstance(model, DriftReporting) is gap
