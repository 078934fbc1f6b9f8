"""PINs for the CLI: asked on the terminal, or one line of stdin with `--pin-stdin`.

Never from the command line, where `ps` and the shell's history show them.
"""

from __future__ import annotations

import getpass
import sys


def read_pin(from_stdin: bool, prompt: str = "PIN: ") -> str:
    """One PIN: the next line of stdin (`--pin-stdin`), else asked without echo."""
    if from_stdin:
        return sys.stdin.readline().strip()
    return getpass.getpass(prompt)
