from __future__ import annotations

import json

import pytest

from retailsage.core.errors import UserError
from retailsage.train.environment import read_environment


def write(base, name, data):
    (base / "input" / "config" / name).write_text(json.dumps(data))


def test_reads_the_sagemaker_config_files(opt_ml, tmp_path):
    base = opt_ml()
    write(base, "hyperparameters.json", {"model_type": '"xgboost"', "num_round": "5"})
    write(
        base,
        "inputdataconfig.json",
        {
            "train": {
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            },
            "validation": {"TrainingInputMode": "FastFile"},
        },
    )
    write(base, "resourceconfig.json", {"current_host": "algo-2", "hosts": ["algo-2", "algo-1"]})
    write(base, "checkpointconfig.json", {"LocalPath": str(tmp_path / "ckpt")})
    environment = read_environment({"SAGEMAKER_BASE_DIR": str(base)})
    assert environment.hyperparameters == {"model_type": '"xgboost"', "num_round": "5"}
    assert environment.channels == {
        "train": base / "input/data/train",
        "validation": base / "input/data/validation",
    }
    assert environment.hosts == ("algo-1", "algo-2")
    assert environment.current_host == "algo-2"
    assert not environment.is_master
    assert environment.checkpoint_dir == tmp_path / "ckpt"
    assert environment.paths.model_dir == base / "model"


def test_defaults_without_config_files(opt_ml):
    base = opt_ml()
    (base / "input/data/train").mkdir()
    environment = read_environment({"SAGEMAKER_BASE_DIR": str(base)})
    assert environment.hyperparameters == {}
    assert environment.channels == {"train": base / "input/data/train"}
    assert environment.hosts == ("algo-1",)
    assert environment.is_master
    assert environment.checkpoint_dir == base / "checkpoints"


def test_training_toolkit_variables_are_honoured(opt_ml, tmp_path):
    base = opt_ml()
    env = {
        "SAGEMAKER_BASE_DIR": str(base),
        "SM_HPS": json.dumps({"model_type": "lstm", "epochs": 3, "bidirectional": True}),
        "SM_CHANNELS": json.dumps(["train"]),
        "SM_CHANNEL_TRAIN": str(tmp_path / "elsewhere"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "reports"),
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_CURRENT_HOST": "algo-1",
    }
    environment = read_environment(env)
    assert environment.hyperparameters == {
        "model_type": "lstm",
        "epochs": "3",
        "bidirectional": "true",
    }
    assert environment.channels == {"train": tmp_path / "elsewhere"}
    assert environment.paths.model_dir == tmp_path / "model"
    assert environment.paths.output_data_dir == tmp_path / "reports"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("hyperparameters.json", "{not json", "hyperparameters file"),
        ("hyperparameters.json", "[1, 2]", "JSON object"),
        (
            "inputdataconfig.json",
            json.dumps({"train": {"TrainingInputMode": "Pipe"}}),
            "TrainingInputMode 'Pipe'",
        ),
        (
            "inputdataconfig.json",
            json.dumps({"train": {"RecordWrapperType": "RecordIO"}}),
            "RecordWrapperType 'RecordIO'",
        ),
        ("inputdataconfig.json", json.dumps(["train"]), "must hold a JSON object of channel"),
        ("resourceconfig.json", "[" * 100_000, "resourceconfig file"),
    ],
)
def test_bad_config_files_are_user_errors(opt_ml, name, content, needle):
    base = opt_ml()
    (base / "input/config" / name).write_text(content)
    with pytest.raises(UserError, match=needle):
        read_environment({"SAGEMAKER_BASE_DIR": str(base)})


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"SM_HOSTS": "[algo-1"}, "SM_HOSTS is not valid JSON"),
        ({"SM_HOSTS": '{"a": 1}'}, "SM_HOSTS: 'hosts' must be a non-empty list"),
        ({"SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-9"}, 'current host "algo-9"'),
        ({"SM_CHANNELS": "[train"}, "SM_CHANNELS is not valid JSON"),
        ({"SM_CHANNELS": "[1]"}, "SM_CHANNELS must be a JSON list of channel names"),
        ({"SM_HPS": "{bad"}, "SM_HPS is not valid JSON"),
    ],
)
def test_malformed_toolkit_variables_are_user_errors(opt_ml, env, needle):
    base = opt_ml()
    with pytest.raises(UserError) as info:
        read_environment({"SAGEMAKER_BASE_DIR": str(base), **env})
    assert needle in str(info.value)


def test_resourceconfig_without_hosts_falls_back_and_valid_hosts_are_sorted(opt_ml):
    base = opt_ml()
    write(base, "resourceconfig.json", {})
    assert read_environment({"SAGEMAKER_BASE_DIR": str(base)}).hosts == ("algo-1",)
    write(base, "resourceconfig.json", {"hosts": ["algo-2", "algo-1"]})
    environment = read_environment({"SAGEMAKER_BASE_DIR": str(base)})
    assert environment.hosts == ("algo-1", "algo-2")
    assert environment.current_host == "algo-1"


def test_checkpointconfig_local_path_must_be_a_string(opt_ml):
    base = opt_ml()
    write(base, "checkpointconfig.json", {"LocalPath": 5})
    with pytest.raises(UserError, match="LocalPath must be a path string"):
        read_environment({"SAGEMAKER_BASE_DIR": str(base)})
