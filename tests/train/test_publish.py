"""Staged model output: published whole on success, nothing left behind on failure."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retailsage.train import publish as publish_module
from retailsage.train.publish import STAGING_PREFIX, publish, staged_model_dir


def staged_files(staging: Path) -> None:
    (staging / "manifest.json").write_text("{}")
    (staging / "model.ubj").write_bytes(b"\x00")
    (staging / "extra").mkdir()
    (staging / "extra" / "spec.json").write_text("[]")


def test_publish_moves_everything_and_the_staging_dir_goes(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.ubj").write_bytes(b"old")
    with staged_model_dir(model_dir) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(STAGING_PREFIX)
        staged_files(staging)
        published = publish(staging, model_dir)
    assert [p.name for p in published] == ["extra", "manifest.json", "model.ubj"]
    assert (model_dir / "model.ubj").read_bytes() == b"\x00"
    assert (model_dir / "extra" / "spec.json").read_text() == "[]"
    assert not staging.exists()


def test_a_failing_move_takes_back_what_was_published(tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    real_move = shutil.move
    calls: list[str] = []

    def flaky_move(src: str, dst: str) -> object:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("no space left on device")
        return real_move(src, dst)

    monkeypatch.setattr(publish_module.shutil, "move", flaky_move)
    with pytest.raises(OSError, match="no space"), staged_model_dir(model_dir) as staging:
        staged_files(staging)
        publish(staging, model_dir)
    assert len(calls) == 3
    assert list(model_dir.iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)]


def test_an_exception_before_publish_leaves_the_model_dir_untouched(tmp_path):
    model_dir = tmp_path / "model"
    with pytest.raises(RuntimeError), staged_model_dir(model_dir) as staging:
        staged_files(staging)
        raise RuntimeError("evaluation failed")
    assert not model_dir.exists() or list(model_dir.iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)]
