"""The job fingerprint: content + canonical hyperparameters; what a resume may change."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from retailsage.train.channels import ChannelData
from retailsage.train.config import resolve_config
from retailsage.train.fingerprint import RESUME_NEUTRAL_KEYS, job_fingerprint

XGB = {"model_type": "xgboost"}


def channel(directory: Path, *files: tuple[str, str]) -> ChannelData:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files:
        (directory / name).write_text(text)
        paths.append(directory / name)
    return ChannelData("train", directory, tuple(paths), raw=True)


def fingerprint(raw: dict[str, str], *channels: ChannelData) -> str:
    return job_fingerprint(resolve_config(raw), channels)


def test_same_bytes_downloaded_again_give_the_same_fingerprint(tmp_path):
    first = channel(tmp_path / "a", ("sales.csv", "x,y\n1,2\n"))
    second = tmp_path / "b"
    shutil.copytree(first.path, second)
    os.utime(second / "sales.csv", (1, 1))  # a fresh download: other mtime, same bytes
    again = ChannelData("train", second, (second / "sales.csv",), raw=True)
    assert fingerprint(XGB, first) == fingerprint(XGB, again)


def test_changed_data_changes_the_fingerprint(tmp_path):
    base = fingerprint(XGB, channel(tmp_path / "a", ("sales.csv", "x,y\n1,2\n")))
    assert base != fingerprint(XGB, channel(tmp_path / "b", ("sales.csv", "x,y\n1,3\n")))
    assert base != fingerprint(XGB, channel(tmp_path / "c", ("other.csv", "x,y\n1,2\n")))
    two = channel(tmp_path / "d", ("sales.csv", "x,y\n1,2\n"), ("more.csv", "x,y\n5,6\n"))
    assert base != fingerprint(XGB, two)
    validation = ChannelData("validation", two.path, two.files[1:], raw=True)
    assert base != fingerprint(
        XGB, channel(tmp_path / "e", ("sales.csv", "x,y\n1,2\n")), validation
    )


def test_model_shaping_hyperparameters_change_it_and_budget_ones_do_not(tmp_path):
    data = channel(tmp_path / "a", ("sales.csv", "x,y\n1,2\n"))
    base = fingerprint(XGB, data)
    assert base == fingerprint({**XGB, "eta": "0.05"}, data)  # the default, spelled out
    assert base == fingerprint({**XGB, "eta": '"0.05"'}, data)  # JSON-encoded by the SDK
    assert base != fingerprint({**XGB, "eta": "0.1"}, data)
    assert base != fingerprint({**XGB, "eval_cutoff": "2011-09-01"}, data)
    for key, value in {
        "num_round": "500",
        "checkpoint_every": "3",
        "nthread": "2",
        "early_stopping_rounds": "9",
    }.items():
        assert key in RESUME_NEUTRAL_KEYS
        assert base == fingerprint({**XGB, key: value}, data), key
    lstm = {"model_type": "lstm"}
    assert fingerprint(lstm, data) == fingerprint({**lstm, "epochs": "40", "device": "cpu"}, data)
    assert fingerprint(lstm, data) != fingerprint({**lstm, "hidden_size": "16"}, data)
