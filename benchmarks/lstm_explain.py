"""Cost of ``LSTMGap.explain`` (integrated gradients) vs ``predict``, on one CPU thread.

    .venv/bin/python benchmarks/lstm_explain.py [--repeats 7]

Trains the LSTM gap family with its default width (hidden_size 32, window 12) for 2 epochs on
synthetic gap rows, then for 1, 100 and 1,000 rows prints the wall time per call (best of
``--repeats``) of ``predict`` (the baseline) and of ``explain`` (32 midpoint-rule points), their
ratio, and the largest |sum of contributions - unclipped output| in days.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serve"))

import numpy as np
import pandas as pd
import torch
from serve_helpers import synthetic_transactions

from retailsage.features.gap import TARGET, gap_training_rows
from retailsage.models.lstm_gap import LSTMGap, LSTMGapConfig
from retailsage.models.lstm_training import predict_scaled


def _best_ms(call: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls, in milliseconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000.0


def main() -> None:
    """Train once, then time predict and explain at several batch sizes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = gap_training_rows(synthetic_transactions())
    rows = rows.loc[rows[TARGET].notna()].reset_index(drop=True)
    model = LSTMGap(LSTMGapConfig(epochs=2, device="cpu", num_threads=1)).fit(rows)
    assert model.network_ is not None
    print(f"training rows: {len(rows)}; torch {torch.__version__}, 1 thread")
    print(f"{'rows':>6} {'predict ms':>11} {'explain ms':>11} {'ratio':>6} {'max sum error':>14}")
    for n in (1, 100, 1000):
        frame = pd.concat([rows] * (n // len(rows) + 1)).iloc[:n]
        predict_ms = _best_ms(lambda f=frame: model.predict(f), args.repeats)
        explain_ms = _best_ms(lambda f=frame: model.explain(f), args.repeats)
        scaled = predict_scaled(model.network_, model._inputs(frame), torch.device("cpu"))
        unclipped = scaled * model.scaling_["target_std"] + model.scaling_["target_mean"]
        error = np.abs(model.explain(frame).sum(axis=1).to_numpy() - unclipped).max()
        ratio = explain_ms / predict_ms
        print(f"{n:>6} {predict_ms:>11.2f} {explain_ms:>11.2f} {ratio:>6.1f} {error:>14.2e}")


if __name__ == "__main__":
    main()
