"""The `gateway` command: one argparse tree, each room adds its own sub-commands.

A room exposes `register(subparsers)`; it adds its parsers and sets `func` on each, a
callable taking the parsed namespace and returning the exit status. Expected failures are
`StoregateError`s and are printed as a message, never as a traceback; a closed pipe ends
quietly and an unforeseen error is one sentence (`run_command_tree`). `cloud.cli` builds
its tree with the same `run_command_tree`.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "gateway.commands.stock",
    "gateway.commands.devices",
    "gateway.sync.cli",
    "gateway.updates.cli",
    "gateway.commands.enrol",
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
    describe_commands(parser)
    return parser


def describe_commands(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command without a `description` its one-line `help` as one, so that
    `gateway X Y --help` always opens with what the command does (a room that has more to
    say sets its own description); and remember which parser a command line reached, so
    an unknown argument is refused with that command's usage."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            line = helps.get(name)
            if child.description is None and line:
                child.description = f"{line[0].upper()}{line[1:]}."
            child.set_defaults(command_parser=child)  # the deepest one parsed wins
            describe_commands(child)


# What a command run by a shell reports when its reader went away (128 + SIGPIPE).
BROKEN_PIPE = 141
# An error nobody foresaw (EX_SOFTWARE): one sentence instead of a traceback.
INTERNAL_ERROR = 70
TRACEBACK_ENV = "STOREGATE_TRACEBACK"


def run_command_tree(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, run the command, and turn every way it can end into a message and a status:
    a `StoregateError` into its sentence; a reader that closed the pipe (`gateway report
    x | head -1`) into a quiet BROKEN_PIPE; anything unforeseen into one line saying it is
    a bug and how to see the traceback (`STOREGATE_TRACEBACK=1`)."""
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command they were given to, with its usage
        getattr(args, "command_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        status: int = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except StoregateError as exc:
        print(f"{parser.prog}: {exc.describe()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return BROKEN_PIPE
    except Exception as exc:
        if os.environ.get(TRACEBACK_ENV):
            raise
        print(
            f"{parser.prog}: unexpected error ({type(exc).__name__}: {exc}); this is a bug\n"
            f"  fix: run it again with {TRACEBACK_ENV}=1 and send the output to "
            "storegate's maintainers",
            file=sys.stderr,
        )
        return INTERNAL_ERROR
    return status


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not complain again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(
        "gateway", "storegate: the store box (totals, journal, devices, sync).", COMMAND_MODULES
    )
    return run_command_tree(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
