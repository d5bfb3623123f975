"""The LSTM gap family on CUDA vs CPU: fit time, holdout MAE, and a CUDA-trained artifact on CPU.

    python benchmarks/lstm_device.py [--rows 400000] [--epochs 15] [--data PATH]

Fits ``LSTMGap`` with ``device=cuda`` (when a GPU is present) and ``device=cpu`` on the same
gap rows (generated Online Retail lines by default; ``--data`` reads a file instead), prints the
fit seconds and the MAE on a held-out customer split for each, then saves the CUDA-trained model
with the artifact code, loads it back (``weights_only`` state dict, CPU) and checks that its
predictions equal the in-memory model's. Runs without the project installed when
``container/`` is on ``PYTHONPATH`` (the GPU machine's own torch is used).
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
from retailsage.features.gap import TARGET, gap_training_rows  # noqa: E402
from retailsage.models.artifacts import load_model, save_model  # noqa: E402
from retailsage.models.lstm_gap import LSTMGap, LSTMGapConfig  # noqa: E402


def gap_rows(rows: int, data: Path | None) -> pd.DataFrame:
    """Observed gap rows from ``data`` or from ``rows`` generated transaction lines."""
    raw = load_transactions(data) if data else generate_transactions(rows, seed=0)
    features = gap_training_rows(clean_transactions(raw))
    return features.loc[features[TARGET].notna()].reset_index(drop=True)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out every fifth customer."""
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
    predicted = model.predict(test)["predicted_gap_days"].to_numpy()
    mae = float(np.mean(np.abs(predicted - test[TARGET].to_numpy())))
    return model, {"device": config.device, "fit seconds": round(seconds, 2), "MAE": round(mae, 3)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    rows = gap_rows(args.rows, args.data)
    train, test = split(rows)
    print(
        f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}"
        + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
        + f"; cores {os.cpu_count()}; gap rows: train {len(train):,}, holdout {len(test):,}"
    )
    devices = ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]
    results, models = [], {}
    for device in devices:
        config = LSTMGapConfig(epochs=args.epochs, device=device, early_stopping_epochs=0)
        models[device], result = fit(config, train, test)
        results.append(result)
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
