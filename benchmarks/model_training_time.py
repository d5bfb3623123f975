"""Time each model family's fit on the full Online Retail data (2-core CPU budget check).

Prints the fit wall time of the LSTM (target <= 120 s on 2 cores) next to the XGBoost and
PCA+KMeans fits measured in the same run, plus the gap-row / line counts they trained on.
pca_kmeans is timed twice: with its defaults
(each KMeans fitted on a ``fit_sample_rows`` subsample) and, as the same-run baseline, with
``fit_sample_rows=0`` (every KMeans on all lines, the cost before the subsample existed).

    .venv/bin/python benchmarks/model_training_time.py [--data PATH] [--threads 1]

``--threads`` sets xgboost ``nthread`` and the LSTM's ``num_threads`` (0 = library defaults,
one thread per core; on a shared, busy 2-core box 1 thread is several times faster).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from retailsage.data.cleaning import clean_transactions, prepare_anomaly_lines
from retailsage.data.loader import load_transactions
from retailsage.features.gap import TARGET, gap_training_rows
from retailsage.models.lstm_gap import LSTMGap, LSTMGapConfig
from retailsage.models.pca_kmeans import PcaKmeansAnomaly, PcaKmeansConfig
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"


def _timed(label: str, fit, rows: int) -> float:
    started = time.perf_counter()
    fit()
    seconds = time.perf_counter() - started
    print(f"{label:<28} rows={rows:>8,}  fit_seconds={seconds:8.2f}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    raw = load_transactions(args.data, columns_only=True)
    rows = gap_training_rows(clean_transactions(raw))
    rows = rows.loc[rows[TARGET].notna()]
    lines = prepare_anomaly_lines(raw)
    print(f"threads={args.threads}  cores={os.cpu_count()}  cuda={torch.cuda.is_available()}")
    xgb_config = XGBoostGapConfig(nthread=args.threads)
    lstm_config = LSTMGapConfig(num_threads=args.threads)
    _timed("xgboost (defaults)", lambda: XGBoostGap(xgb_config).fit(rows), len(rows))
    lstm = _timed("lstm (defaults)", lambda: LSTMGap(lstm_config).fit(rows), len(rows))
    _timed("pca_kmeans (defaults)", lambda: PcaKmeansAnomaly().fit(lines), len(lines))
    all_rows = PcaKmeansConfig(fit_sample_rows=0)
    _timed(
        "pca_kmeans (KMeans, all rows)", lambda: PcaKmeansAnomaly(all_rows).fit(lines), len(lines)
    )
    print(f"lstm budget: {lstm:.1f} s of 120 s ({'OK' if lstm <= 120 else 'OVER'})")


if __name__ == "__main__":
    main()
