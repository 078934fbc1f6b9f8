"""The `gateway` command: one argparse tree, each room adds its own sub-commands.

A room exposes `register(subparsers)`; it adds its parsers and sets `func` on each, a
callable taking the parsed namespace and returning the exit status. Expected failures are
`StoregateError`s and are printed as a message, never as a traceback. `cloud.cli` builds
its tree with the same `run_command_tree`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.errors import StoregateError

# Rooms that add sub-commands, in the order they appear in `gateway --help`.
# A module listed here that does not exist yet is skipped, so rooms can land one by one.
COMMAND_MODULES = (
    "gateway.commands.config",
    "gateway.commands.quote",
    "gateway.commands.catalog",
    "gateway.journal.cli",
    "gateway.commands.lane",
    "gateway.commands.devices",
    "gateway.sync.cli",
    "gateway.daemon.cli",
    "gateway.harness.cli",
)


def build_parser(prog: str, description: str, modules: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"storegate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def run_command_tree(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        status: int = func(args)
    except StoregateError as exc:
        print(f"{parser.prog}: {exc.describe()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(
        "gateway", "storegate: the store box (totals, journal, devices, sync).", COMMAND_MODULES
    )
    return run_command_tree(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
