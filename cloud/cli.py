"""The `cloud` command (head office); rooms register sub-commands as in `gateway.cli`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from gateway.cli import build_parser, run_command_tree

COMMAND_MODULES: tuple[str, ...] = ("cloud.commands",)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser("cloud", "storegate head office.", COMMAND_MODULES)
    return run_command_tree(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
