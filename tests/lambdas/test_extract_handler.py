import gzip
import io
import json
import re

import pandas as pd
import pytest
from lambdas.common import settings as env
from lambdas.common.errors import InvalidInput, MisconfiguredFunction, NoNewData
from lambdas.extract.featurize import object_count
from lambdas.extract.handler import lambda_handler
from lambdas.extract.naming import MAX_NAME, run_name

BUCKET = "retailsage-test-data-123456789012-us-east-1"


def event(model_type="xgboost", prefix="raw/", **extra):
    return {
        "execution_name": "nightly_2026-11-22",
        "input": {
            "model_type": model_type,
            "hyperparameters": {"num_round": 50, "early_stopping": True},
            "quality_threshold": 30,
            "source_prefix": prefix,
            **extra,
        },
    }


def read_jsonl(s3, prefix):
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    keys = sorted(item["Key"] for item in listing)
    bodies = [s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode() for key in keys]
    return keys, [json.loads(line) for body in bodies for line in body.splitlines() if line]


def test_extract_gap_model_writes_channel_and_sharded_snapshot_rows(
    aws, put_raw, raw_csv, lambda_context
):
    put_raw("raw/2011/part-1.csv", raw_csv)
    result = lambda_handler(event(), lambda_context)

    assert result["run_name"] == "retailsage-test-nightly-2026-11-22-" + result["run_name"][-8:]
    assert result["hyperparameters"] == {
        "num_round": "50",
        "early_stopping": "true",
        "model_type": "xgboost",
    }
    assert result["source_files"] == 1
    assert result["train_rows"] == 60
    assert result["scoring_rows"] == 6
    # 6 rows at 4 rows per object -> 2 objects (and never fewer than the 2 transform instances)
    assert result["scoring_objects"] == 2
    run = f"runs/{result['run_name']}/"
    assert result["train_uri"] == f"s3://{BUCKET}/{run}train/"
    assert result["predictions_prefix"] == f"{run}predictions/"
    assert result["checkpoint_uri"] == f"s3://{BUCKET}/checkpoints/{result['run_name']}/"
    body = aws["s3"].get_object(Bucket=BUCKET, Key=f"{run}train/transactions.parquet")["Body"]
    assert len(pd.read_parquet(io.BytesIO(body.read()))) == 60
    keys, rows = read_jsonl(aws["s3"], f"{run}scoring/")
    assert len(keys) == 2
    assert [row["CustomerID"] for row in rows] == [str(c) for c in range(12000, 12006)]
    assert {"as_of_date", "order_date", "last_gap"} <= rows[0].keys()


def test_extract_anomaly_model_scores_lines_with_record_ids(aws, put_raw, raw_csv, lambda_context):
    put_raw("raw/part-1.csv.gz", gzip.compress(raw_csv))
    result = lambda_handler(event("pca_kmeans"), lambda_context)

    assert result["scoring_rows"] == 60
    assert result["scoring_objects"] == 15
    _, rows = read_jsonl(aws["s3"], f"runs/{result['run_name']}/scoring/")
    ids = [row["record_id"] for row in rows]
    assert len(set(ids)) == 60
    assert ids[0] == f"{rows[0]['InvoiceNo']}#{rows[0]['StockCode']}#000000000"


def test_extract_empty_prefix_raises_no_new_data(aws, lambda_context):
    with pytest.raises(NoNewData, match="no transaction files"):
        lambda_handler(event(prefix="raw/empty/"), lambda_context)


def test_extract_malformed_file_names_file_and_column(aws, put_raw, lambda_context):
    put_raw("raw/bad.csv", b"InvoiceNo,StockCode,Quantity\n1,2,3\n")
    with pytest.raises(InvalidInput) as info:
        lambda_handler(event(), lambda_context)
    message = str(info.value)
    assert message.startswith(f"s3://{BUCKET}/raw/bad.csv: missing column(s) Description")
    assert "/tmp/" not in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"model_type": "prophet"}, "unknown model_type 'prophet'"),
        ({"quality_threshold": "NaN"}, "quality_threshold"),
        ({"source_prefix": "s3://elsewhere/raw/"}, "source_prefix"),
        ({"extra_key": 1}, "extra_key"),
        ({"hyperparameters": {f"k{i}": i for i in range(100)}}, "101 hyperparameters"),
        (
            {"hyperparameters": {"target": "order_gap", **{f"k{i}": i for i in range(98)}}},
            r"100 hyperparameters \(model_type included\) plus the eval_cutoff this run adds",
        ),
        ({"hyperparameters": {"num_round": "9" * 2501}}, "values of at most 2500"),
        ({"hyperparameters": {"k" * 257: 1}}, "keys of at most 256"),
    ],
)
def test_extract_rejects_bad_input_with_named_error(aws, lambda_context, change, expected):
    request = event()
    request["input"].update(change)
    with pytest.raises(InvalidInput, match=expected):
        lambda_handler(request, lambda_context)


def test_extract_refuses_prefix_outside_raw(aws, lambda_context):
    with pytest.raises(InvalidInput, match="not under 'raw/'"):
        lambda_handler(event(prefix="runs/"), lambda_context)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (env.DATA_BUCKET, "", "DATA_BUCKET is not set"),
        (env.SCORING_OBJECT_ROWS, "many", "SCORING_OBJECT_ROWS='many' is not a valid int"),
        (env.TRAINING_INSTANCES, "2.5", "TRAINING_INSTANCES='2.5' is not a valid int"),
        (env.LAMBDA_MAX_INPUT_MB, "lots", "LAMBDA_MAX_INPUT_MB='lots' is not a valid float"),
        (env.LAMBDA_MAX_INPUT_MB, "inf", "LAMBDA_MAX_INPUT_MB='inf' is not finite"),
    ],
)
def test_extract_misconfigured_environment_raises_a_named_error(
    aws, put_raw, raw_csv, lambda_context, monkeypatch, name, value, expected
):
    monkeypatch.setenv(name, value)
    put_raw("raw/part-1.csv", raw_csv)
    with pytest.raises(MisconfiguredFunction, match=expected):
        lambda_handler(event(), lambda_context)


@pytest.mark.parametrize(
    "execution",
    [
        "nightly",
        "a_b.c",
        "x" * 80,
        "-leading-and-trailing-",
        "9f1c2b7e-5d3a-4e8f-b6a1-0c2d3e4f5a6b",
    ],
)
def test_run_name_is_sagemaker_valid_and_deterministic(execution):
    name = run_name("retailsage-dev", execution)
    assert len(name) <= MAX_NAME
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)
    assert name.startswith("retailsage-dev-")
    assert name == run_name("retailsage-dev", execution)


def test_run_name_keeps_distinct_executions_distinct():
    assert run_name("p", "run_1") != run_name("p", "run-1")
    assert run_name("p", "a" * 79 + "1") != run_name("p", "a" * 79 + "2")


def test_extract_nothing_left_after_cleaning_is_no_new_data(aws, put_raw, raw_csv, lambda_context):
    guests = raw_csv.decode().splitlines()
    header, rows = guests[0], [line.rsplit(",", 2) for line in guests[1:]]
    body = "\n".join([header, *(f"{r[0]},,{r[2]}" for r in rows)]).encode()
    put_raw("raw/guests.csv", body)
    with pytest.raises(NoNewData, match="no purchases by known customers"):
        lambda_handler(event(), lambda_context)


@pytest.mark.parametrize(
    ("rows", "per_object", "instances", "expected"),
    [(0, 10, 2, 1), (1, 10, 4, 1), (6, 4, 2, 2), (100, 10, 2, 10), (5, 100, 4, 4)],
)
def test_scoring_object_count(rows, per_object, instances, expected):
    assert object_count(rows, per_object, instances) == expected


def test_extract_for_several_training_hosts_writes_whole_customer_buckets(
    aws, put_raw, raw_csv, lambda_context, monkeypatch
):
    import zlib

    from lambdas.common import settings as env

    monkeypatch.setenv(env.TRAINING_INSTANCES, "2")
    put_raw("raw/2011/part-1.csv", raw_csv)
    result = lambda_handler(event(), lambda_context)
    run = f"runs/{result['run_name']}/train/"
    listing = aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=run)["Contents"]
    keys = sorted(item["Key"] for item in listing)
    assert 1 < len(keys) <= 4  # K = 2 objects per host x 2 hosts; empty buckets are skipped
    parts = {
        key: pd.read_parquet(
            io.BytesIO(aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())
        )
        for key in keys
    }
    assert sum(len(part) for part in parts.values()) == result["train_rows"] == 60
    seen: set[str] = set()
    for key, part in parts.items():
        bucket = int(re.search(r"part-(\d+)\.parquet$", key).group(1))
        customers = set(part["CustomerID"].astype(str))
        assert all(zlib.crc32(c.encode()) % 4 == bucket for c in customers)
        assert seen.isdisjoint(customers)  # every object holds whole customers
        seen |= customers
    # the job keeps its target (as-of by default: the hosts agree on the cutoff themselves)
    assert "target" not in result["hyperparameters"]
    assert "eval_cutoff" not in result["hyperparameters"]


def test_extract_for_several_hosts_keeps_a_given_cutoff_and_one_anomaly_object(
    aws, put_raw, raw_csv, lambda_context, monkeypatch
):
    from lambdas.common import settings as env

    monkeypatch.setenv(env.TRAINING_INSTANCES, "3")
    put_raw("raw/2011/part-1.csv", raw_csv)
    given = event(hyperparameters={"eval_cutoff": "2011-03-01"})
    assert lambda_handler(given, lambda_context)["hyperparameters"]["eval_cutoff"] == "2011-03-01"
    result = lambda_handler({**event("pca_kmeans"), "execution_name": "anomaly"}, lambda_context)
    listing = aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{result['run_name']}/train/")
    assert [item["Key"].rsplit("/", 1)[1] for item in listing["Contents"]] == [
        "transactions.parquet"
    ]


def test_extract_featurizes_in_the_lambda_by_default(aws, put_raw, raw_csv, lambda_context):
    put_raw("raw/part-1.csv", raw_csv)
    result = lambda_handler(event(), lambda_context)
    assert result["featurize"] == "lambda"
    assert result["featurize_arguments"] == []
    assert result["source_uri"] == f"s3://{BUCKET}/raw/"


@pytest.mark.parametrize("how", ["forced", "by size"])
def test_extract_plans_a_processing_job_without_reading_the_data(
    aws, put_raw, raw_csv, lambda_context, monkeypatch, how
):
    put_raw("raw/big/part-1.csv", raw_csv)
    extra: dict[str, str] = {"as_of": "2011-06-01"}
    if how == "forced":
        extra["featurize"] = "processing"
    else:  # auto: the source (about 4 KB) is above a 1 KB limit
        monkeypatch.setenv(env.LAMBDA_MAX_INPUT_MB, str(1 / 1024))
        monkeypatch.setenv(env.TRAINING_INSTANCES, "3")
    result = lambda_handler(event(prefix="raw/big/", **extra), lambda_context)
    assert result["featurize"] == "processing"
    assert result["source_uri"] == f"s3://{BUCKET}/raw/big/"
    assert result["train_rows"] == result["scoring_rows"] == result["scoring_objects"] == -1
    assert result["source_files"] == 1
    instances = "1" if how == "forced" else "3"
    assert result["featurize_arguments"] == [
        "featurize",
        "--model-type",
        "xgboost",
        "--training-instances",
        instances,
        "--scoring-object-rows",
        "4",
        "--min-scoring-objects",
        "2",
        "--as-of",
        "2011-06-01",
    ]
    listing = aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix="runs/")
    assert "Contents" not in listing  # the job writes the channels, not the Lambda


def test_extract_checks_the_prefix_before_planning_a_job(aws, lambda_context):
    with pytest.raises(InvalidInput, match="not under"):
        lambda_handler(event(prefix="elsewhere/", featurize="processing"), lambda_context)
    with pytest.raises(NoNewData):
        lambda_handler(event(prefix="raw/none/", featurize="processing"), lambda_context)
    with pytest.raises(InvalidInput, match="featurize"):
        lambda_handler(event(featurize="gpu"), lambda_context)
