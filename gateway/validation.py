"""Turning pydantic validation errors into lines a person can act on.

One place for the wording used by settings, catalog and members documents: the dotted
key (`products[3].price`), pydantic's message without its "Value error, " prefix, and the
offending value where showing it helps (never for secrets, never whole tables).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError


def location(loc: Iterable[int | str], skip: frozenset[str] = frozenset()) -> str:
    """`("products", 3, "price")` -> `products[3].price`; `skip` drops a union-branch tag:
    the first one only, since a field may be named like a tag (`quantity_tiers`' tiers
    hold a `percent_off`)."""
    out = ""
    skipped = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in skip and not skipped:
            skipped = True
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def first_problems(exc: ValidationError, count: int = 5) -> str:
    """The first `count` problems of `exc` on one line (`loc: message; ...`): what a
    refused downlink document, update manifest or orders / staff document says."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
        for e in exc.errors()[:count]
    )


def describe_errors(
    exc: ValidationError,
    *,
    skip: frozenset[str] = frozenset(),
    unknown_key: str = "unknown field",
    secret_words: tuple[str, ...] = ("password", "secret", "key"),
) -> list[str]:
    """Every problem in `exc`, one line each."""
    problems = []
    for err in exc.errors():
        key = location(err["loc"], skip)
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = unknown_key
        problems.append(f"{key}: {message}{_shown(err, key, secret_words)}")
    return problems


def _shown(err: Any, key: str, secret_words: tuple[str, ...]) -> str:
    value = err.get("input")
    if err["type"] in ("missing", "extra_forbidden") or isinstance(value, dict | list):
        return ""
    if any(word in key.rsplit(".", 1)[-1] for word in secret_words):
        return " (got ***)"
    return f" (got {value!r})"
