"""Every leaf command of `gateway` and `cloud`, found by walking the argparse trees (no
list to keep up to date): each has a description and a help string for every option, and
answers `--help`, an unknown option and a bad value with a sentence, its exit status and
no traceback (issue 15, item 9). Argparse refuses before a command body runs, so the sweep
runs in-process and touches nothing."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest

import cloud.cli
import gateway.cli

Main = Callable[[Sequence[str] | None], int]
TREES: dict[str, tuple[tuple[str, ...], Main]] = {
    "gateway": (gateway.cli.COMMAND_MODULES, gateway.cli.main),
    "cloud": (cloud.cli.COMMAND_MODULES, cloud.cli.main),
}


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    seen: set[int] = set()
    for sub in subs:
        for name, child in sub.choices.items():
            if id(child) not in seen:  # an alias names the same parser
                seen.add(id(child))
                yield from _leaves(child, (*path, name))


def leaves() -> list[tuple[str, tuple[str, ...], argparse.ArgumentParser]]:
    found = []
    for prog, (modules, _) in TREES.items():
        parser = gateway.cli.build_parser(prog, prog, modules)
        found += [(prog, path, leaf) for path, leaf in _leaves(parser, ())]
    return found


LEAVES = leaves()
IDS = [" ".join((prog, *path)) for prog, path, _ in LEAVES]


def run(prog: str, argv: list[str]) -> tuple[int, str, str]:
    """The real command tree in this process: (exit status, stdout, stderr). Anything but
    SystemExit escaping it fails the test with its traceback."""
    out, err, stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO("")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = TREES[prog][1](argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.stdin = stdin
    return code, out.getvalue(), err.getvalue()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_sweep_finds_the_trees() -> None:
    names = set(IDS)
    # a few leaves of each tree and depth, to show the walk reaches them
    assert {"gateway staff disable", "gateway devices simulate printer", "cloud report rfm"} <= (
        names
    )
    assert len([i for i in IDS if i.startswith("gateway ")]) >= 30
    assert len([i for i in IDS if i.startswith("cloud ")]) >= 15


@pytest.mark.parametrize(("prog", "path", "leaf"), LEAVES, ids=IDS)
def test_every_leaf_is_explained(prog: str, path: tuple[str, ...], leaf: Any) -> None:
    assert leaf.description and len(leaf.description.split()) >= 2, leaf.prog
    undocumented = [
        a.option_strings[0] if a.option_strings else a.dest
        for a in leaf._actions
        if not isinstance(a, argparse._HelpAction) and not a.help
    ]
    assert undocumented == [], f"{leaf.prog}: no help for {undocumented}"


@pytest.mark.parametrize(("prog", "path", "leaf"), LEAVES, ids=IDS)
def test_every_leaf_answers_help_and_bad_arguments(
    prog: str, path: tuple[str, ...], leaf: Any
) -> None:
    code, out, err = run(prog, [*path, "--help"])
    assert code == 0, err
    assert out.startswith(f"usage: {leaf.prog}")
    assert flat(leaf.description)[:40] in flat(out)
    assert "Traceback" not in out + err

    code, out, err = run(prog, [*path, "--no-such-option"])
    assert code == 2, out
    assert err.startswith(f"usage: {leaf.prog}") and f"{leaf.prog}: error: " in err, err
    assert (
        "unrecognized arguments: --no-such-option" in err
        or "the following arguments are required" in err
    ), err
    assert "Traceback" not in err and out == ""

    for action in bad_value_actions(leaf):
        flag = action.option_strings[:1]
        code, out, err = run(prog, [*path, *flag, "not-a-value!"])
        assert code == 2, (action.dest, out)
        assert f"{leaf.prog}: error: argument " in err and "invalid" in err, err
        assert "Traceback" not in err


def bad_value_actions(leaf: argparse.ArgumentParser) -> list[argparse.Action]:
    """Options (and the first positional) that check their value: a number or a choice."""
    positionals = [a for a in leaf._actions if not a.option_strings]
    checked = [
        a
        for a in leaf._actions
        if (a.option_strings or (positionals and a is positionals[0]))
        and a.nargs != 0
        and (a.type in (int, float) or a.choices)
        and not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)
    ]
    return checked


def test_an_unforeseen_error_is_one_sentence_unless_the_traceback_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run_command_tree` itself, with a command whose body fails as no room foresaw."""

    def broken(_: argparse.Namespace) -> int:
        raise KeyError("shelf")

    parser = argparse.ArgumentParser(prog="gateway")
    parser.add_subparsers().add_parser("broken").set_defaults(func=broken)
    monkeypatch.delenv(gateway.cli.TRACEBACK_ENV, raising=False)
    err = io.StringIO()
    with redirect_stderr(err):
        code = gateway.cli.run_command_tree(parser, ["broken"])
    assert code == gateway.cli.INTERNAL_ERROR
    assert err.getvalue().startswith("gateway: unexpected error (KeyError: 'shelf'); this is a bug")
    assert f"{gateway.cli.TRACEBACK_ENV}=1" in err.getvalue() and "Traceback" not in err.getvalue()
    monkeypatch.setenv(gateway.cli.TRACEBACK_ENV, "1")  # as the systemd units set it
    with pytest.raises(KeyError):
        gateway.cli.run_command_tree(parser, ["broken"])
