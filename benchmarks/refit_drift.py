"""The deployed gap model scored "as of today" (the day after the data): refit vs holdout model.

Usage:
    .venv/bin/python benchmarks/refit_drift.py [--data PATH] [--model-type xgboost|lstm]
        [--threads 2]

Runs the training job (``retailsage.train.runner``, default hyperparameters, temporal as-of
holdout at the default cutoff) on the file twice, ``refit_full=true`` (the default) and
``false``, then scores every customer's snapshot as of the day after the last order (what the
pipeline's extract step scores) with each saved model and prints, per model: the newest
training snapshot, the days between it and the scoring date, the drift alarm (PSI >= 0.2
against the model's own ``drift_reference.json``, the pipeline's drift check), the holdout
MAE (the same in both: the holdout model produces the metrics) and the scored predictions'
mean / share predicted to buy within the horizon. No truth exists after the last day, so this
shows staleness and drift, not accuracy (``benchmarks/refit_rounds.py`` measures accuracy).
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from retailsage.data.cleaning import clean_transactions
from retailsage.data.loader import load_transactions
from retailsage.evaluation.drift import population_stability
from retailsage.features.asof import snapshot_features
from retailsage.features.gap import ORDER_DATE, build_orders
from retailsage.models.artifacts import load_model
from retailsage.train import runner
from retailsage.train.local import build_training_tree

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"
THREADS = {"xgboost": "nthread", "lstm": "num_threads"}


def main() -> None:
    """Train both ways and print one line per deployed model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model-type", default="xgboost", choices=list(THREADS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    clean = clean_transactions(load_transactions(args.data))
    today = build_orders(clean)[ORDER_DATE].max() + pd.Timedelta(days=1)
    batch = snapshot_features(clean, today)
    print(f"{args.data.name}: scoring {len(batch)} customers as of {today.date()}")
    with tempfile.TemporaryDirectory() as folder:
        for refit in ("true", "false"):
            base = Path(folder) / refit
            hyperparameters = {
                "model_type": args.model_type,
                THREADS[args.model_type]: str(args.threads),
                "refit_full": refit,
            }
            build_training_tree(base, {"train": [args.data]}, hyperparameters)
            assert runner.main({"SAGEMAKER_BASE_DIR": str(base)}, stdout=io.StringIO()) == 0
            model_dir = base / "model"
            reference = json.loads((model_dir / "drift_reference.json").read_text())
            report = population_stability(reference, batch, 0.2)
            top = sorted(report.psi.items(), key=lambda item: -item[1])[:3]
            metrics = json.loads((base / "output/data/metrics.json").read_text())
            scored = load_model(model_dir).predict(batch)
            days = scored["predicted_gap_days"].to_numpy(np.float64)
            print(
                f"  refit_full={refit}: newest training snapshot {reference['as_of']['last']}, "
                f"{report.context['days_after_training']} days before scoring | "
                f"{len(report.drifted)} inputs alarmed, top "
                + ", ".join(f"{name} {value:.3f}" for name, value in top)
                + f" | holdout MAE {metrics['validation:mae']:.3f} | scored mean "
                f"{days.mean():.1f} d, P(buy) mean {scored['purchase_probability'].mean():.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
