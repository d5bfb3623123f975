"""Unit tests: typed settings from the environment, media-type parsing, CSV encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retailsage.core.errors import NotAcceptable, UnsupportedMediaType, UserError
from retailsage.serve.app import wants_explanation
from retailsage.serve.codecs import encode_csv, encode_json, media_type, request_type, response_type
from retailsage.serve.settings import ServeSettings


def test_settings_defaults_follow_sagemaker(tmp_path: Path) -> None:
    settings = ServeSettings.from_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})
    assert settings.model_dir == tmp_path / "model"
    assert (settings.bind_address, settings.port, settings.timeout_s) == ("0.0.0.0", 8080, 60)
    assert settings.max_payload_bytes == 6 * 1024 * 1024
    assert settings.workers >= 1 and settings.max_concurrent_transforms == settings.workers
    assert (settings.batch, settings.bad_record, settings.default_accept) == (False, "fail", None)


def test_settings_read_every_knob() -> None:
    settings = ServeSettings.from_env(
        {
            "SM_MODEL_DIR": "/m",
            "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1",
            "SAGEMAKER_BIND_TO_PORT": "9090",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100",
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
            "SAGEMAKER_BATCH": "true",
            "RETAILSAGE_BAD_RECORD": "emit",
        }
    )
    assert settings.model_dir == Path("/m") and settings.port == 9090
    assert (settings.workers, settings.timeout_s, settings.max_payload_mb) == (3, 120, 100)
    assert settings.batch and settings.bad_record == "emit"
    assert settings.default_accept == "text/csv"


@pytest.mark.parametrize(
    "env",
    [
        {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "101"},
        {"SAGEMAKER_MODEL_SERVER_WORKERS": "two"},
        {"SAGEMAKER_BIND_TO_PORT": "0"},
        {"RETAILSAGE_BAD_RECORD": "skip"},
    ],
)
def test_bad_settings_are_user_errors(env: dict[str, str]) -> None:
    with pytest.raises(UserError):
        ServeSettings.from_env(env)


def test_media_type_parsing_strips_parameters_and_maps_aliases() -> None:
    assert media_type("Text/CSV; Charset=UTF-8") == ("text/csv", {"charset": "UTF-8"})
    assert media_type("application/x-ndjson")[0] == "application/jsonlines"
    assert request_type("text/csv;charset=utf8") == "text/csv"
    with pytest.raises(UnsupportedMediaType):
        request_type(None)


def test_accept_with_only_zero_quality_types_is_406() -> None:
    with pytest.raises(NotAcceptable):
        response_type("text/csv;q=0", None, "text/csv")
    assert response_type("", "application/json", "text/csv") == "application/json"


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        ("explain=true", None, True),
        ("a=1; EXPLAIN = True", None, True),
        ("explain=false", None, False),
        (None, "true", True),
        ("explanation=true", "0", False),
    ],
)
def test_explain_switch(header: str | None, query: str | None, expected: bool) -> None:
    assert wants_explanation(header, query) is expected


def test_csv_encoding_writes_error_records_in_place() -> None:
    frame = pd.DataFrame(
        {
            "anomaly_score": np.array([1.5, None, 2.0], dtype=object),
            "is_anomaly": np.array([1, None, 0], dtype=object),
            "error": [None, "BadInput", None],
            "message": [None, 'line 2: bad "value", here', None],
        }
    )
    text = encode_csv(frame, ("anomaly_score", "is_anomaly")).decode()
    assert text.split("\n") == ["1.5,1", 'ERROR,"line 2: bad ""value"", here"', "2.0,0", ""]


def test_json_encoding_turns_nan_into_null() -> None:
    frame = pd.DataFrame({"predicted_gap_days": [np.nan, 3.0]})
    assert encode_json(frame, ("predicted_gap_days",)) == (
        b'{"predictions": [{"predicted_gap_days": null}, {"predicted_gap_days": 3.0}]}'
    )
