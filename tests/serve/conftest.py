"""Serve-area fixtures: tiny real models (xgboost gap, pca_kmeans anomaly) and a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from flask.testing import FlaskClient
from serve_helpers import make_app, synthetic_transactions

from retailsage.features.gap import gap_training_rows, snapshot_rows
from retailsage.models.artifacts import save_model
from retailsage.models.lstm_gap import LSTMGap, LSTMGapConfig
from retailsage.models.pca_kmeans import PcaKmeansAnomaly, PcaKmeansConfig
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig
from retailsage.serve.batch_transform import ServerProcess


@pytest.fixture(scope="session")
def transactions() -> pd.DataFrame:
    return synthetic_transactions()


@pytest.fixture(scope="session")
def gap_snapshots(transactions: pd.DataFrame) -> pd.DataFrame:
    return snapshot_rows(transactions, "2011-12-01").reset_index(drop=True)


@pytest.fixture(scope="session")
def xgb_model_dir(tmp_path_factory: pytest.TempPathFactory, transactions: pd.DataFrame) -> Path:
    rows = gap_training_rows(transactions)
    config = XGBoostGapConfig(num_round=20, max_depth=3, early_stopping_rounds=None, nthread=1)
    model = XGBoostGap(config).fit(rows)
    model_dir = tmp_path_factory.mktemp("xgb_model")
    save_model(model, model_dir)
    return model_dir


@pytest.fixture(scope="session")
def lstm_model_dir(tmp_path_factory: pytest.TempPathFactory, transactions: pd.DataFrame) -> Path:
    rows = gap_training_rows(transactions)
    config = LSTMGapConfig(epochs=1, hidden_size=4, batch_size=256, device="cpu", num_threads=1)
    model = LSTMGap(config).fit(rows)
    model_dir = tmp_path_factory.mktemp("lstm_model")
    save_model(model, model_dir)
    return model_dir


@pytest.fixture(scope="session")
def anomaly_model_dir(tmp_path_factory: pytest.TempPathFactory, transactions: pd.DataFrame) -> Path:
    model = PcaKmeansAnomaly(PcaKmeansConfig(n_clusters=3, n_init=1)).fit(transactions)
    model_dir = tmp_path_factory.mktemp("anomaly_model")
    save_model(model, model_dir)
    return model_dir


@pytest.fixture(scope="session")
def xgb_server(xgb_model_dir: Path) -> Iterator[ServerProcess]:
    """One real `entrypoint.sh serve` (gunicorn, 2 workers, batch, emit) for the session."""
    env = {
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_BATCH": "true",
        "RETAILSAGE_BAD_RECORD": "emit",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1",
    }
    with ServerProcess(xgb_model_dir, env=env, startup_timeout_s=120) as server:
        yield server


@pytest.fixture(scope="module")
def xgb_client(xgb_model_dir: Path) -> FlaskClient:
    return make_app(xgb_model_dir).test_client()


@pytest.fixture(scope="module")
def anomaly_client(anomaly_model_dir: Path) -> FlaskClient:
    return make_app(anomaly_model_dir).test_client()


@pytest.fixture(scope="module")
def lstm_client(lstm_model_dir: Path) -> FlaskClient:
    return make_app(lstm_model_dir).test_client()
