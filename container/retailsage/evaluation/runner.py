"""Evaluation runs: load data, apply the protocol, fit, score, write ``metrics.json``."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retailsage.core.errors import HyperparameterError, UserError
from retailsage.core.hyperparameters import check_range, parse_hyperparameters
from retailsage.data.schema import CUSTOMER_ID, INVOICE_NO
from retailsage.models.registry import get_family

LOGGER = logging.getLogger(__name__)
METRICS_FILE = "metrics.json"
SYNTHETIC_ROWS = 300_000
_HASH_BUCKETS = 10_000


@dataclass(frozen=True)
class EvaluationRequest:
    """One evaluation run, as the CLI describes it.

    Attributes:
        model_type: ``pca_kmeans``, ``xgboost`` or ``lstm``.
        protocol: ``asof`` (default), ``p1`` or ``p2cap`` (gap models; ``p1``/``p2cap`` train
            the per-order target ``target=order_gap``; the anomaly model splits lines at the
            cutoff).
        data: transactions file or directory; ``None`` generates synthetic data.
        cutoff: the temporal cutoff ``C``.
        horizon_days: ``H`` of P2-cap.
        out_dir: where ``metrics.json`` and the plots go (``None``: nothing written).
        hyperparameters: string overrides of the family's defaults.
        sample: fraction of customers (gap) or invoices (anomaly) kept, by a stable hash.
    """

    model_type: str
    protocol: str = "asof"
    data: Path | None = None
    cutoff: str = "2011-09-01"
    horizon_days: int = 60
    out_dir: Path | None = None
    hyperparameters: dict[str, str] = field(default_factory=dict)
    sample: float = 1.0

    def __post_init__(self) -> None:
        """Validate the protocol, the cutoff date and the ranges (raises UserError)."""
        if self.protocol not in ("asof", "p1", "p2cap"):
            raise HyperparameterError(f"protocol must be asof, p1 or p2cap, got {self.protocol!r}")
        self.cutoff_timestamp()
        check_range("horizon", self.horizon_days, low=1)
        check_range("sample", self.sample, low=0.0, high=1.0, low_open=True)

    def cutoff_timestamp(self) -> pd.Timestamp:
        """The cutoff ``C`` as a timestamp.

        Returns:
            ``cutoff`` parsed by pandas (an ISO date or date-time).

        Raises:
            UserError: the cutoff is not a date (pandas' own error would otherwise
                reach the command line as a traceback).
        """
        try:
            stamp = pd.Timestamp(self.cutoff)
        except (TypeError, ValueError) as exc:
            raise UserError(f"cutoff {self.cutoff!r} is not a date; use YYYY-MM-DD") from exc
        if stamp is pd.NaT:
            raise UserError(f"cutoff {self.cutoff!r} is not a date; use YYYY-MM-DD")
        return stamp


def load_source(data: Path | None) -> pd.DataFrame:
    """Load raw transaction lines from ``data``, or the evaluation's generated data when ``None``.

    Args:
        data: a transactions file in any supported format, or ``None`` for
            :data:`SYNTHETIC_ROWS` generated lines (seed 0), as ``retailsage evaluate`` uses.

    Returns:
        The raw lines (schema columns only), not yet cleaned.
    """
    if data is None:
        from retailsage.data.synthetic import generate_transactions

        LOGGER.info("no --data given: evaluating on %d synthetic rows", SYNTHETIC_ROWS)
        return generate_transactions(SYNTHETIC_ROWS, seed=0)
    from retailsage.data.loader import load_transactions

    return load_transactions(data, columns_only=True)


def stable_sample(frame: pd.DataFrame, column: str, fraction: float) -> pd.DataFrame:
    """Keep the rows whose ``column`` value hashes into the first ``fraction`` of buckets."""
    if fraction >= 1.0:
        return frame
    hashed = pd.util.hash_pandas_object(frame[column].astype("string"), index=False)
    keep = (hashed.to_numpy() % _HASH_BUCKETS) < fraction * _HASH_BUCKETS
    return frame.loc[np.asarray(keep)]


def run_evaluation(request: EvaluationRequest) -> dict[str, Any]:
    """Run one evaluation and write ``metrics.json`` (and plots) to ``out_dir``.

    Args:
        request: what to evaluate.

    Returns:
        The metrics written.

    Raises:
        UserError: bad hyperparameters, unreadable data, an empty protocol side, or an
            ``out_dir`` that cannot be created (checked before any work).
    """
    family = get_family(request.model_type)
    config = parse_hyperparameters(family.config_cls, request.hyperparameters)
    if request.out_dir is not None:
        try:
            request.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out {request.out_dir}: cannot create the directory: {exc}") from exc
    lines = load_source(request.data)
    cutoff = request.cutoff_timestamp()
    if request.model_type == "pca_kmeans":
        results = _anomaly(request, lines, cutoff, config)
    else:
        results = _gap(request, lines, cutoff, config)
    results["data"] = str(request.data) if request.data is not None else "synthetic"
    results["sample"] = request.sample
    results["hyperparameters"] = dict(request.hyperparameters)
    if request.out_dir is not None:
        (request.out_dir / METRICS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    return results


def _anomaly(
    request: EvaluationRequest, lines: pd.DataFrame, cutoff: pd.Timestamp, config: Any
) -> dict[str, Any]:
    """Anomaly evaluation on (sampled) raw lines."""
    from retailsage.data.cleaning import prepare_anomaly_lines
    from retailsage.evaluation.anomaly_eval import evaluate_anomaly

    prepared = stable_sample(prepare_anomaly_lines(lines), INVOICE_NO, request.sample)
    return evaluate_anomaly(prepared, cutoff, config, request.out_dir)


def _gap(
    request: EvaluationRequest, lines: pd.DataFrame, cutoff: pd.Timestamp, config: Any
) -> dict[str, Any]:
    """Gap evaluation on (sampled) clean lines."""
    from retailsage.data.cleaning import clean_transactions
    from retailsage.evaluation.gap_eval import evaluate_gap, protocol_split
    from retailsage.features.gap import gap_training_rows

    clean = stable_sample(clean_transactions(lines), CUSTOMER_ID, request.sample)
    if request.protocol == "asof":
        from retailsage.features.protocols import split_asof

        split = split_asof(clean, cutoff, request.horizon_days)
        return evaluate_gap(request.model_type, split, config, request.out_dir)
    rows = gap_training_rows(clean)
    split = protocol_split(rows, request.protocol, cutoff, request.horizon_days)
    return evaluate_gap(request.model_type, split, config, request.out_dir)
