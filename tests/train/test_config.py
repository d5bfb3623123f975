from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
import pytest

from retailsage.core.errors import HyperparameterError
from retailsage.core.hyperparameters import check_range
from retailsage.train.config import JOB_KEYS, JobConfig, resolve_config


@dataclass(frozen=True)
class FakeConfig:
    num_round: int = 10
    eta: float = 0.3

    def __post_init__(self) -> None:
        check_range("num_round", self.num_round, low=1, high=1000)
        check_range("eta", self.eta, low=0.0, high=1.0, low_open=True)


class FakeFamily:
    name: ClassVar[str] = "xgboost"
    config_cls: ClassVar[type[Any]] = FakeConfig


def lookup(model_type: str) -> Any:
    return FakeFamily


@pytest.mark.parametrize(
    ("raw", "job", "family"),
    [
        ({"model_type": "xgboost"}, JobConfig("xgboost"), FakeConfig()),
        (
            {"model_type": '"xgboost"', "num_round": '"25"', "eta": "0.5"},
            JobConfig("xgboost"),
            FakeConfig(num_round=25, eta=0.5),
        ),
        (
            {
                "model_type": "xgboost",
                "eval_protocol": '"p2cap"',
                "eval_cutoff": "2011-09-01",
                "horizon_days": "90",
                "checkpoint_every": "5",
            },
            JobConfig("xgboost", "p2cap", "2011-09-01", 90, 5),
            FakeConfig(),
        ),
        (
            {
                "model_type": "xgboost",
                "_tuning_objective_metric": "validation:mae",
                "sagemaker_program": '"x.py"',
            },
            JobConfig("xgboost"),
            FakeConfig(),
        ),
        ({"model_type": "xgboost", "eval_cutoff": "null"}, JobConfig("xgboost"), FakeConfig()),
    ],
)
def test_resolve_accepts_plain_and_json_encoded_values(raw, job, family):
    resolved = resolve_config(raw, family_lookup=lookup)
    assert resolved.job == job
    assert resolved.family_config == family
    assert resolved.family_cls is FakeFamily


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        ({}, ["'model_type' is required", "pca_kmeans, xgboost, lstm"]),
        ({"model_type": "prophet"}, ["'prophet' is not a known model type", "pca_kmeans"]),
        (
            {"model_type": "xgboost", "num_rounds": "3"},
            [
                "unknown hyperparameter(s) num_rounds",
                "job keys model_type, eval_protocol",
                "xgboost keys eta, num_round",
            ],
        ),
        ({"model_type": "xgboost", "num_round": "ten"}, ["'num_round': 'ten' is not a valid int"]),
        (
            {"model_type": "xgboost", "num_round": "0"},
            ["'num_round': 0 is out", "[1, 1000]"],
        ),
        ({"model_type": "xgboost", "horizon_days": "0"}, ["'horizon_days': 0 is out of range"]),
        ({"model_type": "xgboost", "checkpoint_every": "-1"}, ["'checkpoint_every': -1"]),
        ({"model_type": "xgboost", "eval_protocol": "p3"}, ["'eval_protocol': 'p3' is not one of"]),
        ({"model_type": "xgboost", "eval_cutoff": "last tuesday"}, ["'eval_cutoff'", "YYYY-MM-DD"]),
    ],
)
def test_resolve_rejects_bad_hyperparameters(raw, needles):
    with pytest.raises(HyperparameterError) as info:
        resolve_config(raw, family_lookup=lookup)
    for needle in needles:
        assert needle in str(info.value)


def test_job_keys_and_cutoff_property():
    assert JOB_KEYS[0] == "model_type"
    assert JobConfig("lstm", eval_cutoff="2011-09-01").cutoff == pd.Timestamp("2011-09-01")
    assert JobConfig("lstm").cutoff is None


def test_resolve_uses_the_real_registry_for_model_type():
    with pytest.raises(HyperparameterError, match="valid values are: pca_kmeans, xgboost, lstm"):
        resolve_config({"model_type": "arima"})


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"model_type": "xgboost", "eta": "NaN"}, "'eta': 'NaN' is not a valid float"),
        ({"model_type": "xgboost", "min_child_weight": "inf"}, "'min_child_weight': 'inf'"),
        ({"model_type": "lstm", "learning_rate": "nan"}, "'learning_rate'"),
        ({"model_type": "lstm", "dropout": "-Infinity"}, "'dropout'"),
        ({"model_type": "pca_kmeans", "contamination": "nan"}, "'contamination'"),
        ({"model_type": "xgboost", "exclude_columns": "[bad"}, "'exclude_columns': '[bad'"),
        ({"model_type": "lstm", "exclude_columns": '[{"a": 1}]'}, "must be a flat list"),
        ({"model_type": "lstm", "seed": "-1"}, "'seed': -1 is out of range"),
        ({"model_type": "pca_kmeans", "seed": str(2**32)}, "'seed': 4294967296 is out of range"),
        ({"model_type": "xgboost", "seed": "1e30"}, "64-bit range"),
        ({"model_type": "xgboost", "eval_cutoff": "2300-01-01"}, "outside the supported dates"),
        ({"model_type": "xgboost", "eval_cutoff": "NaT"}, "'eval_cutoff'"),
    ],
)
def test_real_families_reject_non_finite_and_malformed_values(raw, needle):
    with pytest.raises(HyperparameterError) as info:
        resolve_config(raw)
    assert needle in str(info.value)


def test_device_cuda_without_cuda_is_a_hyperparameter_error_at_config_time():
    raw = {"model_type": "lstm", "device": "cuda"}
    with pytest.raises(HyperparameterError, match="'device': 'cuda' was requested but no CUDA"):
        resolve_config(raw, has_cuda=lambda: False)
    assert resolve_config(raw, has_cuda=lambda: True).family_config.device == "cuda"
    # auto and cpu never need CUDA; families without a device field are not checked
    for device in ("auto", "cpu"):
        resolve_config({"model_type": "lstm", "device": device}, has_cuda=lambda: False)
    resolve_config({"model_type": "xgboost"}, has_cuda=lambda: False)
