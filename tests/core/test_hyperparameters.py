from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from retailsage.core.errors import HyperparameterError
from retailsage.core.hyperparameters import (
    check_range,
    parse_hyperparameters,
    to_hyperparameters,
)


@dataclass(frozen=True)
class DemoConfig:
    n_clusters: int = 8
    eta: float = 0.1
    objective: Literal["reg:squarederror", "reg:absoluteerror"] = "reg:squarederror"
    log_target: bool = False
    cutoff: str | None = None
    hidden: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        check_range("n_clusters", self.n_clusters, low=2, high=256)
        check_range("eta", self.eta, low=0.0, high=1.0, low_open=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"n_clusters": "12"}, DemoConfig(n_clusters=12)),
        ({"n_clusters": "12.0"}, DemoConfig(n_clusters=12)),
        ({"eta": '"0.3"'}, DemoConfig(eta=0.3)),
        ({"objective": '"reg:absoluteerror"'}, DemoConfig(objective="reg:absoluteerror")),
        ({"objective": "reg:absoluteerror"}, DemoConfig(objective="reg:absoluteerror")),
        ({"log_target": "true"}, DemoConfig(log_target=True)),
        ({"log_target": '"False"'}, DemoConfig(log_target=False)),
        ({"cutoff": "2011-09-01"}, DemoConfig(cutoff="2011-09-01")),
        ({"cutoff": "null"}, DemoConfig(cutoff=None)),
        ({"hidden": "16,8"}, DemoConfig(hidden=(16, 8))),
        ({"hidden": "[16, 8]"}, DemoConfig(hidden=(16, 8))),
        ({"_tuning_objective_metric": "x", "sagemaker_region": '"us-east-1"'}, DemoConfig()),
    ],
)
def test_parse_accepts_plain_and_json_encoded_strings(raw, expected):
    assert parse_hyperparameters(DemoConfig, raw) == expected


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"n_cluster": "3"}, "unknown hyperparameter(s) n_cluster; valid keys are: cutoff, eta"),
        ({"n_clusters": "three"}, "'n_clusters': 'three' is not a valid int"),
        ({"n_clusters": "2.5"}, "is not a valid int"),
        ({"log_target": "yes"}, "use 'true' or 'false'"),
        ({"objective": "reg:gamma"}, "is not one of the allowed values"),
        ({"n_clusters": "1"}, "'n_clusters': 1 is out of range; allowed [2, 256]"),
        ({"eta": "0"}, "'eta': 0.0 is out of range; allowed (0.0, 1.0]"),
    ],
)
def test_parse_rejects_with_a_message_naming_field_value_and_range(raw, needle):
    with pytest.raises(HyperparameterError) as info:
        parse_hyperparameters(DemoConfig, raw)
    assert needle in str(info.value)


def test_to_hyperparameters_round_trips():
    config = DemoConfig(n_clusters=5, log_target=True, hidden=(4, 2), cutoff="2011-01-01")
    raw = to_hyperparameters(config)
    assert all(isinstance(v, str) for v in raw.values())
    assert raw["log_target"] == "true"
    assert parse_hyperparameters(DemoConfig, raw) == config


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", '"nan"', "1e400"])
def test_non_finite_floats_are_rejected_when_parsed(text):
    with pytest.raises(HyperparameterError, match=r"'eta'.*finite number"):
        parse_hyperparameters(DemoConfig, {"eta": text})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_check_range_rejects_non_finite_values_even_without_an_upper_bound(value):
    with pytest.raises(HyperparameterError, match=r"'min_child_weight'.*not a finite number"):
        check_range("min_child_weight", value, low=0.0)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[bad", "'hidden': '[bad' is not a valid JSON list"),
        ('["a", ["b"]]', "must be a flat list"),
        ("[null]", "must be a flat list"),
        ("[" * 5000, "is not a valid JSON list"),
    ],
)
def test_malformed_list_values_name_the_hyperparameter(text, needle):
    with pytest.raises(HyperparameterError) as info:
        parse_hyperparameters(DemoConfig, {"hidden": text})
    assert needle in str(info.value)


@pytest.mark.parametrize("text", ["1e30", "9" * 400, "-9223372036854775809", "inf", "nan"])
def test_integers_outside_the_64_bit_range_are_rejected(text):
    with pytest.raises(HyperparameterError, match="64-bit range"):
        parse_hyperparameters(DemoConfig, {"n_clusters": text})


def test_integers_at_the_64_bit_edges_are_exact():
    @dataclass(frozen=True)
    class Wide:
        value: int = 0

    assert parse_hyperparameters(Wide, {"value": "9223372036854775807"}).value == 2**63 - 1
    assert parse_hyperparameters(Wide, {"value": "-9223372036854775808"}).value == -(2**63)
    assert parse_hyperparameters(Wide, {"value": "1e3"}).value == 1000


def test_check_range_handles_python_ints_beyond_float_range():
    with pytest.raises(HyperparameterError, match="out of range"):
        check_range("num_round", 10**400, low=1, high=100_000)
    check_range("patience", 10**400, low=0)
