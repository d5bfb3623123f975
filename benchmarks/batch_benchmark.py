"""Batch Transform benchmark: the whole Online Retail file through the local runner.

Scores all 541,909 raw transaction lines (text/csv, 8 Online Retail columns, featurized by the
pca_kmeans family itself) with ``run_batch_transform`` against ``entrypoint.sh serve``
(``SAGEMAKER_BATCH=true``), and compares rows/s with in-process scoring of the same bytes in the
same mini-batches (decode + predict + encode, one process, no HTTP) measured in the same run:

    .venv/bin/python benchmarks/batch_benchmark.py [--data ../shared/data/online_retail.parquet]

Exits 0 with a message when the real file is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "online_retail.parquet"

from retailsage.data.loader import load_transactions  # noqa: E402
from retailsage.data.schema import INVOICE_DATE, TRANSACTION_COLUMNS  # noqa: E402
from retailsage.models.artifacts import save_model  # noqa: E402
from retailsage.models.pca_kmeans import PcaKmeansAnomaly  # noqa: E402
from retailsage.serve.batch_transform import (  # noqa: E402
    ServerProcess,
    mini_batches,
    run_batch_transform,
)
from retailsage.serve.codecs import decode_csv, encode_csv  # noqa: E402
from retailsage.serve.predictor import Predictor  # noqa: E402


def in_process(model_dir: Path, data: bytes, max_payload_mb: int) -> tuple[int, float]:
    """Score the file's mini-batches in this process; return (rows, seconds)."""
    predictor = Predictor.load(model_dir)
    started = time.perf_counter()
    rows = 0
    for start, end, _ in mini_batches(data, max_payload_mb * 1024 * 1024, "MultiRecord"):
        out = predictor.predict(decode_csv(data[start:end], predictor.schema))
        encode_csv(out, predictor.csv_columns(out))
        rows += len(out)
    return rows, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--max-payload-mb", type=int, default=6)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: real Online Retail data not found at {args.data}")
        return 0
    lines = load_transactions(args.data)[list(TRANSACTION_COLUMNS)]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        train = lines.loc[lines[INVOICE_DATE] < "2011-09-01"]
        save_model(PcaKmeansAnomaly().fit(train), model_dir)
        source = Path(tmp) / "in" / "online_retail.csv"
        source.parent.mkdir()
        lines.to_csv(source, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S")
        data = source.read_bytes()
        rows_local, seconds_local = in_process(model_dir, data, args.max_payload_mb)
        env = {
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers),
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(args.max_payload_mb),
        }
        with ServerProcess(model_dir, env=env) as server:
            result = run_batch_transform(
                server.url,
                [source],
                Path(tmp) / "out",
                content_type="text/csv",
                accept="text/csv",
                max_payload_mb=args.max_payload_mb,
            )
        failed = [f.error for f in result.failed]
    served = result.records_out / result.seconds
    local = rows_local / seconds_local
    print(
        json.dumps(
            {
                "lines": len(lines),
                "bytes": len(data),
                "records_in": result.records_in,
                "records_out": result.records_out,
                "failed_files": failed,
                "requests": sum(f.requests for f in result.files),
                "workers": args.workers,
                "batch transform seconds": round(result.seconds, 2),
                "batch transform rows/s": round(served),
                "in-process rows/s (1 process, decode+predict+encode)": round(local),
                "batch / in-process": round(served / local, 3),
            },
            indent=2,
        )
    )
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
