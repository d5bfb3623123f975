"""Reading a run back out of moto's DynamoDB: paged Scan vs one pass over moto's storage.

Every moto Scan page re-sorts the whole table and walks to its start key, so paging through N
items costs O(N^2 / page size): the summary's old ``Select=COUNT`` scan never finished on the
real-data anomaly run (536k items). ``moto_patches.stored_items`` reads the table in one pass;
this script measures both (same table, same process) and the export to Parquet/CSV.

Run:  .venv/bin/python benchmarks/pipeline_export.py [--items 20000 60000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto import mock_aws

from retailsage.pipeline.export import export_run
from retailsage.pipeline.moto_patches import stored_item_count, stored_items

ACCOUNT, REGION, TABLE, RUN = "123456789012", "us-east-1", "bench", "retailsage-local-bench"


def _fill(client: object, n: int) -> None:
    """Write ``n`` anomaly-shaped items through BatchWriteItem (as the write Lambda does)."""
    for start in range(0, n, 25):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "customer_id": {"S": str(12000 + i % 4000)},
                        "prediction_key": {"S": f"{RUN}#{i}"},
                        "anomaly_score": {"N": "1.2345"},
                        "is_anomaly": {"BOOL": False},
                        "InvoiceNo": {"S": "536365"},
                        "StockCode": {"S": "85123A"},
                        "InvoiceDate": {"S": "2010-12-01T08:26:00.000"},
                        "run_name": {"S": RUN},
                        "model_type": {"S": "pca_kmeans"},
                    }
                }
            }
            for i in range(start, min(n, start + 25))
        ]
        client.batch_write_item(RequestItems={TABLE: requests})  # type: ignore[attr-defined]


def measure(n: int) -> None:
    """Print the scan, one-pass read and export times for a table of ``n`` items."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
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
        _fill(client, n)
        started = time.perf_counter()
        pages = scanned = 0
        for page in client.get_paginator("scan").paginate(TableName=TABLE):
            pages += 1
            scanned += len(page["Items"])
        scan_s = time.perf_counter() - started
        started = time.perf_counter()
        items = list(stored_items(ACCOUNT, REGION, TABLE, RUN))
        count = stored_item_count(ACCOUNT, REGION, TABLE)
        read_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            export = export_run(items, run_id="bench", complete=True, run_dir=Path(tmp))
        assert scanned == len(items) == count == export.rows == n
        print(
            f"{n:>8,} items: paged Scan {scan_s:7.1f} s ({pages} pages) | one pass "
            f"{read_s:5.2f} s | Parquet+CSV export {export.seconds:5.2f} s"
        )


def main() -> int:
    """Measure each size given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[20_000, 60_000])
    for n in parser.parse_args().items:
        measure(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
