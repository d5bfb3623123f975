"""The ``retailsage`` command line: one entry point, one sub-command module per area."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Each module exposes ``register(subparsers)``, adding its sub-command with ``func`` set to a
# callable ``(argparse.Namespace) -> int``. Imported lazily so `retailsage --help` stays fast.
_COMMAND_MODULES: tuple[str, ...] = (
    "retailsage.pipeline.cli",
    "retailsage.data.cli",
    "retailsage.evaluation.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every area's sub-commands.

    Returns:
        The parser; each sub-command sets ``func``.
    """
    parser = argparse.ArgumentParser(
        prog="retailsage",
        description="SageMaker-native retail ML: train, serve, and run the pipeline locally.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns:
        The process exit code.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
