"""SIGHUP's catalog step: apply the configured catalog file when it is newer.

A file whose version is not above the catalog in force is nothing new (the usual SIGHUP
for another setting): it is skipped quietly. A newer file that does not validate is a
refusal a technician must see — the box keeps the catalog in force and the caller alerts
with the catalog room's own error (every problem listed), so a price change that never
arrives is not a silent mystery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.catalog.catalog import Catalog
from gateway.catalog.store import CatalogStore
from gateway.errors import StoregateError


@dataclass(frozen=True)
class CatalogRefused:
    """A newer catalog file the box did not take; `message` is what the alert says."""

    message: str


def reload_catalog_file(store: CatalogStore, file: Path | None) -> Catalog | CatalogRefused | None:
    """The new catalog, why a newer file was refused, or None when there is nothing new."""
    if file is None or not file.exists():
        return None
    current = store.version()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return CatalogRefused(
            f"catalog file {file} cannot be read ({exc}); the catalog in "
            f"force (version {current}) stays"
        )
    offered = _version(text)
    if offered is not None and current is not None and offered <= current:
        return None
    try:
        return store.apply_text(text, str(file))
    except StoregateError as exc:
        which = f"version {offered}" if offered is not None else "without a readable version"
        return CatalogRefused(
            f"catalog file {which} refused, the catalog in force "
            f"(version {current}) stays: {exc.describe()}"
        )


def _version(text: str) -> int | None:
    """The document's `version` when the text is JSON with an integer one, else None
    (then the full validation below says what is wrong)."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None
