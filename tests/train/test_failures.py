"""The failure contract: every bad input through the real entrypoint, our bugs through main()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.features.gap import gap_training_rows
from retailsage.train import config as config_module
from retailsage.train import runner
from retailsage.train.failure import FAILURE_REASON_LIMIT

from .conftest import run_entrypoint

XGB = {"model_type": "xgboost", "num_round": "5"}


def malformed_csv(tmp_path: Path) -> dict[str, list[Path]]:
    path = tmp_path / "broken.csv"
    header = ",".join(TRANSACTION_COLUMNS)
    path.write_text(f"{header}\n536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850\n")
    return {"train": [path]}


def featurized_missing_column(tmp_path: Path, transactions: Path) -> dict[str, list[Path]]:
    rows = gap_training_rows(clean_transactions(load_transactions(transactions)))
    path = tmp_path / "gap_rows.csv"
    rows.drop(columns=["last_gap"]).to_csv(path, index=False)
    return {"train": [path]}


CASES = {
    "malformed_csv": (XGB, "malformed", ["broken.csv", "cannot parse CSV"]),
    "empty_channel": (
        XGB,
        "empty",
        ["channel 'train'", "no data files found", "is the channel empty? (check that the S3"],
    ),
    "no_train_channel": (XGB, "validation_only", ["no 'train' channel", "validation"]),
    "unknown_hyperparameter": (
        {**XGB, "num_rounds": "5"},
        "data",
        ["unknown hyperparameter(s) num_rounds", "job keys model_type", "xgboost keys"],
    ),
    "wrong_type": (
        {**XGB, "num_round": '"ten"'},
        "data",
        ["'num_round': 'ten' is not"],
    ),
    "out_of_range": ({**XGB, "eta": "1.5"}, "data", ["'eta': 1.5 is out of range; allowed (0.0"]),
    "unknown_model_type": ({"model_type": "prophet"}, "data", ["'prophet'", "pca_kmeans, xgboost"]),
    "missing_model_type": ({"num_round": "5"}, "data", ["'model_type' is required"]),
    "featurized_missing_column": (
        {**XGB, "target": "order_gap"},
        "featurized",
        ["lacks column(s) last_gap"],
    ),
    "nan_hyperparameter": ({**XGB, "eta": "NaN"}, "data", ["'eta': 'NaN'", "finite number"]),
    "malformed_list": ({**XGB, "exclude_columns": "[bad"}, "data", ["'exclude_columns'", "JSON"]),
    "infinite_hyperparameter": ({**XGB, "min_child_weight": "inf"}, "data", ["finite number"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_a_user_error_through_the_entrypoint(case, tree, tmp_path, transactions_csv):
    hyperparameters, data, needles = CASES[case]
    channels = {
        "malformed": lambda: malformed_csv(tmp_path),
        "empty": lambda: {"train": []},
        "validation_only": lambda: {"validation": [transactions_csv]},
        "data": lambda: {"train": [transactions_csv]},
        "featurized": lambda: featurized_missing_column(tmp_path, transactions_csv),
    }[data]()
    base = tree(channels, hyperparameters)
    result = run_entrypoint(base)
    assert result.returncode == 1, result.stderr
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("UserError: ")
    for needle in needles:
        assert needle in failure[:FAILURE_REASON_LIMIT]
    assert "Traceback" not in failure
    assert list((base / "model").iterdir()) == []


def test_an_unexpected_exception_is_an_algorithm_error(tree, transactions_csv, monkeypatch):
    base = tree({"train": [transactions_csv]}, XGB)

    def broken(model_type: str) -> object:
        raise RuntimeError("feature matrix has the wrong shape")

    monkeypatch.setattr(runner, "task_for", broken)
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 2
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("AlgorithmError: RuntimeError: feature matrix has the wrong shape")
    assert "Traceback (most recent call last)" in failure


def test_an_earlier_failure_file_is_kept(tree, transactions_csv):
    base = tree({"train": [transactions_csv]}, {"model_type": "prophet"})
    (base / "output" / "failure").write_text("UserError: the first problem\n")
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 1
    assert (base / "output" / "failure").read_text() == "UserError: the first problem\n"


def test_a_non_master_host_exits_cleanly_without_a_model(tree, transactions_csv):
    # pca_kmeans trains on the first host only (the gap families train on every host:
    # tests/train/test_multihost.py)
    base = tree({"train": [transactions_csv]}, {"model_type": "pca_kmeans"})
    (base / "input/config/resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]})
    )
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 0
    assert list((base / "model").iterdir()) == []
    assert not (base / "output" / "failure").exists()


HOSTS_CASES = {
    "hosts_not_a_list": ({"current_host": "algo-1", "hosts": "algo-1"}, "'hosts' must be"),
    "hosts_empty": ({"current_host": "algo-1", "hosts": []}, "'hosts' must be"),
    "hosts_not_strings": ({"current_host": "algo-1", "hosts": ["algo-1", 2]}, "'hosts' must be"),
    "hosts_duplicated": ({"current_host": "algo-1", "hosts": ["algo-1", "algo-1"]}, "more than"),
    "current_not_in_hosts": (
        {"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]},
        'current host "algo-3" is not one of the job\'s hosts',
    ),
    "current_not_a_string": ({"current_host": 1, "hosts": ["algo-1"]}, "current host 1"),
    "not_an_object": (["algo-1"], "must hold a JSON object"),
}


@pytest.mark.parametrize("case", sorted(HOSTS_CASES))
def test_malformed_resourceconfig_fails_with_a_failure_file(case, tree, transactions_csv):
    content, needle = HOSTS_CASES[case]
    base = tree({"train": [transactions_csv]}, XGB)
    (base / "input/config/resourceconfig.json").write_text(json.dumps(content))
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 1
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("UserError: ")
    assert needle in failure
    assert list((base / "model").iterdir()) == []


@pytest.mark.parametrize(
    ("hyperparameters", "needle"),
    [
        ({**XGB, "eta": "nan"}, "'eta'"),
        ({**XGB, "min_child_weight": "inf"}, "'min_child_weight'"),
        ({**XGB, "exclude_columns": "[bad"}, "'exclude_columns'"),
        ({"model_type": "lstm", "device": "cuda"}, "'device': 'cuda' was requested"),
    ],
)
def test_bad_hyperparameters_fail_before_any_data_is_read(
    hyperparameters, needle, tree, transactions_csv, monkeypatch
):
    base = tree({"train": [transactions_csv]}, hyperparameters)
    monkeypatch.setattr(config_module, "cuda_available", lambda: False)

    def no_data_prep(*args: object) -> object:
        raise AssertionError("data preparation started before the hyperparameters were checked")

    monkeypatch.setattr(runner, "_channels", no_data_prep)
    monkeypatch.setattr(runner, "task_for", no_data_prep)
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 1
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("UserError: hyperparameter ")
    assert needle in failure
    assert list((base / "model").iterdir()) == []


def test_a_failure_after_the_model_was_saved_leaves_no_model_files(
    tree, transactions_csv, monkeypatch
):
    base = tree({"train": [transactions_csv]}, XGB)
    saved: list[Path] = []
    real_save = runner.save_model

    def save_then_remember(model: object, directory: Path) -> dict[str, object]:
        manifest = real_save(model, directory)  # type: ignore[arg-type]
        saved.extend(directory.iterdir())
        return manifest

    def broken_report(*args: object) -> None:
        raise OSError("disk full while writing report.json")

    monkeypatch.setattr(runner, "save_model", save_then_remember)
    monkeypatch.setattr(runner, "write_report", broken_report)
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 2
    assert saved, "the model was never saved, so the test proves nothing"
    assert list((base / "model").iterdir()) == []
    assert not [p for p in base.iterdir() if p.name.startswith(".retailsage-model-staging-")]
    assert "disk full" in (base / "output" / "failure").read_text()


def test_a_successful_job_publishes_the_model_and_removes_the_staging_dir(tree, transactions_csv):
    base = tree({"train": [transactions_csv]}, XGB)
    assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}) == 0
    assert {"manifest.json", "model.ubj"} <= {p.name for p in (base / "model").iterdir()}
    assert not [p for p in base.iterdir() if p.name.startswith(".retailsage-model-staging-")]


def test_an_unknown_log_level_keeps_the_failure_contract(tree, transactions_csv):
    """A bad SM_LOG_LEVEL once crashed python -m retailsage.train before main(): no failure file."""
    base = tree({"train": [transactions_csv]}, {"model_type": "forest"})
    result = run_entrypoint(base, extra_env={"SM_LOG_LEVEL": "bogus"})
    assert result.returncode == 1, result.stderr[-2000:]
    assert "names no log level" in result.stderr
    assert (base / "output" / "failure").read_text().startswith("UserError: hyperparameter ")
