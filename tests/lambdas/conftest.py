"""Fixtures for the Lambda tests: moto S3/DynamoDB, the Lambdas' environment, fake context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from lambdas.common import settings as env
from lambdas.common.clients import reset_clients
from moto import mock_aws

BUCKET = "retailsage-test-data-123456789012-us-east-1"
TABLE = "retailsage-test-predictions"


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "retailsage-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:retailsage-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto-backed S3 bucket and predictions table; clients are created after the mock starts."""
    for name, value in {
        env.DATA_BUCKET: BUCKET,
        env.RAW_PREFIX: "raw/",
        env.RUNS_PREFIX: "runs/",
        env.CHECKPOINTS_PREFIX: "checkpoints/",
        env.JOB_PREFIX: "retailsage-test",
        env.SCORING_OBJECT_ROWS: "4",
        env.MIN_SCORING_OBJECTS: "2",
        env.TABLE_NAME: TABLE,
        "POWERTOOLS_SERVICE_NAME": "retailsage-test",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        reset_clients()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "customer_id", "KeyType": "HASH"},
                {"AttributeName": "prediction_key", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "customer_id", "AttributeType": "S"},
                {"AttributeName": "prediction_key", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield {"s3": s3, "dynamodb": dynamodb}
        reset_clients()


@pytest.fixture
def raw_csv() -> bytes:
    """Six customers with five orders each, as a raw transaction CSV."""
    return transactions().to_csv(index=False).encode()


def transactions(n_customers: int = 6, n_orders: int = 5, seed: int = 0) -> pd.DataFrame:
    """A small Online Retail-shaped frame: every customer orders every 17 days, 2 lines each."""
    rng = np.random.default_rng(seed)
    customers = np.repeat(np.arange(12000, 12000 + n_customers), n_orders * 2)
    orders = np.tile(np.repeat(np.arange(n_orders), 2), n_customers)
    days = pd.Timestamp("2011-01-03") + pd.to_timedelta(orders * 17 + customers % 7, unit="D")
    return pd.DataFrame(
        {
            "InvoiceNo": (500000 + customers * 10 + orders).astype(str),
            "StockCode": np.where(np.arange(len(customers)) % 2 == 0, "85123A", "71053"),
            "Description": "WHITE HANGING HEART",
            "Quantity": rng.integers(1, 10, len(customers)),
            "InvoiceDate": days.strftime("%Y-%m-%d %H:%M:%S"),
            "UnitPrice": rng.uniform(1, 5, len(customers)).round(2),
            "CustomerID": customers,
            "Country": "United Kingdom",
        }
    )


@pytest.fixture
def put_raw(aws: dict[str, Any]) -> Callable[[str, bytes], None]:
    """Upload one raw object under the data bucket."""

    def put(key: str, body: bytes) -> None:
        aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)

    return put
