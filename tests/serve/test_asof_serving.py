"""An as-of model served: both outputs, next-purchase dates never before the as-of date."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient
from serve_helpers import make_app

from retailsage.features.asof import asof_training_rows, snapshot_dates
from retailsage.models.artifacts import save_model
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig

AS_OF = "2011-12-01"


@pytest.fixture(scope="module")
def asof_client(
    tmp_path_factory: pytest.TempPathFactory, transactions: pd.DataFrame
) -> FlaskClient:
    first = pd.Timestamp(transactions["InvoiceDate"].min()).normalize()
    days = snapshot_dates(first, pd.Timestamp(AS_OF) - pd.Timedelta(days=60), 14, 10)
    history = transactions[transactions["InvoiceDate"] < pd.Timestamp(AS_OF)]
    rows = asof_training_rows(history, days, 60)
    model = XGBoostGap(XGBoostGapConfig(num_round=20, max_depth=3, nthread=1)).fit(rows)
    model_dir: Path = tmp_path_factory.mktemp("asof_model")
    save_model(model, model_dir)
    return make_app(model_dir).test_client()


def test_asof_rows_get_both_outputs_and_dates_on_or_after_the_as_of_day(
    asof_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    rows = gap_snapshots.head(40)
    body = rows.to_json(orient="records", lines=True, date_format="iso")
    response = asof_client.post(
        "/invocations",
        data=body,
        headers={"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"},
    )
    assert response.status_code == 200, response.data
    out = [json.loads(line) for line in response.data.decode().splitlines()]
    assert len(out) == len(rows)
    dates = pd.to_datetime([o["predicted_next_purchase_date"] for o in out])
    assert (dates >= pd.Timestamp(AS_OF)).all()
    probability = np.array([o["purchase_probability"] for o in out])
    assert ((probability > 0) & (probability < 1)).all()


def test_asof_explanations_sum_to_the_predicted_days(
    asof_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    rows = gap_snapshots.head(5)
    response = asof_client.post(
        "/invocations",
        json={"instances": json.loads(rows.to_json(orient="records", date_format="iso"))},
        headers={"X-Amzn-SageMaker-Custom-Attributes": "explain=true"},
    )
    assert response.status_code == 200, response.data
    for prediction in response.get_json()["predictions"]:
        total = sum(v for k, v in prediction.items() if k.startswith("contribution_"))
        assert total == pytest.approx(prediction["predicted_gap_days"], abs=1e-3)
