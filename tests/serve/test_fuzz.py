"""Property-based fuzzing of /invocations: no 5xx, no traceback, still healthy afterwards."""

from __future__ import annotations

import http.client
import json
import string

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailsage.data.schema import TRANSACTION_COLUMNS
from retailsage.features.gap import GAP_FEATURE_COLUMNS
from retailsage.serve.local_server import LOOPBACK, ServerProcess

CLIENT_ERRORS = {400, 406, 413, 415}
HEADER_TEXT = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=60)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "text/csv",
            "text/csv; charset=utf-8",
            "application/json",
            "application/jsonlines",
            "application/x-ndjson",
            "TEXT/CSV",
            "text/csv; charset=latin-1",
            "image/png",
            "",
        ]
    ),
    HEADER_TEXT,
)
ACCEPTS = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "*/*",
            "text/csv",
            "application/json",
            "application/jsonlines",
            "text/html",
            "application/json;q=0",
            "text/csv;q=abc",
        ]
    ),
    HEADER_TEXT,
)
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.text(max_size=8),
    st.just(""),
    st.sampled_from(["United Kingdom", "2011-12-01", "NaN", "inf", "1e400", '"a,b"']),
)
CSV_BODIES = st.lists(st.lists(CELLS, min_size=0, max_size=32), max_size=5).map(
    lambda rows: "\n".join(",".join(row) for row in rows).encode("utf-8", "surrogatepass")
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=12), inner, max_size=30)
    ),
    max_leaves=60,
)
JSON_BODIES = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps({"instances": v}).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)
# rows of a width the models accept (28-30 for gap, 8 for transactions) with hostile cells
WIDE_CSV = st.lists(
    st.one_of(st.lists(CELLS, min_size=28, max_size=30), st.lists(CELLS, min_size=8, max_size=8)),
    min_size=1,
    max_size=4,
).map(lambda rows: "\n".join(",".join(row) for row in rows).encode("utf-8", "surrogatepass"))
SCALARS = st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10)
WIDE_JSON = st.lists(
    st.one_of(
        st.lists(JSON_VALUES, min_size=28, max_size=30),
        st.lists(JSON_VALUES, min_size=8, max_size=8),
        st.fixed_dictionaries(dict.fromkeys(TRANSACTION_COLUMNS, SCALARS)),
        st.fixed_dictionaries(dict.fromkeys(("CustomerID", *GAP_FEATURE_COLUMNS), SCALARS)),
    ),
    min_size=1,
    max_size=3,
).map(lambda rows: json.dumps({"instances": rows}).encode())
BODIES = st.one_of(st.binary(max_size=400), CSV_BODIES, JSON_BODIES, WIDE_CSV, WIDE_JSON)


def check_response(status: int, body: bytes) -> None:
    assert status in {200, 204} | CLIENT_ERRORS, (status, body[:300])
    assert b"Traceback" not in body
    if status in CLIENT_ERRORS:
        assert set(json.loads(body)) == {"error", "message"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=BODIES,
    content_type=CONTENT_TYPES,
    accept=ACCEPTS,
    attributes=HEADER_TEXT,
    explain=st.sampled_from(["", "?explain=true", "?explain=%ff"]),
)
def test_random_requests_never_5xx(
    xgb_client: FlaskClient,
    body: bytes,
    content_type: str,
    accept: str | None,
    attributes: str,
    explain: str,
) -> None:
    headers = {"Content-Type": content_type, "X-Amzn-SageMaker-Custom-Attributes": attributes}
    if accept is not None:
        headers["Accept"] = accept
    response = xgb_client.post(f"/invocations{explain}", data=body, headers=headers)
    check_response(response.status_code, response.data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, content_type=CONTENT_TYPES, accept=ACCEPTS)
def test_anomaly_model_random_requests_never_5xx(
    anomaly_client: FlaskClient, body: bytes, content_type: str, accept: str | None
) -> None:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    response = anomaly_client.post("/invocations", data=body, headers=headers)
    check_response(response.status_code, response.data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, content_type=CONTENT_TYPES, accept=ACCEPTS)
def test_random_requests_against_real_gunicorn(
    xgb_server: ServerProcess, body: bytes, content_type: str, accept: str | None
) -> None:
    connection = http.client.HTTPConnection(LOOPBACK, xgb_server.port, timeout=30)
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        check_response(response.status, response.read())
        connection.request("GET", "/ping")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
