"""Errors a person can act on.

Every error that can reach a technician or a cashier says *what* went wrong, *where*
(file, key, barcode, line) and *how to fix it*. The CLI turns them into a message and an
exit status; it never shows a traceback for one of these.
"""

from __future__ import annotations


class StoregateError(Exception):
    """Base of every expected failure; `exit_code` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.describe())

    def describe(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        return f"{head}\n  fix: {self.fix}" if self.fix else head


class SettingsError(StoregateError):
    """Settings file or environment is invalid (exit status 2, as the issue asks)."""

    exit_code = 2

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid settings ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            f"{listing}",
            where=source,
            fix="correct the keys above; `gateway config check --config PATH` re-checks",
        )

    def describe(self) -> str:
        return f"{self.where}: {self.what}\n  fix: {self.fix}"


class DatabaseError(StoregateError):
    """The SQLite file cannot be used as it is (corrupt, truncated, too new)."""

    exit_code = 3


class UsageError(StoregateError):
    """A command line that cannot be carried out as given."""

    exit_code = 2
