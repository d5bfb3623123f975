"""The LSTM gap family on CUDA vs CPU: fit time, holdout MAE, and a CUDA-trained artifact on CPU.

    python benchmarks/lstm_device.py [--rows 400000] [--epochs 15] [--data PATH]
        [--target asof|order_gap] [--batch-sizes 512 8192]

Fits ``LSTMGap`` with ``device=cuda`` (when a GPU is present) and ``device=cpu`` on the same
rows (generated Online Retail lines by default; ``--data`` reads a file instead), prints the
fit seconds and the holdout MAE for each, then saves the CUDA-trained model
with the artifact code, loads it back (``weights_only`` state dict, CPU) and checks that its
predictions equal the in-memory model's. ``--target asof`` (the default, as in training jobs):
the as-of snapshot rows of ``features.protocols.split_asof`` at the default cutoff and H = 60
(``retailsage evaluate``'s split: training snapshots before D - H, scored as of D against the
truth after D), with the Brier score and ROC-AUC of ``purchase_probability`` too;
``order_gap``: the per-order gap rows with every fifth customer held out. Runs without the
project installed when ``container/`` is on ``PYTHONPATH`` (the GPU machine's own torch is
used).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "container"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from retailsage.data.cleaning import clean_transactions  # noqa: E402
from retailsage.data.loader import load_transactions  # noqa: E402
from retailsage.data.synthetic import generate_transactions  # noqa: E402
from retailsage.evaluation.metrics import probability_metrics  # noqa: E402
from retailsage.features.gap import TARGET, gap_training_rows  # noqa: E402
from retailsage.features.protocols import split_asof  # noqa: E402
from retailsage.models.artifacts import load_model, save_model  # noqa: E402
from retailsage.models.lstm_gap import LSTMGap, LSTMGapConfig  # noqa: E402

HORIZON = 60


def train_test(rows: int, data: Path | None, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows of ``target`` from ``data`` or ``rows`` generated lines."""
    raw = load_transactions(data) if data else generate_transactions(rows, seed=0)
    clean = clean_transactions(raw)
    if target == "asof":
        split = split_asof(clean, None, HORIZON)
        return split.train, split.test
    features = gap_training_rows(clean)
    frame = features.loc[features[TARGET].notna()].reset_index(drop=True)
    held = pd.util.hash_pandas_object(frame["CustomerID"], index=False).to_numpy() % 5 == 0
    return frame.loc[~held], frame.loc[held]


def warm_up_cuda() -> None:
    """One-time costs outside the timing: CUDA context, cuDNN, and the lazy imports (dynamo,
    sympy: ~6 s on a machine without cached bytecode) of the first CUDA optimiser step."""
    lstm = torch.nn.LSTM(4, 4, batch_first=True).cuda()
    optimizer = torch.optim.Adam(lstm.parameters())
    lstm(torch.zeros(2, 3, 4, device="cuda"))[0].sum().backward()
    optimizer.step()
    torch.cuda.synchronize()


def fit(config: LSTMGapConfig, train: pd.DataFrame, test: pd.DataFrame) -> tuple[LSTMGap, dict]:
    """Fit, time it (CUDA synchronised) and score the holdout."""
    if config.device == "cuda":
        warm_up_cuda()
    started = time.perf_counter()
    model = LSTMGap(config).fit(train)
    if config.device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    output = model.predict(test)
    truth = test[TARGET].to_numpy(np.float64)
    mae = float(np.mean(np.abs(output["predicted_gap_days"].to_numpy() - truth)))
    result = {"device": config.device, "fit seconds": round(seconds, 2), "MAE": round(mae, 3)}
    if "purchase_probability" in output:
        bought = (truth < HORIZON).astype(np.float64)
        probability = output["purchase_probability"].to_numpy(np.float64)
        for name, value in probability_metrics(bought, probability).items():
            result[name] = round(value, 3)
    return model, result


def main() -> int:
    """Fit on each device, print the figures, check the artifact; 1 if it predicts otherwise."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--target", choices=["asof", "order_gap"], default="asof")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[512], help="rows per step (default 512)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    train, test = train_test(args.rows, args.data, args.target)
    prepared = time.perf_counter() - started
    print(
        f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}"
        + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
        + f"; cores {os.cpu_count()}; {args.target} rows: train {len(train):,}, holdout "
        f"{len(test):,} (prepared in {prepared:.1f} s)"
    )
    devices = ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]
    results, models = [], {}
    for batch_size in args.batch_sizes:
        for device in devices:
            config = LSTMGapConfig(
                epochs=args.epochs, device=device, early_stopping_epochs=0, batch_size=batch_size
            )
            model, result = fit(config, train, test)
            models.setdefault(device, model)
            results.append({"batch": batch_size, **result})
    print(pd.DataFrame(results).to_string(index=False))
    trained = models[devices[0]]
    with tempfile.TemporaryDirectory() as tmp:
        save_model(trained, Path(tmp))
        loaded = load_model(Path(tmp))
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
    same = np.array_equal(
        loaded.predict(test)["predicted_gap_days"].to_numpy(),
        trained.predict(test)["predicted_gap_days"].to_numpy(),
    )
    print(
        f"{devices[0]}-trained artifact ({sorted(p for p in manifest if p != 'config')}) "
        f"loaded on CPU predicts identically: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
