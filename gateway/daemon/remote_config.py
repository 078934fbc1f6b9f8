"""A `config` document from head office: validate, write the settings file, apply live.

Head office may change only what a box can take live and what cannot cut it off:
`REMOTE_KEYS` (docs/protocol.md, *Configuration*). Anything else in the document —
`[mqtt]`, `[sync]` (trusted keys!), `[paths]`, `[devices]`, `[lane]`, the store's id — is
refused whole, listing every key, and the settings in force stay.

The accepted keys are written into the box's own settings file, in place (comments and
every other line kept), then the whole new file is validated with the same settings
model `gateway run` uses and checked to differ from the old one in exactly those keys;
only then does it replace the old file atomically (temporary file, fsync, rename), so a
restart finds it. The caller applies it live as SIGHUP does, between sales.
"""

from __future__ import annotations

import json
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.errors import StoregateError
from gateway.settings import load_settings
from gateway.sync.errors import DocumentRefused


def write_settings(config_path: str | None, changes: dict[tuple[str, str], Any]) -> Path:
    """Write `changes` into the settings file (validated first; old file kept on refusal)."""
    if config_path is None:
        raise DocumentRefused(
            "this box runs without a settings file (--config)",
            where="gateway run",
            fix="start it with --config PATH",
        )
    path = Path(config_path)
    old_text = path.read_text(encoding="utf-8")
    new_text = edited(old_text, changes)
    _same_but(old_text, new_text, changes)
    partial = path.with_name(f".{path.name}.remote")
    with partial.open("w", encoding="utf-8") as fh:
        fh.write(new_text)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        load_settings(partial)
    except StoregateError as exc:
        partial.unlink(missing_ok=True)
        raise DocumentRefused(
            f"the settings would not validate: {exc.what}",
            where=str(path),
            fix="correct the values; the settings in force stay",
        ) from exc
    os.chmod(partial, path.stat().st_mode & 0o7777)
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
    raise DocumentRefused(
        f"{where}: {value!r} is not a value a settings file holds",
        where="config document",
        fix="send a string, number, boolean or list of strings",
    )


def edited(text: str, changes: dict[tuple[str, str], Any]) -> str:
    """`text` with each key set in its table (replaced where it stands, else added)."""
    lines = text.splitlines()
    for (section, key), value in changes.items():
        line = f"{key} = {toml_value(value, f'{section}.{key}')}"
        start, end = _table(lines, section)
        if start is None:
            lines += ["", f"[{section}]", line]
            continue
        at = next(
            (
                i
                for i in range(start + 1, end)
                if lines[i].split("=", 1)[0].strip() == key and "=" in lines[i]
            ),
            None,
        )
        if at is None:
            lines.insert(start + 1, line)
        else:
            lines[at : _value_end(lines, at)] = [line]
    return "\n".join(lines) + "\n"


def _table(lines: list[str], section: str) -> tuple[int | None, int]:
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        return None, len(lines)
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    return start, end


def _value_end(lines: list[str], at: int) -> int:
    """One past the last line of the key/value starting at `at` (arrays may span lines)."""
    for end in range(at + 1, len(lines) + 1):
        try:
            tomllib.loads("\n".join(lines[at:end]))
            return end
        except tomllib.TOMLDecodeError:
            continue
    return at + 1


def _same_but(old: str, new: str, changes: dict[tuple[str, str], Any]) -> None:
    """The edit changed exactly the keys asked for (else: refuse, touch nothing)."""
    try:
        before, after = tomllib.loads(old), tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise DocumentRefused(
            f"the settings file could not be edited safely: {exc}",
            where="config document",
            fix="edit the file on the box",
        ) from exc
    for section, key in changes:
        before.setdefault(section, {}).pop(key, None)
        after.setdefault(section, {}).pop(key, None)
    if {k: v for k, v in before.items() if v} != {k: v for k, v in after.items() if v}:
        raise DocumentRefused(
            "editing the settings file would change other keys",
            where="config document",
            fix="edit the file on the box",
        )
