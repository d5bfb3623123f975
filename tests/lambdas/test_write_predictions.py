import decimal
import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from lambdas.common.errors import (
    InvalidInput,
    InvalidPredictions,
    MisconfiguredFunction,
    ThrottledWrites,
    TransientWriteError,
    WriteFailed,
)
from lambdas.common.events import WritePredictionsEvent
from lambdas.common.settings import WriteSettings
from lambdas.write_predictions.dynamo import batch_write, put_requests
from lambdas.write_predictions.handler import lambda_handler
from lambdas.write_predictions.records import RUN_MARKER_PARTITION
from lambdas.write_predictions.writer import write_predictions

BUCKET = "retailsage-test-data-123456789012-us-east-1"
TABLE = "retailsage-test-predictions"
KEY = "runs/run-1/predictions/part-00000.jsonl.out"


def gap_lines(n=60, bad_index=None):
    lines = []
    for i in range(n):
        value = float("nan") if i == bad_index else 10.0 + i / 3
        lines.append(
            {
                "CustomerID": str(12000 + i),
                "as_of_date": "2011-12-10T00:00:00.000",
                "last_gap": 17.0,
                "SageMakerOutput": {
                    "predicted_gap_days": value,
                    "predicted_next_purchase_date": "2011-12-27",
                },
            }
        )
    return "\n".join(json.dumps(line) for line in lines).encode() + b"\n"


def put(aws, body, key=KEY):
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)


def items(aws):
    pages = aws["dynamodb"].get_paginator("scan").paginate(TableName=TABLE)
    return [item for page in pages for item in page["Items"]]


def event(model_type="xgboost", key=KEY, **extra):
    return {"bucket": BUCKET, "key": key, "run_name": "run-1", "model_type": model_type, **extra}


def test_write_joined_gap_output_one_item_per_customer(aws, lambda_context):
    put(aws, gap_lines())
    result = lambda_handler(event(), lambda_context)

    assert result == {"key": KEY, "read": 60, "written": 60, "rejected": 0}
    stored = {item["customer_id"]["S"]: item for item in items(aws)}
    assert len(stored) == 60
    first = stored["12000"]
    assert first["prediction_key"] == {"S": "run-1"}
    assert first["predicted_gap_days"] == {"N": "10.0"}
    assert first["predicted_next_purchase_date"] == {"S": "2011-12-27"}
    assert first["as_of_date"] == {"S": "2011-12-10T00:00:00.000"}
    assert first["model_type"] == {"S": "xgboost"}


def test_write_rerun_overwrites_same_items(aws, lambda_context):
    put(aws, gap_lines())
    lambda_handler(event(), lambda_context)
    before = sorted(json.dumps(item, sort_keys=True) for item in items(aws))
    lambda_handler(event(), lambda_context)
    after = sorted(json.dumps(item, sort_keys=True) for item in items(aws))
    assert after == before


def test_write_anomaly_lines_keyed_by_record_and_customer(aws, lambda_context):
    lines = [
        {
            "record_id": "536365#85123A#000000000",
            "CustomerID": 17850.0,
            "InvoiceNo": "536365",
            "SageMakerOutput": {"anomaly_score": 0.1, "cluster_id": 3, "is_anomaly": False},
        },
        {
            "record_id": "536366#71053#000000001",
            "CustomerID": None,
            "InvoiceNo": "536366",
            "SageMakerOutput": {"anomaly_score": 4.2, "cluster_id": 1, "is_anomaly": True},
        },
    ]
    put(aws, "\n".join(json.dumps(line) for line in lines).encode())
    result = lambda_handler(event("pca_kmeans"), lambda_context)

    assert result["written"] == 2
    keys = {(i["customer_id"]["S"], i["prediction_key"]["S"]) for i in items(aws)}
    assert keys == {
        ("17850", "run-1#536365#85123A#000000000"),
        ("unknown", "run-1#536366#71053#000000001"),
    }
    flagged = next(i for i in items(aws) if i["customer_id"]["S"] == "unknown")
    assert flagged["is_anomaly"] == {"BOOL": True}
    assert flagged["anomaly_score"] == {"N": "4.2"}


def test_write_nan_prediction_raises_named_error_and_writes_nothing(aws, lambda_context):
    put(aws, gap_lines(bad_index=7))
    with pytest.raises(InvalidPredictions, match="line 8"):
        lambda_handler(event(), lambda_context)
    assert items(aws) == []


def test_write_tolerated_rejections_are_counted(aws, lambda_context):
    put(aws, gap_lines(bad_index=7).replace(b"NaN", b"Infinity"))
    result = lambda_handler(event(max_rejected=1), lambda_context)
    assert (result["read"], result["written"], result["rejected"]) == (60, 59, 1)


def test_write_rejects_output_that_is_not_json_lines(aws, lambda_context):
    put(aws, b"this is not json\n")
    with pytest.raises(InvalidPredictions, match="not JSON Lines"):
        lambda_handler(event(), lambda_context)


def test_write_bad_event_is_invalid_input(aws, lambda_context):
    with pytest.raises(InvalidInput, match="run_name"):
        lambda_handler(event() | {"run_name": "bad name with spaces"}, lambda_context)


def test_write_unknown_model_type_is_invalid_input_before_any_write(aws, lambda_context):
    # the family decides the item shape; an unknown one must not be written as gap items
    put(aws, gap_lines())
    with pytest.raises(InvalidInput, match="unknown model_type 'kmeans'"):
        lambda_handler(event("kmeans"), lambda_context)
    assert items(aws) == []


class ThrottlingClient:
    """Delegates to moto but leaves part of each batch unprocessed, as DynamoDB does."""

    def __init__(self, client, throttled_calls):
        self.client = client
        self.throttled_calls = throttled_calls
        self.calls = 0
        self.puts: dict[tuple[str, str], int] = {}

    def batch_write_item(self, RequestItems):  # noqa: N803 - boto3's name
        self.calls += 1
        ((table, requests),) = RequestItems.items()
        keep = requests
        unprocessed = []
        if self.calls <= self.throttled_calls:
            keep, unprocessed = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        if keep:
            self.client.batch_write_item(RequestItems={table: keep})
        for request in keep:
            item = request["PutRequest"]["Item"]
            key = (item["customer_id"]["S"], item["prediction_key"]["S"])
            self.puts[key] = self.puts.get(key, 0) + 1
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}


def test_write_under_throttling_writes_every_row_exactly_once(aws):
    put(aws, gap_lines(n=60))
    throttling = ThrottlingClient(aws["dynamodb"], throttled_calls=5)
    delays = []
    result = write_predictions(
        WritePredictionsEvent(**event()),
        WriteSettings(TABLE),
        aws["s3"],
        throttling,
        sleep=delays.append,
    )
    assert result.written == 60
    assert len(items(aws)) == 60
    assert set(throttling.puts.values()) == {1}
    assert len(throttling.puts) == 60
    assert len(delays) == 5
    assert all(0 < delay <= 5.0 for delay in delays)


def test_batch_write_gives_up_with_named_error(aws):
    throttling = ThrottlingClient(aws["dynamodb"], throttled_calls=10**6)
    rows = [{"customer_id": str(i), "prediction_key": "r", "v": Decimal("1.5")} for i in range(3)]
    with pytest.raises(ThrottledWrites, match="unprocessed"):
        batch_write(throttling, TABLE, rows, max_attempts=3, sleep=lambda _: None)


class FailingClient:
    """A DynamoDB client whose BatchWriteItem fails with one error after ``ok_calls`` calls."""

    def __init__(self, client, error, ok_calls=0):
        self.client, self.error, self.ok_calls, self.calls = client, error, ok_calls, 0

    def batch_write_item(self, RequestItems):  # noqa: N803 - boto3's parameter name
        self.calls += 1
        if self.calls > self.ok_calls:
            raise self.error
        return self.client.batch_write_item(RequestItems=RequestItems)


def client_error(code, status):
    return ClientError(
        {
            "Error": {"Code": code, "Message": "boom"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "BatchWriteItem",
    )


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (client_error("ServiceUnavailable", 503), TransientWriteError),
        (client_error("InternalFailure", 500), TransientWriteError),
        (client_error("SomethingNew", 502), TransientWriteError),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), TransientWriteError),
        (client_error("ValidationException", 400), WriteFailed),
        (client_error("AccessDeniedException", 400), WriteFailed),
    ],
)
def test_write_failure_is_named_transient_or_final(aws, error, named):
    put(aws, gap_lines(n=60))
    failing = FailingClient(aws["dynamodb"], error, ok_calls=1)
    with pytest.raises(named):
        write_predictions(
            WritePredictionsEvent(**event()), WriteSettings(TABLE), aws["s3"], failing
        )
    # the first batch landed: a partial run, which only the missing marker tells apart
    assert len(items(aws)) == 25


def test_transient_failure_then_retry_writes_every_item_once(aws):
    # what the Map item's Retry on TransientWriteError does: the object is written again
    put(aws, gap_lines(n=60))
    failing = FailingClient(aws["dynamodb"], client_error("ServiceUnavailable", 503), ok_calls=1)
    with pytest.raises(TransientWriteError):
        write_predictions(
            WritePredictionsEvent(**event()), WriteSettings(TABLE), aws["s3"], failing
        )
    result = write_predictions(
        WritePredictionsEvent(**event()), WriteSettings(TABLE), aws["s3"], aws["dynamodb"]
    )
    assert result.written == 60
    assert len(items(aws)) == 60


def test_missing_transform_object_is_a_final_named_error(aws):
    with pytest.raises(WriteFailed, match="GetObject"):
        write_predictions(
            WritePredictionsEvent(**event()), WriteSettings(TABLE), aws["s3"], aws["dynamodb"]
        )


def test_items_carry_the_run_and_never_use_the_marker_partition(aws, lambda_context):
    put(aws, gap_lines())
    lambda_handler(event(), lambda_context)
    for item in items(aws):
        assert item["run_name"] == {"S": "run-1"}
        assert item["prediction_key"]["S"].split("#")[0] == "run-1"
        assert item["customer_id"]["S"] != RUN_MARKER_PARTITION


def test_writer_client_skips_client_checks_but_the_service_still_refuses(aws):
    from botocore.validate import ParamValidationDecorator
    from lambdas.common.clients import get_client

    unchecked = get_client("dynamodb", validate_parameters=False)
    # botocore wraps the request serializer in its validator only when validation is on
    assert not isinstance(unchecked._serializer, ParamValidationDecorator)
    assert isinstance(get_client("dynamodb")._serializer, ParamValidationDecorator)
    assert unchecked.meta.config.retries == get_client("dynamodb").meta.config.retries
    rows = [{"customer_id": str(i), "prediction_key": "r", "v": Decimal("1.5")} for i in range(3)]
    assert batch_write(unchecked, TABLE, rows) == 3
    # an item without its sort key: no client-side check, the service refuses it, named
    with pytest.raises(WriteFailed, match="ValidationException"):
        batch_write(unchecked, TABLE, [{"customer_id": "x", "v": Decimal("1")}])
    assert len(items(aws)) == 3


def test_put_requests_type_values_exactly_as_boto3_does():
    from boto3.dynamodb.types import TypeSerializer

    item = {
        "s": "é",
        "flag": True,
        "off": False,
        "n": Decimal("-0.000123"),
        "e": Decimal("1E+5"),
        "wide": Decimal("123456789012345678901234567890.12345678"),
        "i": 7,
        "none": None,
        "blob": b"x",
        "list": [Decimal(1), "a", None],
        "map": {"k": Decimal("2.5")},
        "set": {"a", "b"},
    }
    expected = {name: TypeSerializer().serialize(value) for name, value in item.items()}
    assert put_requests([item]) == [{"PutRequest": {"Item": expected}}]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (Decimal("NaN"), TypeError),
        (Decimal("Infinity"), TypeError),
        (Decimal("1" * 39), decimal.Inexact),
        (1.5, TypeError),
    ],
)
def test_put_requests_refuse_what_dynamodb_cannot_store(value, error):
    with pytest.raises(error):
        put_requests([{"x": value}])


def test_write_settings_without_table_name_is_a_named_error():
    with pytest.raises(MisconfiguredFunction, match="TABLE_NAME is not set"):
        WriteSettings.from_env({})
