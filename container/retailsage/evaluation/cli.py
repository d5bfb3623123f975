"""The ``retailsage evaluate`` sub-command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from retailsage.models.registry import MODEL_TYPES


def _key_value(text: str) -> tuple[str, str]:
    """Parse one ``--set key=value`` argument."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-command.

    Args:
        subparsers: the top-level parser's sub-parser collection.
    """
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model family on a temporal protocol against baselines",
        description=(
            "Fit a model family on the data before the cutoff and score it on the data after, "
            "next to baselines computed in the same run; prints and writes JSON metrics."
        ),
    )
    parser.add_argument("--model-type", required=True, choices=MODEL_TYPES)
    parser.add_argument(
        "--protocol",
        choices=("asof", "p1", "p2cap"),
        default="asof",
        help="gap protocol (default asof; p1/p2cap evaluate the per-order target)",
    )
    parser.add_argument("--data", type=Path, help="transactions file/dir (default: synthetic)")
    parser.add_argument("--cutoff", default="2011-09-01", help="cutoff date C")
    parser.add_argument("--horizon", type=int, default=60, help="horizon H in days (asof, P2-cap)")
    parser.add_argument("--out", type=Path, help="directory for metrics.json and plots")
    parser.add_argument(
        "--set",
        dest="overrides",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="hyperparameter override (repeatable)",
    )
    parser.add_argument(
        "--sample", type=float, default=1.0, help="fraction of customers/invoices to keep"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation described by the parsed arguments.

    Args:
        args: the parsed ``evaluate`` arguments.

    Returns:
        0 on success.

    Raises:
        UserError: bad data, options or output directory (``retailsage`` exits 2).
    """
    from retailsage.evaluation.runner import EvaluationRequest, run_evaluation

    request = EvaluationRequest(
        model_type=args.model_type,
        protocol=args.protocol,
        data=args.data,
        cutoff=args.cutoff,
        horizon_days=args.horizon,
        out_dir=args.out,
        hyperparameters=dict(args.overrides),
        sample=args.sample,
    )
    results = run_evaluation(request)
    print(json.dumps(results, indent=2))
    return 0
