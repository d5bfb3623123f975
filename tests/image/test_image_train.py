"""`IMAGE train` inside the built image, on mounted SageMaker-shaped trees (marker `image`)."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from retailsage.core.containers import Engine
from retailsage.models.artifacts import load_model

from .conftest import FAMILY_HYPERPARAMETERS, RunTrain, build_tree

pytestmark = pytest.mark.image

Trained = dict[str, tuple[Path, subprocess.CompletedProcess[str]]]


@pytest.mark.parametrize("family", sorted(FAMILY_HYPERPARAMETERS))
def test_family_trains_and_writes_a_loadable_model(trained: Trained, family: str) -> None:
    base, result = trained[family]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert not (base / "output" / "failure").exists()
    manifest = json.loads((base / "model" / "manifest.json").read_text())
    assert manifest["family"] == family
    assert load_model(base / "model").name == family
    metrics = json.loads((base / "output" / "data" / "metrics.json").read_text())
    assert metrics and all(isinstance(v, float) for v in metrics.values())
    # metric lines reach stdout unbuffered, where SageMaker's regexes scan them
    assert any(f"{name}=" in result.stdout for name in metrics)


@pytest.mark.parametrize("family", sorted(FAMILY_HYPERPARAMETERS))
def test_model_files_are_readable_by_the_unprivileged_server(trained: Trained, family: str) -> None:
    base, _ = trained[family]
    files = [p for p in (base / "model").rglob("*") if p.is_file()]
    assert files
    for path in files:
        mode = path.stat().st_mode
        assert mode & stat.S_IROTH, f"{path} is not world-readable ({oct(mode)})"


def test_unreadable_data_is_a_user_error_in_the_failure_file(
    tmp_path: Path, run_train: RunTrain
) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("this,is,not\nretail,data,at all\n")
    base = build_tree(tmp_path / "opt_ml", {"train": [garbage]}, {"model_type": "xgboost"})
    result = run_train(base)
    assert result.returncode == 1, result.stderr[-2000:]
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("UserError: ")
    assert not (base / "model" / "manifest.json").exists()


def test_unknown_model_type_names_the_valid_ones(
    tmp_path: Path, run_train: RunTrain, transactions_csv: Path
) -> None:
    base = build_tree(
        tmp_path / "opt_ml", {"train": [transactions_csv]}, {"model_type": "random_forest"}
    )
    result = run_train(base)
    assert result.returncode == 1
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("UserError: ") and "model_type" in failure
    for family in FAMILY_HYPERPARAMETERS:
        assert family in failure


@pytest.mark.parametrize(("args", "needle"), [((), "usage:"), (("bogus",), "unknown mode")])
def test_unknown_mode_is_a_usage_error(
    engine: Engine, image: str, args: tuple[str, ...], needle: str
) -> None:
    run = engine.run_args(image, "train")[:-1]
    result = engine(run[0], "--rm", *run[1:], *args, timeout=120)
    assert result.returncode == 2
    assert needle in result.stderr


def inspect(engine: Engine, image: str) -> dict[str, Any]:
    result = engine("image", "inspect", image, timeout=60, check=True)
    config: dict[str, Any] = json.loads(result.stdout)[0]["Config"]
    return config


def test_image_metadata(engine: Engine, image: str) -> None:
    config = inspect(engine, image)
    assert config["Entrypoint"] == ["/entrypoint.sh"]
    assert not config.get("Cmd")
    labels = config["Labels"]
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    env = {key: value for key, _, value in (item.partition("=") for item in config["Env"])}
    assert env["PYTHONUNBUFFERED"] == "TRUE" and env["PYTHONDONTWRITEBYTECODE"] == "TRUE"
    assert config.get("User", "") in ("", "root", "0")


def shell(engine: Engine, image: str, script: str) -> subprocess.CompletedProcess[str]:
    run = engine.run_args(image, "train")[:-2]
    return engine(run[0], "--rm", "--entrypoint", "/bin/bash", *run[1:], image, "-c", script)


def test_nothing_in_opt_ml_and_no_installer(engine: Engine, image: str) -> None:
    result = shell(
        engine,
        image,
        "test ! -e /opt/ml && ! python -m pip --version 2>/dev/null "
        "&& test -z \"$(find /opt/venv -path '*/site-packages/*' -name tests -type d)\" "
        "&& id -u retailsage && python -c 'import retailsage, torch; print(torch.__version__)'",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    uid, torch_version = result.stdout.split()
    assert uid == "10001"
    assert torch_version.endswith("+cpu")
