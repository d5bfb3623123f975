"""``retailsage pipeline run`` (the state machine, run locally) and ``pipeline show``.

``run`` executes the deployed state machine end to end on this machine; ``show`` prints a run's
exported predictions, or the list of runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from retailsage.core.errors import UserError
from retailsage.models.registry import MODEL_TYPES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pipeline`` command and its ``run`` and ``show`` sub-commands.

    Args:
        subparsers: the top-level parser's sub-command set.
    """
    pipeline = subparsers.add_parser("pipeline", help="run the Step Functions pipeline locally")
    actions = pipeline.add_subparsers(dest="pipeline_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="synthesize the stacks and run the state machine on moto with the real code",
        description="Synthesize the CDK app, start moto's Step Functions engine on this machine "
        "and run one execution whose Lambda, training and transform states run the project's "
        "real code (no AWS account, no Docker).",
    )
    run.add_argument(
        "--data", type=Path, help="transactions file or directory (default: generated)"
    )
    run.add_argument("--rows", type=int, default=None, help="generated rows (default 30000)")
    run.add_argument("--model-type", choices=MODEL_TYPES, default="xgboost")
    run.add_argument(
        "--hp", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter override"
    )
    run.add_argument("--quality-threshold", type=float, help="gate threshold (forces rejection)")
    run.add_argument("--inject-failure", metavar="STATE", help="Task state to fail on purpose")
    run.add_argument("--run-id", help="execution name (default: time and model type)")
    run.add_argument(
        "--featurize",
        choices=("auto", "lambda", "processing"),
        default=None,
        help="where the run featurizes: the extract Lambda, or a SageMaker Processing job "
        "running the image's `featurize` mode (default: auto, by input size)",
    )
    run.add_argument("--runs-dir", type=Path, default=Path("runs"), help="local report root")
    run.set_defaults(func=run_command)
    show = actions.add_parser(
        "show",
        help="print a run's exported predictions (or list the runs)",
        description="Read runs/<RUN_ID>/predictions.parquet, written after each `pipeline run` "
        "from the items the run wrote to the predictions table. Without RUN_ID, list the runs. "
        "A run that was not published complete is reported as incomplete and not shown.",
    )
    show.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run (execution name)")
    show.add_argument("--rows", type=int, default=20, help="rows to print (default 20)")
    show.add_argument("--runs-dir", type=Path, default=Path("runs"), help="local report root")
    show.set_defaults(func=show_command)


def _hyperparameters(items: list[str]) -> dict[str, str]:
    """Parse ``--hp KEY=VALUE`` items."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--hp expects KEY=VALUE, got {item!r}")
        values[key] = value
    return values


def run_command(args: argparse.Namespace) -> int:
    """Run one local execution and print its summary.

    Args:
        args: the parsed ``pipeline run`` arguments.

    Returns:
        0 when the execution succeeded (a rejected model included: it is a designed outcome), 1
        when it failed.

    Raises:
        UserError: a bad option or setting (``retailsage`` exits 2, :mod:`retailsage.cli`).
    """
    from retailsage.evaluation.drift import alarm_threshold
    from retailsage.pipeline.run import DEFAULT_ROWS, LocalPipeline, RunOptions

    if not getattr(args, "verbose", False):
        # moto logs every forwarded SageMaker call and every Catch-handled failure; the
        # progress lines already show both.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        logging.getLogger("botocore").setLevel(logging.WARNING)

    options = RunOptions(
        model_type=args.model_type,
        data=args.data,
        rows=DEFAULT_ROWS if args.rows is None else args.rows,
        hyperparameters=_hyperparameters(args.hp),
        quality_threshold=args.quality_threshold,
        inject_failure=args.inject_failure,
        run_id=args.run_id,
        featurize=args.featurize,
        # read before the run, so a bad value fails now and not after the whole execution
        drift_threshold=alarm_threshold(),
    )
    if args.data is not None and not args.data.exists():
        raise UserError(f"--data {args.data} does not exist")
    with LocalPipeline(sys.stdout, runs_dir=args.runs_dir) as pipeline:
        summary = pipeline.execute(options)
    for line in summary.lines():
        print(line)
    return 0 if summary.succeeded else 1


def show_command(args: argparse.Namespace) -> int:
    """Print a run's predictions, or list the runs with an export.

    Args:
        args: the parsed ``pipeline show`` arguments.

    Returns:
        0 when shown, 1 for an incomplete run (its rows are not shown).

    Raises:
        UserError: an unknown run (``retailsage`` exits 2, naming the known runs).
    """
    from retailsage.pipeline.export import list_runs, preview_lines, read_run

    if args.run_id is None:
        runs = list_runs(args.runs_dir)
        if not runs:
            print(f"no runs with exported predictions in {args.runs_dir}")
        width = max((len(run.run_id) for run in runs), default=0)
        for run in runs:
            print(f"{run.run_id:<{width}}  {run.describe()}")
        return 0
    run = read_run(args.runs_dir, args.run_id)  # an unknown run: UserError, exit 2
    if not run.complete:
        print(
            f"run {run.run_id}: {run.describe()}: it was never published (no completion "
            "marker), so its items are not shown; the last complete run still stands"
        )
        return 1
    frame = run.frame()
    print(f"run {run.run_id}: {run.rows:,} predictions ({run.run_dir / 'predictions.parquet'})")
    for line in preview_lines(frame, max(0, args.rows)):
        print(line)
    if len(frame) > args.rows:
        print(f"... {len(frame) - args.rows:,} more rows")
    return 0
