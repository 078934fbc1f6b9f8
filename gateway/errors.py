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


class ProblemsError(StoregateError):
    """A file or document refused whole, with every problem found listed (exit status 2)."""

    exit_code = 2

    def __init__(self, source: str, problems: list[str], *, headline: str, fix: str) -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{headline.format(count=count)}:\n{listing}", where=source, fix=fix)


class SettingsError(ProblemsError):
    """Settings file or environment is invalid (exit status 2, as the issue asks)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(
            source,
            problems,
            headline="invalid settings ({count})",
            fix="correct the keys above; `gateway config check --config PATH` re-checks",
        )


class DatabaseError(StoregateError):
    """The SQLite file cannot be used as it is (corrupt, truncated, too new)."""

    exit_code = 3


class UsageError(StoregateError):
    """A command line that cannot be carried out as given."""

    exit_code = 2
