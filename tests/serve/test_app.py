"""Contract of /ping, /invocations, /execution-parameters through Flask's test client."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from flask.testing import FlaskClient
from serve_helpers import gap_csv, make_app

from retailsage.features.gap import GAP_FEATURE_COLUMNS
from retailsage.serve.app import create_app
from retailsage.serve.settings import ServeSettings

CSV = {"Content-Type": "text/csv"}
INVOKE_ENDPOINT_MAX_BODY = 6_291_456
"""sagemaker-runtime InvokeEndpoint's Body limit (botocore model: max 6291456)."""


def test_ping_is_200_with_empty_body(xgb_client: FlaskClient) -> None:
    response = xgb_client.get("/ping")
    assert response.status_code == 200
    assert response.data == b""


def test_execution_parameters_report_workers_and_payload_limit(xgb_model_dir: Path) -> None:
    client = make_app(
        xgb_model_dir, max_concurrent_transforms=3, max_payload_bytes=20 * 1024 * 1024
    ).test_client()
    assert client.get("/execution-parameters").get_json() == {
        "MaxConcurrentTransforms": 3,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 20,
    }


def test_csv_in_csv_out_one_line_per_row(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    response = xgb_client.post("/invocations", data=gap_csv(gap_snapshots.head(5)), headers=CSV)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = response.data.decode().split("\n")
    assert lines[-1] == "" and len(lines) == 6
    days_probability = [[float(x) for x in v.split(",")] for v in lines[:-1]]
    assert all(d >= 0 and 0 <= p <= 1 for d, p in days_probability)


def test_csv_charset_parameter_is_tolerated(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    response = xgb_client.post(
        "/invocations",
        data=gap_csv(gap_snapshots.head(2)),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 200


def test_large_and_small_csv_paths_agree(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    body = gap_csv(gap_snapshots)
    assert len(body) > 16_384  # large path (pandas C engine)
    whole = xgb_client.post("/invocations", data=body, headers=CSV).data.decode().split("\n")
    first = xgb_client.post("/invocations", data=gap_csv(gap_snapshots.head(3)), headers=CSV)
    assert first.data.decode().split("\n")[:3] == whole[:3]
    assert len(whole) == len(gap_snapshots) + 1


def test_csv_with_ids_gives_ids_and_next_purchase_date_in_json(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    response = xgb_client.post(
        "/invocations",
        data=gap_csv(gap_snapshots.head(2), with_ids=True),
        headers={**CSV, "Accept": "application/json"},
    )
    predictions = response.get_json()["predictions"]
    assert [p["CustomerID"] for p in predictions] == list(gap_snapshots["CustomerID"][:2])
    gap = round(predictions[0]["predicted_gap_days"])
    expected = (pd.Timestamp("2011-12-01") + pd.Timedelta(days=gap)).strftime("%Y-%m-%d")
    assert predictions[0]["predicted_next_purchase_date"] == expected


def test_json_objects_and_arrays_give_the_same_predictions(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    rows = gap_snapshots.head(3)
    objects = json.loads(rows[["CustomerID", *GAP_FEATURE_COLUMNS]].to_json(orient="records"))
    arrays = rows[list(GAP_FEATURE_COLUMNS)].astype(object).where(rows.notna(), None)
    by_object = xgb_client.post("/invocations", json={"instances": objects}).get_json()
    by_array = xgb_client.post(
        "/invocations", json={"instances": arrays.values.tolist()}
    ).get_json()
    csv_values = xgb_client.post("/invocations", data=gap_csv(rows), headers=CSV).data.split()
    assert [p["predicted_gap_days"] for p in by_object["predictions"]] == pytest.approx(
        [p["predicted_gap_days"] for p in by_array["predictions"]]
    )
    assert [p["predicted_gap_days"] for p in by_array["predictions"]] == pytest.approx(
        [float(v.split(b",")[0]) for v in csv_values]
    )
    assert by_object["predictions"][0]["CustomerID"] == objects[0]["CustomerID"]


def test_jsonlines_in_jsonlines_out(xgb_client: FlaskClient, gap_snapshots: pd.DataFrame) -> None:
    rows = gap_snapshots.head(4)[["CustomerID", *GAP_FEATURE_COLUMNS]]
    body = rows.to_json(orient="records", lines=True).encode()
    response = xgb_client.post(
        "/invocations", data=body, headers={"Content-Type": "application/jsonlines"}
    )
    assert response.status_code == 200 and response.mimetype == "application/jsonlines"
    records = [json.loads(line) for line in response.data.decode().splitlines()]
    assert [r["CustomerID"] for r in records] == list(rows["CustomerID"])


@pytest.mark.parametrize("header", ["X-Amzn-SageMaker-Custom-Attributes", None])
def test_explain_adds_contributions_that_sum_to_the_prediction(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame, header: str | None
) -> None:
    headers = {**CSV, "Accept": "application/json"}
    url = "/invocations"
    if header:
        headers[header] = "trace=abc,explain=true"
    else:
        url += "?explain=true"
    response = xgb_client.post(url, data=gap_csv(gap_snapshots.head(2)), headers=headers)
    first = response.get_json()["predictions"][0]
    contributions = {k: v for k, v in first.items() if k.startswith("contribution_")}
    assert "contribution_bias" in contributions
    assert len(contributions) == len(GAP_FEATURE_COLUMNS) + 1
    assert sum(contributions.values()) == pytest.approx(first["predicted_gap_days"], abs=1e-3)
    if header:
        assert response.headers[header] == "trace=abc,explain=true"


def test_lstm_explain_adds_contributions_that_sum_to_the_prediction(
    lstm_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    headers = {**CSV, "Accept": "application/json"}
    headers["X-Amzn-SageMaker-Custom-Attributes"] = "explain=true"
    response = lstm_client.post(
        "/invocations", data=gap_csv(gap_snapshots.head(8)), headers=headers
    )
    assert response.status_code == 200, response.data
    predictions = response.get_json()["predictions"]
    unclipped = [p for p in predictions if p["predicted_gap_days"] > 0]
    assert len(predictions) == 8 and unclipped
    for prediction in unclipped:
        contributions = {k: v for k, v in prediction.items() if k.startswith("contribution_")}
        assert len(contributions) == len(GAP_FEATURE_COLUMNS) + 1
        assert contributions["contribution_last_gap"] == 0.0
        total = sum(contributions.values())
        assert total == pytest.approx(prediction["predicted_gap_days"], rel=1e-4, abs=1e-3)


def test_anomaly_accepts_raw_transactions_as_csv_and_json(
    anomaly_client: FlaskClient, transactions: pd.DataFrame
) -> None:
    lines = transactions.head(4)
    body = lines.to_csv(header=False, index=False, date_format="%Y-%m-%d %H:%M:%S").encode()
    as_csv = anomaly_client.post(
        "/invocations", data=body, headers={**CSV, "Accept": "application/json"}
    ).get_json()["predictions"]
    objects = json.loads(lines.to_json(orient="records", date_format="iso"))
    as_json = anomaly_client.post("/invocations", json={"instances": objects}).get_json()
    assert [p["InvoiceNo"] for p in as_csv] == list(lines["InvoiceNo"])
    assert set(as_csv[0]) == {"InvoiceNo", "StockCode", "anomaly_score", "is_anomaly", "cluster_id"}
    assert [p["anomaly_score"] for p in as_json["predictions"]] == pytest.approx(
        [p["anomaly_score"] for p in as_csv]
    )
    text = anomaly_client.post("/invocations", data=body, headers=CSV).data.decode()
    assert len(text.splitlines()) == 4 and text.splitlines()[0].count(",") == 2


@pytest.mark.parametrize(
    ("accept", "default", "expected"),
    [
        (None, None, "text/csv"),
        ("*/*", None, "text/csv"),
        ("*/*", "application/json", "application/json"),
        (None, "application/jsonlines", "application/jsonlines"),
        ("application/json;q=0.5, text/csv", None, "text/csv"),
        ("text/html, application/jsonlines", None, "application/jsonlines"),
    ],
)
def test_accept_negotiation(
    xgb_model_dir: Path,
    gap_snapshots: pd.DataFrame,
    accept: str | None,
    default: str | None,
    expected: str,
) -> None:
    client = make_app(xgb_model_dir, default_accept=default).test_client()
    headers = {**CSV, **({"Accept": accept} if accept else {})}
    response = client.post("/invocations", data=gap_csv(gap_snapshots.head(1)), headers=headers)
    assert response.status_code == 200
    assert response.mimetype == expected


def _error(response: object) -> dict[str, str]:
    body = response.get_json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message"}
    assert "Traceback" not in body["message"]
    return body


def test_empty_body_is_204(xgb_client: FlaskClient) -> None:
    response = xgb_client.post("/invocations", data=b"", headers=CSV)
    assert response.status_code == 204 and response.data == b""


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({"Content-Type": "text/plain"}, 415, "UnsupportedMediaType"),
        ({}, 415, "UnsupportedMediaType"),
        ({"Content-Type": "text/csv; charset=latin-1"}, 415, "UnsupportedMediaType"),
        ({**CSV, "Accept": "application/xml"}, 406, "NotAcceptable"),
    ],
)
def test_media_type_errors(
    xgb_client: FlaskClient,
    gap_snapshots: pd.DataFrame,
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    response = xgb_client.post("/invocations", data=gap_csv(gap_snapshots.head(1)), headers=headers)
    assert response.status_code == status
    assert _error(response)["error"] == error


def test_one_column_short_is_400_naming_the_counts(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    body = gap_snapshots.head(2)[list(GAP_FEATURE_COLUMNS[1:])].to_csv(header=False, index=False)
    response = xgb_client.post("/invocations", data=body.encode(), headers=CSV)
    assert response.status_code == 400
    assert "27 fields" in _error(response)["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"x" * 10, "fields"),
        (b"1," * 27 + b"UK\n\n" + b"1," * 27 + b"UK\n", "line 2 is empty"),
        (b"1," * 27 + b"UK\n" + b"1," * 26 + b"UK\n", "line 2"),
        (b"abc," + b"1," * 26 + b"UK\n", "'order_index'"),
        (b"\xff\xfe," * 27 + b"UK", "UTF-8"),
    ],
)
def test_bad_csv_is_400_naming_row_or_column(
    xgb_client: FlaskClient, body: bytes, needle: str
) -> None:
    response = xgb_client.post("/invocations", data=body, headers=CSV)
    assert response.status_code == 400
    assert needle in _error(response)["message"]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"rows": []}', "instances"),
        (b'{"instances": [{"order_index": 1}]}', "missing input column"),
        (b'{"instances": [1, 2]}', "neither"),
        (b'{"instances": []}', "no records"),
    ],
)
def test_bad_json_is_400(xgb_client: FlaskClient, payload: bytes, needle: str) -> None:
    response = xgb_client.post(
        "/invocations", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert needle in _error(response)["message"]


def test_payload_over_the_limit_is_413(xgb_model_dir: Path) -> None:
    client = make_app(xgb_model_dir, max_payload_bytes=1024).test_client()
    response = client.post("/invocations", data=b"1," * 1000, headers=CSV)
    assert response.status_code == 413
    assert _error(response)["error"] == "PayloadTooLarge"


def test_default_limit_is_invoke_endpoints_6_mib_to_the_byte(
    xgb_model_dir: Path, gap_snapshots: pd.DataFrame
) -> None:
    """InvokeEndpoint accepts bodies up to 6,291,456 bytes: all of them must reach the model
    (no 5 MB front-door cap as in the BYO sample's nginx); one byte more is a 413."""
    settings = ServeSettings.from_env({"SM_MODEL_DIR": str(xgb_model_dir)})
    assert settings.max_payload_bytes == INVOKE_ENDPOINT_MAX_BODY
    client = create_app(xgb_model_dir, settings).test_client()
    rows = gap_csv(gap_snapshots.head(50))
    body = rows * (INVOKE_ENDPOINT_MAX_BODY // len(rows))
    body = b"0" * (INVOKE_ENDPOINT_MAX_BODY - len(body)) + body  # leading zeros: same number
    assert len(body) == INVOKE_ENDPOINT_MAX_BODY
    response = client.post("/invocations", data=body, headers=CSV)
    assert response.status_code == 200
    assert response.data.count(b"\n") == body.count(b"\n")
    response = client.post("/invocations", data=b"0" + body, headers=CSV)
    assert response.status_code == 413


def test_unknown_route_and_method_are_json(xgb_client: FlaskClient) -> None:
    assert _error(xgb_client.get("/nope"))["error"] == "NotFound"
    assert xgb_client.get("/invocations").status_code == 405


def test_our_own_bug_is_a_generic_500(
    xgb_model_dir: Path, gap_snapshots: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(xgb_model_dir)
    predictor = app.extensions["retailsage"]["predictor"]

    def broken(rows: object) -> pd.DataFrame:
        raise RuntimeError("secret internal detail")

    # the general path calls predict, the CSV fast path predict_matrix
    monkeypatch.setattr(predictor.model, "predict", broken)
    monkeypatch.setattr(predictor.model, "predict_matrix", broken)
    for accept in ("text/csv", "application/json"):
        response = app.test_client().post(
            "/invocations",
            data=gap_csv(gap_snapshots.head(1)),
            headers={**CSV, "Accept": accept},
        )
        assert response.status_code == 500
        assert "secret" not in _error(response)["message"]


def test_batch_emit_keeps_one_output_line_per_input_line(
    xgb_model_dir: Path, gap_snapshots: pd.DataFrame
) -> None:
    client = make_app(xgb_model_dir, batch=True, bad_record="emit").test_client()
    good = gap_csv(gap_snapshots.head(3)).split(b"\n")
    body = b"\n".join([good[0], b"1,2,3", good[1], b"", good[2]]) + b"\n"
    text = client.post("/invocations", data=body, headers=CSV).data.decode()
    lines = text.split("\n")
    assert len(lines) == 6 and lines[-1] == ""
    assert lines[1].startswith("ERROR,") and "line 2" in lines[1]
    assert lines[3].startswith("ERROR,") and "line 4" in lines[3]
    reference = client.post("/invocations", data=gap_csv(gap_snapshots.head(3)), headers=CSV)
    assert [lines[0], lines[2], lines[4]] == reference.data.decode().split("\n")[:3]
    records = (
        client.post("/invocations", data=body, headers={**CSV, "Accept": "application/jsonlines"})
        .data.decode()
        .splitlines()
    )
    assert [("error" in json.loads(r)) for r in records] == [False, True, False, True, False]


def test_batch_fail_policy_rejects_the_request(
    xgb_model_dir: Path, gap_snapshots: pd.DataFrame
) -> None:
    client = make_app(xgb_model_dir, batch=True, bad_record="fail").test_client()
    body = gap_csv(gap_snapshots.head(2)) + b"1,2,3\n"
    response = client.post("/invocations", data=body, headers=CSV)
    assert response.status_code == 400
    assert "line 3" in _error(response)["message"]
