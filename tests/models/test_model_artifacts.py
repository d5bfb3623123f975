"""Artifact safety: manifest contents, pickle refusal, version checks, checkpoint files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
import pytest

from retailsage.core.errors import ArtifactError
from retailsage.models.artifacts import load_model, save_model
from retailsage.models.checkpoints import (
    TEMP_SUFFIX,
    checkpoint_path,
    list_checkpoints,
    prune_checkpoints,
    write_atomically,
)
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig, check_xgboost_version


@pytest.fixture(scope="module")
def xgb_dir(tmp_path_factory: pytest.TempPathFactory, gap_rows: pd.DataFrame) -> Path:
    model = XGBoostGap(XGBoostGapConfig(num_round=5, nthread=1)).fit(gap_rows)
    directory = tmp_path_factory.mktemp("xgb")
    save_model(model, directory)
    return directory


def test_manifest_records_family_config_spec_and_versions(xgb_dir: Path) -> None:
    manifest = json.loads((xgb_dir / "manifest.json").read_text())
    assert manifest["family"] == "xgboost"
    assert manifest["config"]["num_round"] == 5
    assert manifest["feature_spec"]["categories"]["Country"][0] == "United Kingdom"
    assert manifest["feature_spec"]["unknown_code"] == 0
    assert "xgboost-cpu" in manifest["libraries"] or "xgboost" in manifest["libraries"]
    assert (xgb_dir / "model.ubj").is_file()


def test_loader_refuses_a_pickle_file_in_the_model_dir(xgb_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    for path in xgb_dir.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    (target / "extra.pkl").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ArtifactError, match=r"extra\.pkl"):
        load_model(target)


def test_loader_refuses_a_booster_from_another_xgboost_minor(xgb_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((xgb_dir / "manifest.json").read_text())
    manifest["libraries"] = {"xgboost": "3.0.5"}
    target = tmp_path / "model"
    target.mkdir()
    (target / "model.ubj").write_bytes((xgb_dir / "model.ubj").read_bytes())
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"3\.0\.5"):
        load_model(target)
    with pytest.raises(ArtifactError, match="does not record"):
        check_xgboost_version({})


def test_loader_sets_one_serving_thread(xgb_dir: Path) -> None:
    model = load_model(xgb_dir)
    assert isinstance(model, XGBoostGap)
    config = json.loads(model.booster_.save_config())  # type: ignore[union-attr]
    assert config["learner"]["generic_param"]["nthread"] == "1"


def test_checkpoints_are_written_atomically_and_pruned(tmp_path: Path) -> None:
    for step in range(1, 6):
        write_atomically(
            checkpoint_path(tmp_path, "demo", step, ".bin"), lambda p: p.write_bytes(b"x")
        )
    (tmp_path / ("demo-00000009.bin" + TEMP_SUFFIX)).write_bytes(b"partial")
    assert [s for s, _ in list_checkpoints(tmp_path, "demo", ".bin")] == [1, 2, 3, 4, 5]
    prune_checkpoints(tmp_path, "demo", ".bin", keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path, "demo", ".bin")] == [4, 5]
