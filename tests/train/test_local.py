from __future__ import annotations

import json
import tarfile

import pytest

from retailsage.core.containers import Engine
from retailsage.core.errors import UserError
from retailsage.train.local import build_training_tree, pack_model, training_command


def test_build_training_tree_lays_out_the_sagemaker_contract(tmp_path):
    data = tmp_path / "sales.csv"
    data.write_text("a,b\n1,2\n")
    base = tmp_path / "opt_ml"
    (base / "checkpoints").mkdir(parents=True)
    (base / "checkpoints" / "keep.ubj").write_text("x")
    (base / "model").mkdir()
    (base / "model" / "stale.txt").write_text("old")
    paths = build_training_tree(
        base,
        {"train": [data]},
        {"model_type": "xgboost", "num_round": 5},
        checkpoint_dir=tmp_path / "ckpt",
    )
    config = base / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {
        "model_type": "xgboost",
        "num_round": "5",
    }
    assert (
        json.loads((config / "inputdataconfig.json").read_text())["train"]["TrainingInputMode"]
        == "File"
    )
    assert json.loads((config / "resourceconfig.json").read_text())["hosts"] == ["algo-1"]
    assert json.loads((config / "checkpointconfig.json").read_text()) == {
        "LocalPath": str(tmp_path / "ckpt")
    }
    assert (base / "input/data/train/sales.csv").read_text() == "a,b\n1,2\n"
    assert list(paths.model_dir.iterdir()) == []
    assert (base / "checkpoints" / "keep.ubj").exists()


def test_build_training_tree_rejects_a_missing_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        build_training_tree(tmp_path / "b", {"train": [tmp_path / "nope.csv"]}, {})


def test_pack_model_puts_files_at_the_archive_root(tmp_path):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "manifest.json").write_text("{}")
    (model / "model.ubj").write_bytes(b"\x00\x01")
    (model / "sub" / "extra.json").write_text("[]")
    out = pack_model(model, tmp_path / "out" / "model.tar.gz")
    with tarfile.open(out, "r:gz") as archive:
        assert sorted(archive.getnames()) == ["manifest.json", "model.ubj", "sub/extra.json"]
        assert archive.extractfile("model.ubj").read() == b"\x00\x01"


def test_pack_model_refuses_an_empty_model_dir(tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(UserError, match="no model files"):
        pack_model(tmp_path / "model", tmp_path / "model.tar.gz")


def test_training_command_uses_the_checkout_or_an_image(tmp_path, monkeypatch):
    assert training_command(tmp_path)[-1] == "train"
    assert training_command(tmp_path)[0].endswith("entrypoint.sh")
    podman = Engine(
        "podman",
        global_flags=("--runtime", "runc"),
        run_flags=("--ulimit", "nofile=1024:1024"),
        host_network=True,
    )
    monkeypatch.setattr("retailsage.train.local.find_engine", lambda: podman)
    command = training_command(tmp_path, "retailsage:dev", tmp_path / "ck")
    assert command[:5] == ["podman", "--runtime", "runc", "run", "--rm"]
    assert "--ulimit" in command
    assert f"{tmp_path.resolve()}:/opt/ml" in command
    assert f"{(tmp_path / 'ck').resolve()}:/opt/ml/checkpoints" in command
    assert command[-2:] == ["retailsage:dev", "train"]


def test_training_command_without_an_engine_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr("retailsage.train.local.find_engine", lambda: None)
    with pytest.raises(UserError, match="needs a working docker engine or podman"):
        training_command(tmp_path, "retailsage:dev")


def test_train_local_cli_trains_and_packs(tmp_path, transactions_csv):
    from retailsage.train.local import main

    base = tmp_path / "local" / "opt_ml"
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"model_type": "pca_kmeans", "n_clusters": 3}))
    code = main(
        [
            "--base",
            str(base),
            "--data",
            str(transactions_csv),
            "--hyperparameters",
            str(hp),
            "--hp",
            "n_init=1",
        ]
    )
    assert code == 0
    with tarfile.open(tmp_path / "local" / "model.tar.gz", "r:gz") as archive:
        assert "manifest.json" in archive.getnames()
    assert json.loads((base / "input/config/hyperparameters.json").read_text()) == {
        "model_type": "pca_kmeans",
        "n_clusters": "3",
        "n_init": "1",
    }


def test_train_local_cli_returns_the_job_exit_code(tmp_path, transactions_csv):
    from retailsage.train.local import main

    base = tmp_path / "opt_ml"
    assert main(["--base", str(base), "--data", str(transactions_csv), "--hp", "model_type=x"]) == 1
    assert (base / "output" / "failure").read_text().startswith("UserError: ")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "missing.csv", "--hp", "model_type=xgboost"], "does not exist"),
        (["--hp", "model_type=xgboost"], "give the training data with --data"),
        (["--data", "x.csv", "--hp", "model_type"], "--hp expects KEY=VALUE"),
    ],
)
def test_train_local_cli_reports_a_usage_error_with_exit_2(
    tmp_path, extra, message, caplog: pytest.LogCaptureFixture
):
    from retailsage.train.local import main

    assert main(["--base", str(tmp_path / "opt_ml"), *extra]) == 2
    assert message in caplog.text
