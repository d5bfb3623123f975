"""Issue 14 (serving): client-fixable input is a 400 naming row and column, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient
from serve_helpers import gap_csv, make_app

from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.features.gap import GAP_FEATURE_COLUMNS
from retailsage.serve import scoring
from retailsage.serve.predictor import Predictor

TRANSACTION = dict(
    zip(
        TRANSACTION_COLUMNS,
        ["536365", "85123A", "HEART", 6, "2010-12-01 08:26:00", 2.55, "17850", "United Kingdom"],
        strict=True,
    )
)


@pytest.fixture(scope="module")
def gap_record(gap_snapshots: pd.DataFrame) -> dict[str, Any]:
    """One real snapshot row as a JSON object (ids, as-of date and every model input)."""
    row = gap_snapshots.iloc[0]
    record = {c: (None if pd.isna(row[c]) else row[c]) for c in GAP_FEATURE_COLUMNS}
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
    return {"CustomerID": "12000", "as_of_date": "2011-12-01", **record}


@pytest.fixture(scope="module", params=["xgb", "lstm"])
def gap_client(request: pytest.FixtureRequest) -> FlaskClient:
    return request.getfixturevalue(f"{request.param}_client")


def post_json(client: FlaskClient, payload: Any, query: str = "") -> tuple[int, dict[str, Any]]:
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    response = client.post(
        f"/invocations{query}", data=body, headers={"Content-Type": "application/json"}
    )
    return response.status_code, json.loads(response.data)


def assert_bad_input(status: int, body: dict[str, Any], *needles: str) -> None:
    assert status == 400, body
    assert body["error"] == "BadInput"
    for needle in needles:
        assert needle in body["message"], body["message"]


def error_line(line: str, index: int) -> bool:
    """Whether a CSV output line is the error record of input line ``index`` (0-based)."""
    return line.removeprefix("ERROR,").removeprefix('"').startswith(f"line {index + 1}: ")


def test_deeply_nested_json_is_a_400(gap_client: FlaskClient) -> None:
    status, body = post_json(gap_client, b'{"instances":' + b"[" * 1000 + b"]" * 1000 + b"}")
    assert_bad_input(status, body, "nested too deeply")


@pytest.mark.parametrize(
    ("column", "value"),
    [("last_gap", [1]), ("mean_gap", {"a": 1}), ("CustomerID", [1]), ("as_of_date", {"d": 1})],
)
def test_a_list_or_object_as_a_field_value_is_a_400(
    gap_client: FlaskClient, gap_record: dict[str, Any], column: str, value: Any
) -> None:
    status, body = post_json(gap_client, {"instances": [gap_record, {**gap_record, column: value}]})
    assert_bad_input(status, body, "row 2", repr(column))


def test_a_list_of_arrays_with_list_cells_is_a_400(gap_client: FlaskClient) -> None:
    row: list[Any] = [[1, 2]] * len(GAP_FEATURE_COLUMNS)
    status, body = post_json(gap_client, {"instances": [row]})
    assert_bad_input(status, body, "row 1")


def test_huge_json_integers_are_a_400(gap_client: FlaskClient, gap_record: dict[str, Any]) -> None:
    fields = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in gap_record.items())
    status, body = post_json(
        gap_client, '{"instances":[{' + fields + ',"last_gap":' + "9" * 400 + "}]}"
    )
    assert_bad_input(status, body, "row 1, column 'last_gap'", "out of range")
    status, body = post_json(gap_client, '{"instances":[[' + "9" * 5000 + "]]}")
    assert_bad_input(status, body, "not valid JSON")


def test_timezone_aware_dates_are_converted_to_utc(
    gap_client: FlaskClient, gap_record: dict[str, Any]
) -> None:
    aware = {**gap_record, "as_of_date": "2011-12-01T23:30:00-05:00"}
    utc = {**gap_record, "as_of_date": "2011-12-02T04:30:00"}
    zulu = {**gap_record, "as_of_date": "2011-12-02T04:30:00Z"}
    status, body = post_json(gap_client, {"instances": [aware, utc, zulu]})
    assert status == 200, body
    dates = {p["predicted_next_purchase_date"] for p in body["predictions"]}
    assert len(dates) == 1  # all three are the same instant


@pytest.mark.parametrize("date", ["2262-04-10", "2300-01-01", "1600-01-01"])
def test_dates_outside_the_supported_years_are_a_400(
    gap_client: FlaskClient, gap_record: dict[str, Any], date: str
) -> None:
    status, body = post_json(gap_client, {"instances": [{**gap_record, "as_of_date": date}]})
    assert_bad_input(status, body, "row 1, column 'as_of_date'", "years 1678-2261")


def test_a_next_purchase_date_beyond_2261_is_a_400(
    gap_client: FlaskClient, gap_record: dict[str, Any]
) -> None:
    status, body = post_json(
        gap_client, {"instances": [{**gap_record, "as_of_date": "2261-12-31"}]}
    )
    assert_bad_input(status, body, "row 1: as_of_date 2261-12-31 plus the predicted")


def test_a_quoted_csv_field_over_the_csv_module_limit_is_a_400(
    gap_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    fields = gap_csv(gap_snapshots.head(1), with_ids=True).decode().strip().split(",")
    body = ",".join(['"' + "1" * 140_000 + '"', *fields[1:]]) + "\n"
    response = gap_client.post("/invocations", data=body, headers={"Content-Type": "text/csv"})
    assert_bad_input(response.status_code, json.loads(response.data), "record 1", "131072")


@pytest.mark.parametrize("value", ["inf", "-inf", "1e39", "-Infinity"])
def test_non_finite_or_float32_overflowing_inputs_are_a_400_in_csv(
    gap_client: FlaskClient, gap_snapshots: pd.DataFrame, value: str
) -> None:
    lines = gap_csv(gap_snapshots.head(300)).decode().splitlines()
    cells = lines[1].split(",")
    cells[GAP_FEATURE_COLUMNS.index("mean_gap")] = value
    lines[1] = ",".join(cells)
    for body in ("\n".join(lines[:3]) + "\n", "\n".join(lines) + "\n"):  # small and large paths
        response = gap_client.post(
            "/invocations", data=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"}
        )
        assert_bad_input(
            response.status_code, json.loads(response.data), "row 2, column 'mean_gap'"
        )


def test_non_finite_inputs_are_a_400_for_every_family(
    xgb_client: FlaskClient,
    lstm_client: FlaskClient,
    anomaly_client: FlaskClient,
    gap_record: dict[str, Any],
) -> None:
    for client in (xgb_client, lstm_client):
        status, body = post_json(client, {"instances": [{**gap_record, "last_gap": "-inf"}]})
        assert_bad_input(status, body, "row 1, column 'last_gap'", "not finite")
    status, body = post_json(anomaly_client, {"instances": [{**TRANSACTION, "UnitPrice": "inf"}]})
    assert_bad_input(status, body, "row 1, column 'UnitPrice'", "not finite")


def test_missing_values_stay_missing_not_errors(
    lstm_client: FlaskClient, gap_record: dict[str, Any]
) -> None:
    status, body = post_json(lstm_client, {"instances": [{**gap_record, "last_gap": None}]})
    assert status == 200
    assert body["predictions"][0]["predicted_gap_days"] is not None


def test_explain_with_float32_overflowing_values_is_a_400(
    xgb_client: FlaskClient, gap_record: dict[str, Any]
) -> None:
    payload = {"instances": [{**gap_record, "mean_gap": 1e39}]}
    status, body = post_json(xgb_client, payload, "?explain=true")
    assert_bad_input(status, body, "row 1, column 'mean_gap'", "out of range")


@pytest.mark.parametrize("quantity", [1e30, "1e30", -1e19, "99999999999999999999"])
def test_out_of_int64_quantity_is_a_400_not_int64_min(
    anomaly_client: FlaskClient, quantity: Any
) -> None:
    status, body = post_json(anomaly_client, {"instances": [{**TRANSACTION, "Quantity": quantity}]})
    assert_bad_input(status, body, "row 1, column 'Quantity'", "outside")
    row = ",".join(
        str(TRANSACTION[c] if c != "Quantity" else quantity) for c in TRANSACTION_COLUMNS
    )
    response = anomaly_client.post("/invocations", data=row, headers={"Content-Type": "text/csv"})
    assert_bad_input(response.status_code, json.loads(response.data), "column 'Quantity'")


@pytest.fixture(scope="module")
def emit_client(xgb_model_dir: Path) -> FlaskClient:
    return make_app(xgb_model_dir, batch=True, bad_record="emit").test_client()


def test_emit_mode_with_explain_and_json_lines(
    emit_client: FlaskClient, gap_record: dict[str, Any]
) -> None:
    body = f"{json.dumps(gap_record)}\n{{bad\n{json.dumps(gap_record)}\n"
    response = emit_client.post(
        "/invocations?explain=true",
        data=body,
        headers={"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"},
    )
    assert response.status_code == 200, response.data
    first, bad, last = (json.loads(line) for line in response.data.decode().splitlines())
    assert first == last
    assert any(key.startswith("contribution_") for key in first)
    assert bad["error"] == "BadInput" and bad["message"].startswith("line 2:")


def test_emit_mode_scores_good_lines_in_few_passes(
    emit_client: FlaskClient,
    xgb_client: FlaskClient,
    gap_snapshots: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = gap_csv(gap_snapshots, with_ids=True).decode().splitlines()
    lines = (lines * (2_000 // len(lines) + 1))[:2_000]
    bad_rows = {0, 777, 1_999}
    sent = [("oops,1" if i in bad_rows else line) for i, line in enumerate(lines)]
    calls: list[int] = []
    predict = Predictor.predict

    def counting(self: Predictor, frame: pd.DataFrame, *, explain: bool = False) -> pd.DataFrame:
        calls.append(len(frame))
        return predict(self, frame, explain=explain)

    monkeypatch.setattr(Predictor, "predict", counting)
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
    response = emit_client.post("/invocations", data="\n".join(sent) + "\n", headers=headers)
    out = response.data.decode().splitlines()
    assert response.status_code == 200 and len(out) == len(lines)
    good = "\n".join(line for i, line in enumerate(lines) if i not in bad_rows) + "\n"
    expected = iter(
        xgb_client.post("/invocations", data=good, headers=headers).data.decode().splitlines()
    )
    for i, line in enumerate(out):
        if i in bad_rows:
            assert error_line(line, i), line
        else:
            assert line == next(expected)
    # bisection: a few dozen model calls, not one per line (the old re-scoring made 2,000)
    assert len(calls) <= 3 * 11 * len(bad_rows), len(calls)


def test_emit_messages_name_the_line_once(
    emit_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    # each bad line is decoded alone, so the decoder calls it line/row 1: the record must not
    # say "line 3: line 1 has 2 fields" but give the real line number once
    good = gap_csv(gap_snapshots.head(1), with_ids=True).decode().splitlines()[0]
    fields = good.split(",")
    fields[2] = "abc"  # the first model input, after CustomerID and as_of_date
    body = "\n".join([good, good, "oops,1", "", ",".join(fields)]) + "\n"
    response = emit_client.post(
        "/invocations",
        data=body,
        headers={"Content-Type": "text/csv", "Accept": "application/jsonlines"},
    )
    assert response.status_code == 200, response.data
    records = [json.loads(line) for line in response.data.decode().splitlines()]
    messages = [record.get("message") for record in records]
    assert messages[:2] == [None, None]
    assert messages[2].startswith("line 3: the line has 2 fields; this model accepts rows of")
    assert messages[3] == "line 4: the line is empty"
    assert messages[4].startswith("line 5: ") and "abc" in messages[4]
    assert all("line 1" not in m and "row 1" not in m for m in messages[2:]), messages


def test_at_line_drops_the_alone_reference_only() -> None:
    assert scoring.at_line(0, "row 1, column 'x': bad") == "line 1: column 'x': bad"
    assert scoring.at_line(9, "line 1: Expecting value") == "line 10: Expecting value"
    assert scoring.at_line(9, "row 12, column 'x': bad") == "line 10: row 12, column 'x': bad"
    assert scoring.at_line(9, 'bad "value", here') == 'line 10: bad "value", here'


def test_emit_assembly_keeps_alignment_when_every_line_is_bad(emit_client: FlaskClient) -> None:
    body = "a\n\nb,c\n" * 20
    response = emit_client.post("/invocations", data=body, headers={"Content-Type": "text/csv"})
    lines = response.data.decode().splitlines()
    assert response.status_code == 200 and len(lines) == 60
    assert all(error_line(line, i) for i, line in enumerate(lines))


def test_split_lines_keeps_blank_records() -> None:
    assert scoring.split_lines(b"a\n\nb\n") == [b"a", b"", b"b"]
