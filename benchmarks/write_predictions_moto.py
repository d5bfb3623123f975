"""Benchmark: the write-predictions DynamoDB path against moto, as the local pipeline runs it.

Writes N anomaly-shaped items (the pca_kmeans write-back: 12 attributes per scored line) with
lambdas.write_predictions.dynamo.batch_write into a moto table, twice in the same run:

  * baseline: unpatched moto 5.2.5 and a client with botocore's parameter validation on
    (the write path before the moto patches);
  * current: moto with retailsage's patches (moto_patches.patched_moto: the Item size check
    once per item, BatchWriteItem bodies taken as json.loads gives them when moto's parser
    would not change them) and the writer's client (validate_parameters=False), as
    `retailsage pipeline run` does.

Both use the writer's own item serializer (dynamo.put_requests), so its speed-up is not in
the ratio.

It prints the time per chunk as the table grows (a cost that grows with the table would show
here) and items per second; both runs store the same items (checked at the end).

Usage: .venv/bin/python benchmarks/write_predictions_moto.py [--items 100000] [--chunk 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "container")]

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from lambdas.write_predictions.dynamo import batch_write  # noqa: E402
from moto import mock_aws  # noqa: E402

from retailsage.pipeline.moto_patches import ITEM_SIZE_LIMIT, patched_moto  # noqa: E402

TABLE = "predictions"


def anomaly_items(start: int, count: int) -> list[dict[str, Any]]:
    """Items shaped like records.to_items output for pca_kmeans."""
    return [
        {
            "customer_id": str(12000 + i % 4300),
            "prediction_key": f"run-1#{i}",
            "record_id": i,
            "as_of_date": "2011-12-10T00:00:00.000",
            "InvoiceNo": str(536365 + i // 20),
            "StockCode": "85123A",
            "InvoiceDate": "2010-12-01T08:26:00.000",
            "anomaly_score": Decimal(f"{(i % 997) / 313:.15g}"),
            "is_anomaly": i % 50 == 0,
            "cluster": i % 8,
            "run_name": "run-1",
            "model_type": "pca_kmeans",
        }
        for i in range(start, start + count)
    ]


class _NoJobs:
    def start_training(self, job: Any) -> None:
        raise AssertionError("no jobs here")

    def start_transform(self, job: Any, backend: Any) -> None:
        raise AssertionError("no jobs here")


def _no_lambda(function: Any, payload: bytes) -> Any:
    raise AssertionError("no Lambda here")


def run(label: str, items: int, chunk: int, current: bool) -> tuple[float, int]:
    """Write ``items`` items; print per-chunk times; return (seconds, stored count)."""
    patches = patched_moto(_no_lambda, _NoJobs()) if current else nullcontext()
    with mock_aws(), patches:
        config = Config(parameter_validation=not current)
        client = boto3.client("dynamodb", region_name="us-east-1", config=config)
        client.create_table(
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
        total = 0.0
        for start in range(0, items, chunk):
            batch = anomaly_items(start, min(chunk, items - start))
            began = time.perf_counter()
            batch_write(client, TABLE, batch)
            seconds = time.perf_counter() - began
            total += seconds
            print(
                f"  {label:<8} table {start:>8,} -> {start + len(batch):>8,}: {seconds:6.2f} s "
                f"({1e6 * seconds / len(batch):5.0f} us/item)",
                flush=True,
            )
        stored = client.describe_table(TableName=TABLE)["Table"]["ItemCount"]
    return total, int(stored)


def main() -> None:
    """Run baseline then current and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{args.items:,} pca_kmeans-shaped items; moto item size limit {ITEM_SIZE_LIMIT:,} B")
    base_s, base_n = run("baseline", args.items, args.chunk, current=False)
    cur_s, cur_n = run("current", args.items, args.chunk, current=True)
    assert base_n == cur_n == args.items, (base_n, cur_n)
    print(f"baseline: {base_s:7.1f} s  {args.items / base_s:8,.0f} items/s")
    print(f"current:  {cur_s:7.1f} s  {args.items / cur_s:8,.0f} items/s  ({base_s / cur_s:.2f}x)")
    print(
        f"536,641 items (real-data pca_kmeans) at this rate: {536_641 / args.items * cur_s:.0f} s"
    )


if __name__ == "__main__":
    main()
