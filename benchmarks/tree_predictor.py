"""XGBoost's predictor vs the compiled tree walker, on the gap model, in one process.

    .venv/bin/python benchmarks/tree_predictor.py [--repeats 7]

Trains the XGBoost gap family twice on synthetic gap rows, 200 rounds of max_depth 6: with
``min_child_fraction=0`` (trees grow to depth 6) and with the family's default regularisation
(a few splits per tree). For 1, 100, 1,000 and 10,000 rows it prints the CPU time per call
(best of ``--repeats`` batches, one thread) of ``Booster.inplace_predict`` and of
:class:`CompiledTrees.predict`, their ratio, and whether the outputs are bit-identical.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serve"))

import numpy as np
import pandas as pd
from serve_helpers import synthetic_transactions

from retailsage.features.gap import TARGET, gap_training_rows
from retailsage.models.xgboost_gap import XGBoostGap, XGBoostGapConfig


def cpu_ms(call: Callable[[], object], repeats: int, budget_s: float = 0.2) -> float:
    """Best-of-``repeats`` CPU milliseconds per call, each batch sized to ~``budget_s``."""
    start = time.process_time()
    call()
    per_call = max(time.process_time() - start, 1e-6)
    n = max(1, int(budget_s / per_call))
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(n):
            call()
        best = min(best, (time.process_time() - start) / n)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rows = gap_training_rows(synthetic_transactions(60_000, seed=1))
    observed = rows.loc[rows[TARGET].notna()]
    table = []
    for label, fraction in (("depth-6 trees", 0.0), ("family default", 0.15)):
        config = XGBoostGapConfig(
            num_round=200,
            max_depth=6,
            early_stopping_rounds=0,
            min_child_weight=1.0,
            min_child_fraction=fraction,
            nthread=2,
        )
        model = XGBoostGap(config).fit(observed)
        spec, booster = model.tabular_spec, model.booster_
        assert booster is not None
        booster.set_param({"nthread": 1})
        compiled = model.compiled_trees()
        assert compiled is not None, "the _treewalk extension is not built (pip install -e .)"
        matrix = spec.encode(rows.sample(10_000, replace=True, random_state=0))
        for n in (1, 100, 1_000, 10_000):
            x = np.ascontiguousarray(matrix[:n])
            same = np.array_equal(booster.inplace_predict(x), compiled.predict(x))
            xgb_ms = cpu_ms(partial(booster.inplace_predict, x), args.repeats)
            ours_ms = cpu_ms(partial(compiled.predict, x), args.repeats)
            table.append(
                {
                    "model": f"{label} ({compiled.splits_per_tree:.1f} splits/tree)",
                    "rows": n,
                    "xgboost ms": round(xgb_ms, 4),
                    "compiled ms": round(ours_ms, 4),
                    "speed-up": round(xgb_ms / ours_ms, 2),
                    "bit-identical": same,
                }
            )
    print(pd.DataFrame(table).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
