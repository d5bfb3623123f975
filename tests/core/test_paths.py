from __future__ import annotations

from pathlib import Path

from retailsage.core.paths import SageMakerPaths


def test_default_tree_is_opt_ml():
    paths = SageMakerPaths.from_env({})
    assert paths.base == Path("/opt/ml")
    assert paths.hyperparameters_file == Path("/opt/ml/input/config/hyperparameters.json")
    assert paths.channel_dir("train") == Path("/opt/ml/input/data/train")
    assert paths.failure_file == Path("/opt/ml/output/failure")
    assert paths.model_dir == Path("/opt/ml/model")
    assert paths.checkpoint_dir == Path("/opt/ml/checkpoints")


def test_base_dir_relocates_everything(tmp_path):
    paths = SageMakerPaths.from_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})
    for path in (
        paths.model_dir,
        paths.output_data_dir,
        paths.failure_file,
        paths.checkpoint_config_file,
        paths.channel_dir("validation"),
    ):
        assert tmp_path in path.parents


def test_sm_variables_override_derived_paths(tmp_path):
    env = {
        "SAGEMAKER_BASE_DIR": str(tmp_path / "base"),
        "SM_MODEL_DIR": str(tmp_path / "m"),
        "SM_CHANNEL_TRAIN": str(tmp_path / "t"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "o"),
    }
    paths = SageMakerPaths.from_env(env)
    assert paths.model_dir == tmp_path / "m"
    assert paths.channel_dir("train") == tmp_path / "t"
    assert paths.output_data_dir == tmp_path / "o"
    assert paths.channel_dir("validation") == tmp_path / "base" / "input" / "data" / "validation"
