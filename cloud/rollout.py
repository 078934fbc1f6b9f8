"""Publishing a checked document to a store or to a store group, with a staged rollout:
the steps `cloud publish`, `cloud rollout status|continue` and head office's `/publish`
and `/rollouts` pages share, so the browser publishes exactly what the CLI would.

Owns the order of those steps only: which stores a target names (known stores, an existing
group), the pilot stores of a group, the per-store preview and its text, publishing to the
pilot first and recording the rollout, and continuing to the rest once every pilot box
applied the document (or when forced). The tables are `cloud.stores`'; versioning, signing
and MQTT are `cloud.publish`'. Errors are `UsageError`s that say what, where and how to fix,
raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloud.clock import Clock, iso, system_clock
from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import SigningKey, document_topic, publish_document
from cloud.stores import (
    Rollout,
    group_stores,
    last_published,
    load_rollout,
    mark_published,
    preview,
    require_known,
    start_rollout,
    status_rows,
)
from gateway.errors import UsageError

KINDS = ("catalog", "members", "staff", "config")


def check_target(
    kind: str, root: str, store: str | None, group: str | None, box: str | None
) -> None:
    """What a target may be before any file or database is read: a config is for one box
    of one store, every other document for a whole store or group."""
    if kind not in KINDS:
        raise UsageError(
            f"{kind!r} is not a document head office publishes",
            where="cloud publish",
            fix=f"one of {', '.join(KINDS)}",
        )
    if bool(store) == bool(group):
        raise UsageError(
            "publish to one store or to one group",
            where="cloud publish",
            fix="give --store STORE or --group GROUP (not both)",
        )
    if group and kind == "config":
        raise UsageError(
            "a config document is for one box, not a group",
            where="cloud publish config --group",
            fix="publish it with --store STORE --box BOX",
        )
    document_topic(root, kind, store or "_", box)  # --box where it belongs


def target_stores(db: Database, kind: str, store: str | None, group: str | None) -> list[str]:
    """The known stores a target names; an unknown store or group is refused."""
    stores = [store] if store else group_stores(db, group or "")
    require_known(db, stores, f"cloud publish {kind}")
    return stores


def choose_pilot(group: str | None, stores: list[str], pilot: list[str]) -> list[str]:
    """The pilot stores of a group's staged rollout (none given: no rollout)."""
    if not pilot:
        return []
    if not group:
        raise UsageError(
            "--pilot is for a group's staged rollout",
            where="cloud publish --pilot",
            fix="publish with --group GROUP --pilot STORE,...",
        )
    outside = [s for s in pilot if s not in stores]
    if outside:
        raise UsageError(
            f"pilot stores not in group {group}: {', '.join(outside)}",
            where="--pilot",
            fix=f"choose stores of {group}: {', '.join(stores)}",
        )
    return pilot


def pilot_list(text: str | None) -> list[str]:
    """`store-1, store-2` as a list (the CLI's `--pilot` and the page's field alike)."""
    return [s.strip() for s in (text or "").split(",") if s.strip()]


@dataclass(frozen=True)
class StorePreview:
    store: str
    published: int | None  # the version published there (None: nothing yet)
    lines: list[str]


def previews(
    db: Database, kind: str, stores: list[str], box: str | None, document: dict[str, Any]
) -> list[StorePreview]:
    """What publishing `document` would change in each store, against what was last
    published there; reads only."""
    shown = []
    for store in stores:
        before = last_published(db, kind, store, box)
        lines = preview(kind, store, before[1] if before else None, document).lines
        shown.append(StorePreview(store, before[0] if before else None, lines))
    return shown


def preview_text(shown: list[StorePreview]) -> str:
    """The preview as `cloud publish --preview` prints it (and the page shows it)."""
    text = ""
    for one in shown:
        since = f"version {one.published}" if one.published is not None else "nothing yet"
        text += f"{one.store} (published: {since}):\n"
        text += "".join(f"  {line}\n" for line in one.lines)
    return text


@dataclass(frozen=True)
class Published:
    rollout: int | None  # the staged rollout started (None: no pilot, every store at once)
    versions: list[tuple[str, int]]  # store, version sent, in order


def publish(
    db: Database,
    *,
    broker: BrokerOptions,
    root: str,
    kind: str,
    document: dict[str, Any],
    stores: list[str],
    group: str | None,
    pilot: list[str],
    box: str | None,
    key: SigningKey,
    clock: Clock = system_clock,
) -> Published:
    """Publish to the pilot stores (starting a rollout of `group`) or, without a pilot, to
    every store of the target."""
    first = pilot or stores
    rollout = None
    if pilot:
        rest = [s for s in stores if s not in pilot]
        rollout = start_rollout(db, kind, group or "", document, pilot, rest, iso(clock()))
    messages = publish_document(
        db=db,
        broker=broker,
        root=root,
        kind=kind,
        document=document,
        stores=first,
        box=box,
        key=key,
        clock=clock,
    )
    versions = [(s, int(m["version"])) for s, m in zip(first, messages, strict=True)]
    if rollout is not None:
        for store, version in versions:
            mark_published(db, rollout, store, version, iso(clock()))
    return Published(rollout, versions)


def blocking(rows: list[dict[str, Any]]) -> list[str]:
    """The pilot boxes that have not applied the rollout's document (`store/box state`)."""
    return [
        f"{r['store']}/{b['box']} {b['state']}"
        for r in rows
        if r["stage"] == "pilot"
        for b in r["boxes"]
        if b["state"] != "applied"
    ]


def continue_rollout(
    db: Database,
    *,
    broker: BrokerOptions,
    root: str,
    rollout_id: int,
    force: bool,
    key: Callable[[], SigningKey],
    clock: Clock = system_clock,
) -> tuple[Rollout, list[tuple[str, int]]]:
    """Publish a rollout's document to the rest of its group: refused while a pilot box
    refused it or has not applied it, unless `force`. Returns the versions sent (none when
    every store has it already). `key` is asked only once there is something to sign."""
    rollout = load_rollout(db, rollout_id)
    rows = status_rows(db, rollout)
    rest = [r["store"] for r in rows if r["stage"] == "rest" and r["version"] is None]
    if not rest:
        return rollout, []
    waiting = blocking(rows)
    if waiting and not force:
        raise UsageError(
            f"the pilot is not done: {', '.join(waiting)}",
            where=f"cloud rollout continue {rollout.id}",
            fix=f"see `cloud rollout status {rollout.id}`; fix the document and publish "
            "again, or pass --force to continue anyway",
        )
    messages = publish_document(
        db=db,
        broker=broker,
        root=root,
        kind=rollout.kind,
        document=rollout.document,
        stores=rest,
        box=None,
        key=key(),
        clock=clock,
    )
    versions = [(s, int(m["version"])) for s, m in zip(rest, messages, strict=True)]
    for store, version in versions:
        mark_published(db, rollout.id, store, version, iso(clock()))
    return rollout, versions
