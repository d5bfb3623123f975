"""Shared command line of the as-of benchmarks: the data source, the cutoffs and the horizon."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from retailsage.evaluation.runner import load_source

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/online_retail.parquet"


def asof_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser with ``--data``, ``--synthetic``, ``--cutoff`` and ``--horizon``.

    Args:
        doc: the calling script's docstring; its first line is the description.

    Returns:
        The parser; the caller adds its own options.
    """
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--synthetic", action="store_true", help="the generated data instead")
    parser.add_argument("--cutoff", nargs="+", default=["2011-09-01"])
    parser.add_argument("--horizon", type=int, default=60)
    return parser


def load_raw(args: argparse.Namespace) -> tuple[str, pd.DataFrame]:
    """The source's name for the printed lines and its raw transaction lines."""
    name = "synthetic" if args.synthetic else args.data.name
    return name, load_source(None if args.synthetic else args.data)
