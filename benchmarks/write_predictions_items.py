"""Benchmark: transform output lines -> DynamoDB items (the write-predictions Lambda's CPU part).

Compares lambdas.write_predictions.records.to_items (pandas, vectorised validation, one
json round trip for Decimal conversion) with a per-line baseline measured in the same run
(json.loads + dict building + math.isfinite checks + Decimal(str(x)) per value).

Usage: .venv/bin/python benchmarks/write_predictions_items.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "container")]

from lambdas.write_predictions.records import to_items  # noqa: E402


def joined_output(rows: int) -> bytes:
    lines = (
        json.dumps(
            {
                "CustomerID": str(12000 + i),
                "as_of_date": "2011-12-10T00:00:00.000",
                "last_gap": 17.0,
                "mean_gap": 21.5,
                "SageMakerOutput": {
                    "predicted_gap_days": 10.0 + i / 7,
                    "predicted_next_purchase_date": "2011-12-27",
                },
            }
        )
        for i in range(rows)
    )
    return ("\n".join(lines) + "\n").encode()


def baseline(body: bytes, run_name: str) -> list[dict]:
    items = []
    for line in body.decode().splitlines():
        record = json.loads(line)
        output = record.pop("SageMakerOutput")
        value = output["predicted_gap_days"]
        if record.get("CustomerID") is None or not math.isfinite(value):
            continue
        item = {"customer_id": str(record["CustomerID"]), "prediction_key": run_name}
        item["as_of_date"] = record["as_of_date"]
        for name, field in output.items():
            item[name] = Decimal(str(field)) if isinstance(field, float) else field
        items.append(item)
    return items


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    body = joined_output(args.rows)
    ours = best(lambda: to_items(body, key="k", run_name="r", model_type="xgboost"), args.repeat)
    base = best(lambda: baseline(body, "r"), args.repeat)
    print(f"rows={args.rows} payload={len(body) / 1e6:.1f} MB (best of {args.repeat})")
    print(f"to_items (vectorised): {ours:.3f} s  {args.rows / ours:,.0f} rows/s")
    print(f"per-line baseline:     {base:.3f} s  {args.rows / base:,.0f} rows/s")
    print(f"ratio baseline/ours: {base / ours:.2f}x")


if __name__ == "__main__":
    main()
