"""What the checkpoint fingerprint costs on the real data, next to reading that data.

Usage:
    .venv/bin/python benchmarks/fingerprint_cost.py [--data PATH] [--repeat 5]

The fingerprint (``retailsage.train.fingerprint.job_fingerprint``) hashes every channel file's
content (SHA-256) plus the canonical hyperparameters; it runs once per training job, before the
data is prepared. The baseline measured in the same run is ``load_transactions`` on the same
file, the first step of every gap or anomaly job on raw data. Prints the median of ``--repeat``
runs of each (the file stays in the page cache, as it does for a job that then reads it).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from retailsage.data.loader import load_transactions
from retailsage.train.channels import ChannelData
from retailsage.train.config import resolve_config
from retailsage.train.fingerprint import job_fingerprint

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    """Run ``work`` ``repeat`` times; return the median wall time in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Measure and print the fingerprint and the baseline load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path: Path = args.data.resolve()
    data = ChannelData("train", path.parent, (path,), raw=True)
    config = resolve_config({"model_type": "xgboost"})
    digest = job_fingerprint(config, [data])
    fingerprint_s = median_seconds(lambda: job_fingerprint(config, [data]), args.repeat)
    load_s = median_seconds(lambda: load_transactions(path), args.repeat)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path.name} ({size_mb:.1f} MB); fingerprint {digest[:12]}")
    print(f"fingerprint (sha256 of content + hyperparameters): {fingerprint_s * 1000:8.1f} ms")
    print(f"baseline load_transactions on the same file:       {load_s * 1000:8.1f} ms")
    print(f"fingerprint / load: {fingerprint_s / load_s:.1%}")


if __name__ == "__main__":
    main()
