"""As-of target figures: each gap family against the as-of baselines, on several data/cutoffs.

Usage:
    .venv/bin/python benchmarks/asof_targets.py [--data PATH] [--cutoff 2011-09-01 ...]
        [--models xgboost lstm] [--synthetic] [--threads 2]

Runs ``retailsage evaluate --protocol asof`` (same defaults, nothing tuned per file) for every
(data, cutoff, model) and prints one line each: model MAE, the best same-run baseline's MAE and
the margin, the share of next-purchase dates before the as-of day, Brier and ROC-AUC of
``purchase_probability``. ``--synthetic`` adds the generated data set (300,000 lines, seed 0).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retailsage.evaluation.runner import EvaluationRequest, run_evaluation

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"


def main() -> None:
    """Parse the arguments and print one figure line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cutoff", nargs="+", default=["2011-09-01"])
    parser.add_argument("--horizon", type=int, default=60)
    parser.add_argument("--models", nargs="+", default=["xgboost", "lstm"])
    parser.add_argument("--synthetic", action="store_true", help="also the generated data")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sources: list[Path | None] = [args.data if args.data.exists() else None]
    if args.synthetic and sources[0] is not None:
        sources.append(None)
    threads = {"xgboost": "nthread", "lstm": "num_threads"}
    for source in sources:
        for cutoff in args.cutoff:
            for model in args.models:
                result = run_evaluation(
                    EvaluationRequest(
                        model_type=model,
                        protocol="asof",
                        data=source,
                        cutoff=cutoff,
                        horizon_days=args.horizon,
                        hyperparameters={threads[model]: str(args.threads)},
                    )
                )
                metrics, baselines = result["model"], result["baselines"]
                best_name = min(baselines, key=lambda name: baselines[name]["mae"])
                best = baselines[best_name]["mae"]
                print(
                    f"{source.name if source else 'synthetic'} D={cutoff} H={args.horizon} "
                    f"{model}: MAE {metrics['mae']:.2f} medAE {metrics['medae']:.2f} | best "
                    f"baseline {best_name} {best:.2f} ({100 * (1 - metrics['mae'] / best):+.1f} %) "
                    f"| constant {baselines['constant']['mae']:.2f} | past dates "
                    f"{metrics['past_date_share']:.3f} | Brier {metrics['brier']:.3f} AUC "
                    f"{metrics['roc_auc']:.3f} | {result['n_train']} train rows, "
                    f"{result['n_test']} customers, fit {result['fit_seconds']} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
