"""The ``retailsage evaluate`` command end to end, on synthetic and (when present) real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.models.model_cases import make_transactions

from retailsage.cli import main as retailsage_main
from retailsage.evaluation.runner import EvaluationRequest, run_evaluation


def _run(argv: list[str]) -> int:
    """``retailsage ARGV``'s exit code (the installed command's own entry point)."""
    return retailsage_main(argv)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "lines.parquet"
    make_transactions(150).to_parquet(path)
    return path


def test_evaluate_gap_writes_metrics_with_baselines(small_data: Path, tmp_path: Path) -> None:
    argv = ["evaluate", "--model-type", "xgboost", "--protocol", "p2cap", "--data"]
    argv += [str(small_data), "--cutoff", "2011-07-01", "--horizon", "30"]
    argv += ["--out", str(tmp_path), "--set", "num_round=10", "--set", "nthread=1"]
    assert _run(argv) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["protocol"] == "p2cap" and metrics["horizon_days"] == 30
    assert set(metrics["model"]) == {"mae", "rmse", "medae"}
    assert set(metrics["baselines"]) == {"global_median", "customer_mean_gap"}
    assert (tmp_path / "gap_residuals.png").is_file()


def test_evaluate_asof_is_the_default_and_reports_baselines(
    small_data: Path, tmp_path: Path
) -> None:
    argv = ["evaluate", "--model-type", "xgboost", "--data", str(small_data)]
    argv += ["--cutoff", "2011-09-01", "--horizon", "30", "--out", str(tmp_path)]
    assert _run([*argv, "--set", "num_round=10", "--set", "nthread=1"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["protocol"] == "asof" and metrics["horizon_days"] == 30
    assert {"mae", "medae", "brier", "roc_auc", "past_date_share"} <= set(metrics["model"])
    assert metrics["model"]["past_date_share"] == 0.0
    assert set(metrics["baselines"]) == {"constant", "median_gap", "residual_life"}
    assert 0 <= metrics["model"]["mae"] <= 30


def test_evaluate_reports_a_bad_hyperparameter_as_user_error(
    small_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", "--model-type", "xgboost", "--data", str(small_data)]
    assert _run([*argv, "--set", "max_depth=0"]) == 2
    assert "max_depth" in capsys.readouterr().err


@pytest.mark.realdata
def test_realdata_evaluation_smoke(real_data_path: Path, tmp_path: Path) -> None:
    gap = run_evaluation(
        EvaluationRequest(
            model_type="xgboost",
            protocol="p1",
            data=real_data_path,
            sample=0.2,
            hyperparameters={"num_round": "80", "nthread": "1"},
        )
    )
    assert gap["model"]["mae"] < gap["baselines"]["global_median"]["mae"]
    anomaly = run_evaluation(
        EvaluationRequest(
            model_type="pca_kmeans",
            data=real_data_path,
            sample=0.1,
            hyperparameters={"n_init": "1"},
            out_dir=tmp_path,
        )
    )
    assert anomaly["natural"]["pca_kmeans"]["roc_auc"] > 0.85
    assert anomaly["injected"]["pca_kmeans"]["roc_auc"] > 0.85
    assert (tmp_path / "anomaly_scores.png").is_file()


@pytest.mark.parametrize("cutoff", ["notadate", "NaT", "2011-13-45"])
def test_evaluate_reports_a_bad_cutoff_as_user_error(
    small_data: Path, cutoff: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", "--model-type", "xgboost", "--data", str(small_data)]
    assert _run([*argv, "--cutoff", cutoff]) == 2
    assert f"cutoff {cutoff!r} is not a date" in capsys.readouterr().err


def test_evaluate_reports_an_unusable_out_directory_as_user_error(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    argv = ["evaluate", "--model-type", "xgboost", "--data", str(small_data)]
    assert _run([*argv, "--out", str(tmp_path / "file" / "metrics")]) == 2
    assert "cannot create the directory" in capsys.readouterr().err
