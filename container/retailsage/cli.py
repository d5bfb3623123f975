"""The ``retailsage`` command line: one entry point, one sub-command module per area.

Exit codes, the same for every sub-command: 0 done; 1 the work ran and did not succeed (a failed
pipeline execution, an incomplete run); 2 the request cannot be carried out as given (argparse's
usage errors and every :class:`~retailsage.core.errors.UserError`: a bad option value, a missing
or unreadable file, an unwritable output), reported on stderr as ``error: <message>``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from retailsage.core.errors import UserError

USAGE_ERROR = 2
"""The exit code of a request that cannot be carried out as given (as argparse's)."""

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
        The process exit code (module docstring).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
