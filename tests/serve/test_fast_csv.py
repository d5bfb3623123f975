"""The CSV fast path answers exactly like the general decode -> predict -> encode path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from flask.testing import FlaskClient
from serve_helpers import gap_csv

from retailsage.serve.codecs import decode_csv, encode_csv
from retailsage.serve.csv_decoder import SMALL_CSV_BYTES
from retailsage.serve.fast_csv import FastCsvScorer
from retailsage.serve.predictor import Predictor

CSV_HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


@pytest.fixture(scope="module")
def predictor(xgb_model_dir: Path) -> Predictor:
    return Predictor.load(xgb_model_dir)


@pytest.fixture(scope="module")
def scorer(predictor: Predictor) -> FastCsvScorer:
    fast = FastCsvScorer.for_model(predictor.model, predictor.schema)
    assert fast is not None
    return fast


def general(predictor: Predictor, body: bytes) -> bytes:
    out = predictor.predict(decode_csv(body, predictor.schema))
    return encode_csv(out, predictor.csv_columns(out))


def repeat_to(body: bytes, size: int) -> bytes:
    """Repeat a CSV body's lines until it is at least ``size`` bytes."""
    return body * (size // len(body) + 1)


def with_blanks_and_unknowns(body: bytes) -> bytes:
    """Blank a numeric field and the Country of every third line; an unknown one last."""
    lines = [line.split(b",") for line in body.rstrip(b"\n").split(b"\n")]
    for fields in lines[::3]:
        fields[3] = b""
        fields[-1] = b""
    lines[-1][-1] = b"Atlantis"
    return b"\n".join(b",".join(fields) for fields in lines) + b"\n"


def with_customer_ids(body: bytes) -> bytes:
    return b"".join(b"C%d," % i + line + b"\n" for i, line in enumerate(body.splitlines()))


@pytest.mark.parametrize("size", ["one", "small", "large", "several blocks"])
@pytest.mark.parametrize("variant", ["plain", "blanks", "ids"])
def test_fast_path_matches_general_path(
    predictor: Predictor,
    scorer: FastCsvScorer,
    gap_snapshots: pd.DataFrame,
    size: str,
    variant: str,
) -> None:
    body = gap_csv(gap_snapshots.head(30))
    if size == "one":
        body = body.splitlines(keepends=True)[0]
    elif size == "large":
        body = repeat_to(body, SMALL_CSV_BYTES)
    elif size == "several blocks":  # pyarrow reads 1 MiB blocks: columns arrive in chunks
        body = repeat_to(body, 3 << 20)
    if variant == "blanks":
        body = with_blanks_and_unknowns(body)
    fast_body = with_customer_ids(body) if variant == "ids" else body
    expected = general(predictor, body)
    assert scorer.score(fast_body) == expected
    assert expected.count(b"\n") == body.count(b"\n")


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize(
    "breakage",
    ["bad number", "short line", "long line", "empty line", "quotes", "as_of_date layout", "crlf"],
)
def test_fast_path_leaves_what_it_does_not_handle_to_the_general_path(
    scorer: FastCsvScorer, gap_snapshots: pd.DataFrame, large: bool, breakage: str
) -> None:
    body = gap_csv(gap_snapshots.head(30))
    if breakage == "as_of_date layout":
        body = gap_csv(gap_snapshots.head(30), with_ids=True)
    if large:
        body = repeat_to(body, SMALL_CSV_BYTES)
    lines = body.rstrip(b"\n").split(b"\n")
    if breakage == "bad number":
        lines[2] = b"abc" + lines[2][lines[2].index(b",") :]
    elif breakage == "short line":
        lines[2] = lines[2][: lines[2].rindex(b",")]
    elif breakage == "long line":
        lines[2] = lines[2] + b",1"
    elif breakage == "empty line":
        lines[2] = b""
    elif breakage == "quotes":
        lines[2] = lines[2].replace(b",", b',"', 1) + b'"'
    body = (b"\r\n" if breakage == "crlf" else b"\n").join(lines) + b"\n"
    assert scorer.score(body) is None


def test_bad_rows_still_get_the_general_paths_400(
    xgb_client: FlaskClient, gap_snapshots: pd.DataFrame
) -> None:
    lines = gap_csv(gap_snapshots.head(5)).rstrip(b"\n").split(b"\n")
    lines[3] = b"abc" + lines[3][lines[3].index(b",") :]
    response = xgb_client.post("/invocations", data=b"\n".join(lines), headers=CSV_HEADERS)
    assert response.status_code == 400
    assert response.json is not None
    assert "row 4" in response.json["message"]


def test_anomaly_family_has_no_fast_path(anomaly_model_dir: Path) -> None:
    predictor = Predictor.load(anomaly_model_dir)
    assert FastCsvScorer.for_model(predictor.model, predictor.schema) is None
