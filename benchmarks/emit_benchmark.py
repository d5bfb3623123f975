"""Batch "emit" mode cost: a ~6 MiB CSV batch with bad lines vs the same batch clean.

Scores gap snapshot rows (``CustomerID,as_of_date`` + 28 inputs, an XGBoost gap model of 50
rounds) in-process, exactly as ``/invocations`` does with ``SAGEMAKER_BATCH=true`` and
``RETAILSAGE_BAD_RECORD=emit`` (``scoring.score`` + ``codecs.encode``), and prints the wall time
and model calls of each case next to the clean batch measured in the same run:

    .venv/bin/python benchmarks/emit_benchmark.py [--mib 6]

Cases: clean; one bad value in the middle; 10 bad values spread out; every line of a width the
model does not accept; every line of an accepted width with a bad value (the worst case: each
line ends up decoded alone).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "serve"))

from serve_helpers import gap_csv, synthetic_transactions  # noqa: E402

from retailsage.features.gap import gap_training_rows, snapshot_rows  # noqa: E402
from retailsage.models.artifacts import save_model  # noqa: E402
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig  # noqa: E402
from retailsage.serve.codecs import CSV, encode  # noqa: E402
from retailsage.serve.predictor import Predictor  # noqa: E402
from retailsage.serve.scoring import score  # noqa: E402


def payload(lines: list[bytes], size: int) -> list[bytes]:
    """Repeat ``lines`` up to ``size`` bytes."""
    out: list[bytes] = []
    total = 0
    while total < size:
        for line in lines:
            out.append(line)
            total += len(line) + 1
            if total >= size:
                break
    return out


def run_case(predictor: Predictor, name: str, lines: list[bytes], clean_s: float | None) -> float:
    """Score one body, print its figures, return its wall time."""
    calls = 0
    predict = predictor.predict

    def counting(frame: Any, *, explain: bool = False) -> Any:
        nonlocal calls
        calls += 1
        return predict(frame, explain=explain)

    predictor.predict = counting  # type: ignore[method-assign]
    body = b"\n".join(lines) + b"\n"
    started = time.perf_counter()
    out = score(body, CSV, predictor, explain=False, emit_errors=True)
    encoded = encode(out, CSV, predictor.csv_columns(out))
    seconds = time.perf_counter() - started
    predictor.predict = predict  # type: ignore[method-assign]
    assert encoded.count(b"\n") == len(lines)
    ratio = f"{seconds / clean_s:6.1f}x clean" if clean_s else "  baseline"
    print(f"{name:<34} {len(lines):>7} lines {seconds:8.3f} s {calls:>6} model calls {ratio}")
    return seconds


def main() -> None:
    """Train a small model, build the payloads, print one line per case."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=float, default=6.0)
    args = parser.parse_args()
    transactions = synthetic_transactions(20_000)
    model = XGBoostGap(XGBoostGapConfig(num_round=50, early_stopping_rounds=0, nthread=1))
    model.fit(gap_training_rows(transactions))
    with tempfile.TemporaryDirectory() as directory:
        save_model(model, Path(directory))
        predictor = Predictor.load(Path(directory))
    snapshots = snapshot_rows(transactions, "2011-12-01").reset_index(drop=True)
    good = gap_csv(snapshots, with_ids=True).splitlines()
    lines = payload(good, int(args.mib * 1024 * 1024))
    bad_value = b"12000,2011-12-01," + b",".join([b"oops"] * 28)
    clean = run_case(predictor, "clean", lines, None)
    one = list(lines)
    one[len(one) // 2] = bad_value
    run_case(predictor, "1 bad line", one, clean)
    ten = list(lines)
    for i in range(10):
        ten[(i * 2 + 1) * len(ten) // 20] = bad_value
    run_case(predictor, "10 bad lines", ten, clean)
    run_case(predictor, "every line: unaccepted width", [b"a,b"] * len(lines), clean)
    run_case(predictor, "every line: bad value (20,000)", [bad_value] * 20_000, clean)


if __name__ == "__main__":
    main()
