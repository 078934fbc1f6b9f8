"""PINs for the CLI: asked on the terminal, or one line of stdin with `--pin-stdin`.

Never from the command line, where `ps` and the shell's history show them.
"""

from __future__ import annotations

import getpass
import sys

from gateway.errors import UsageError


def read_pin(from_stdin: bool, prompt: str = "PIN: ") -> str:
    """One PIN: the next line of stdin (`--pin-stdin`), else asked without echo; no PIN
    at all (stdin closed) is a usage error, not a traceback."""
    if from_stdin:
        return sys.stdin.readline().strip()
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise UsageError(
            "a PIN is needed and none was given",
            where="PIN prompt",
            fix="type it, or use --pin-stdin",
        ) from None
