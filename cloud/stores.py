"""Head office's stores and store groups, what was last published to each, and staged
rollouts of a document to a group.

Owns the `store`, `store_group`, `published_document`, `rollout` and `rollout_store`
tables (migration 5). A store is known when head office registered it (`cloud stores
add`) or one of its boxes has spoken to ingest (`box_state`); publishing names known stores
or a group only, so a mistyped store is refused instead of "published" to nobody. The
differences a document would make (`preview`) are computed from the document last
published to that store, plain code over two dicts. Whether a box applied or refused a
version is what the box said (`document.applied` / `document.refused` events in
`box_event`; for a software update, the update state in its telemetry).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from cloud.db import Database
from gateway.errors import UsageError
from gateway.settings import IDENTIFIER

Stage = Literal["pilot", "rest"]
BoxDocumentState = Literal["applied", "refused", "waiting"]


# -- stores and groups -----------------------------------------------------------------


def known_stores(db: Database) -> set[str]:
    """Registered stores and every store one of whose boxes has spoken to ingest."""
    rows = db.query("SELECT id FROM store UNION SELECT DISTINCT store FROM box_state")
    return {str(row[0]) for row in rows}


def add_stores(
    db: Database, stores: list[str], name: str | None, now: str, where: str = "cloud stores add"
) -> None:
    """Register stores (again: keeps the first registration, updates a given name);
    `where` names the command or page asking, for its errors."""
    for store in stores:
        _check_store_id(store, where)
    with db.transaction():
        for store in stores:
            db.execute(
                "INSERT INTO store (id, name, added_at) VALUES (?, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET name = coalesce(excluded.name, store.name)",
                (store, name, now),
            )


STORE_ID = re.compile(IDENTIFIER)  # the box's own rule for its [store] id


def _check_store_id(store: str, where: str = "cloud stores add") -> None:
    if not STORE_ID.match(store):
        raise UsageError(
            f"{store!r} cannot be a store id (it is one MQTT topic level)",
            where=where,
            fix="use letters, digits, '-' and '_' (at most 64), as in the box's [store] id",
        )


def require_known(db: Database, stores: list[str], where: str) -> None:
    """Refuse stores head office does not know, naming them all."""
    unknown = sorted(set(stores) - known_stores(db))
    if unknown:
        raise UsageError(
            f"unknown store{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            "(no box of it has spoken to head office and nobody registered it)",
            where=where,
            fix="check the spelling (`cloud stores list`), or register a new store with "
            "`cloud stores add STORE`; nothing was published",
        )


def set_group(
    db: Database, group: str, stores: list[str], *, remove: bool = False, where: str | None = None
) -> None:
    """Put known stores into a group (a region, a format), or take them out of it;
    `where` names the page asking (default: the CLI's command), for its errors."""
    where = where or f"cloud groups {'remove' if remove else 'add'} {group}"
    _check_store_id(group, where)
    if not remove:
        require_known(db, stores, where)
    with db.transaction():
        for store in stores:
            if remove:
                db.execute("DELETE FROM store_group WHERE name = ? AND store = ?", (group, store))
            else:
                db.execute(
                    "INSERT INTO store_group (name, store) VALUES (?, ?) "
                    "ON CONFLICT (name, store) DO NOTHING",
                    (group, store),
                )


def group_stores(db: Database, group: str) -> list[str]:
    """A group's stores; an unknown or empty group is refused."""
    rows = db.query("SELECT store FROM store_group WHERE name = ? ORDER BY store", (group,))
    if not rows:
        raise UsageError(
            f"unknown store group {group!r}",
            where="--group",
            fix="see `cloud groups list`, or make it with `cloud groups add GROUP STORE...`; "
            "nothing was published",
        )
    return [str(row[0]) for row in rows]


def groups(db: Database) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, store in db.query("SELECT name, store FROM store_group ORDER BY name, store"):
        found.setdefault(str(name), []).append(str(store))
    return found


def store_rows(db: Database) -> list[tuple[str, str, int, str]]:
    """(store, name, boxes seen, groups) for every known store."""
    names = dict(db.query("SELECT id, coalesce(name, '') FROM store"))
    boxes = dict(db.query("SELECT store, count(*) FROM box_state GROUP BY store"))
    member_of: dict[str, list[str]] = {}
    for group, stores in groups(db).items():
        for store in stores:
            member_of.setdefault(store, []).append(group)
    return [
        (s, str(names.get(s, "")), int(boxes.get(s, 0)), ", ".join(member_of.get(s, [])))
        for s in sorted(known_stores(db))
    ]


# -- what was published, and what a new document changes ------------------------------


def record_published(
    db: Database, kind: str, store: str, box: str | None, version: int, body: dict[str, Any]
) -> None:
    with db.transaction():
        db.execute(
            "INSERT INTO published_document (kind, store, box, version, body) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, store, box) DO UPDATE SET "
            "version = excluded.version, body = excluded.body",
            (kind, store, box or "", version, json.dumps(body, ensure_ascii=False)),
        )


def last_published(
    db: Database, kind: str, store: str, box: str | None
) -> tuple[int, dict[str, Any]] | None:
    row = db.one(
        "SELECT version, body FROM published_document WHERE kind = ? AND store = ? AND box = ?",
        (kind, store, box or ""),
    )
    if row is None:
        return None
    body: dict[str, Any] = json.loads(row[1])
    return int(row[0]), body


@dataclass
class Preview:
    """What publishing a document to one store would change, as lines a person reads."""

    store: str
    since: int | None  # the version in force there (None: nothing published yet)
    lines: list[str] = field(default_factory=list)


def preview(kind: str, store: str, old: dict[str, Any] | None, new: dict[str, Any]) -> Preview:
    since = old.get("version") if old else None
    shown = Preview(store, since if isinstance(since, int) else None)
    if old is None:
        shown.lines.append(f"first {kind} document for {store}: everything is new")
        return shown
    if kind == "catalog":
        shown.lines += _catalog_changes(old, new)
    elif kind == "members":
        shown.lines += _members_changes(old, new)
    elif kind == "staff":
        shown.lines += _staff_changes(old, new)
    elif kind == "update":
        if old.get("software") != new.get("software"):
            shown.lines.append(f"software {old.get('software')} -> {new.get('software')}")
    else:
        shown.lines += _config_changes(old, new)
    if not shown.lines:
        shown.lines.append("no change but the version")
    return shown


def _staff_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Who a staff document adds, removes and changes (never their PIN hash)."""
    before = {str(p["id"]): p for p in old.get("staff", [])}
    after = {str(p["id"]): p for p in new.get("staff", [])}
    lines = [
        f"added {i} {after[i].get('name', '')} ({after[i].get('role')})"
        for i in sorted(after.keys() - before.keys())
    ]
    lines += [
        f"removed {i} {before[i].get('name', '')}" for i in sorted(before.keys() - after.keys())
    ]
    for i in sorted(before.keys() & after.keys()):
        fields = sorted(k for k in {*before[i], *after[i]} if before[i].get(k) != after[i].get(k))
        if fields:
            shown = ["new PIN" if k == "pin_hash" else k for k in fields if k != "pin_salt"]
            lines.append(f"changed {i} {after[i].get('name', '')}: {', '.join(shown)}")
    return lines


def _catalog_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before = {str(p["sku"]): p for p in old.get("products", [])}
    after = {str(p["sku"]): p for p in new.get("products", [])}
    lines = [
        f"added {sku} {after[sku].get('name', '')} at {after[sku].get('price')}"
        for sku in sorted(after.keys() - before.keys())
    ]
    lines += [
        f"removed {sku} {before[sku].get('name', '')}"
        for sku in sorted(before.keys() - after.keys())
    ]
    for sku in sorted(before.keys() & after.keys()):
        was, now = Decimal(str(before[sku]["price"])), Decimal(str(after[sku]["price"]))
        if now != was:
            direction = "up" if now > was else "down"
            lines.append(f"price {direction} {sku} {after[sku].get('name', '')}: {was} -> {now}")
    promotions = (
        {str(p.get("id")) for p in old.get("promotions", [])},
        {str(p.get("id")) for p in new.get("promotions", [])},
    )
    lines += [f"promotion added {p}" for p in sorted(promotions[1] - promotions[0])]
    lines += [f"promotion removed {p}" for p in sorted(promotions[0] - promotions[1])]
    lines += _recommendation_changes(old.get("recommendations", {}), new.get("recommendations", {}))
    return lines


def _recommendation_changes(old: dict[str, list[str]], new: dict[str, list[str]]) -> list[str]:
    """One line per product whose "often bought with" (`cloud recommend`) changes."""
    lines = []
    for sku in sorted(old.keys() | new.keys()):
        was, now = old.get(sku, []), new.get(sku, [])
        if was != now:
            shown = ", ".join(now) if now else "none"
            lines.append(f"recommendations {sku}: {', '.join(was) or 'none'} -> {shown}")
    return lines


def _members_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before = {str(m["id"]) for m in old.get("members", [])}
    after = {str(m["id"]) for m in new.get("members", [])}
    lines = []
    if after - before:
        lines.append(
            f"members added: {len(after - before)} ({', '.join(sorted(after - before)[:5])})"
        )
    if before - after:
        lines.append(
            f"members removed: {len(before - after)} ({', '.join(sorted(before - after)[:5])})"
        )
    return lines


def _config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    flat_old, flat_new = _flatten(old), _flatten(new)
    lines = []
    for key in sorted(flat_old.keys() | flat_new.keys()):
        if key == "version" or flat_old.get(key) == flat_new.get(key):
            continue
        lines.append(f"{key}: {flat_old.get(key, '(unset)')} -> {flat_new.get(key, '(unset)')}")
    return lines


def _flatten(document: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = json.dumps(value, ensure_ascii=False, default=str)
    return flat


# -- staged rollouts -------------------------------------------------------------------


def start_rollout(
    db: Database,
    kind: str,
    group: str,
    document: dict[str, Any],
    pilot: list[str],
    rest: list[str],
    now: str,
) -> int:
    with db.transaction():
        db.execute(
            "INSERT INTO rollout (kind, target, document, created_at) VALUES (?, ?, ?, ?)",
            (kind, group, json.dumps(document, ensure_ascii=False), now),
        )
        row = db.one("SELECT max(id) FROM rollout")
        assert row is not None
        rollout = int(row[0])
        for stage, stores in (("pilot", pilot), ("rest", rest)):
            for store in stores:
                db.execute(
                    "INSERT INTO rollout_store (rollout, store, stage) VALUES (?, ?, ?)",
                    (rollout, store, stage),
                )
    return rollout


def mark_published(db: Database, rollout: int, store: str, version: int, now: str) -> None:
    with db.transaction():
        db.execute(
            "UPDATE rollout_store SET version = ?, published_at = ? WHERE rollout = ? "
            "AND store = ?",
            (version, now, rollout, store),
        )


@dataclass(frozen=True)
class Rollout:
    id: int
    kind: str
    group: str
    document: dict[str, Any]
    stores: list[tuple[str, Stage, int | None]]  # store, stage, version published (None: not yet)


def load_rollout(db: Database, rollout: int) -> Rollout:
    row = db.one("SELECT kind, target, document FROM rollout WHERE id = ?", (rollout,))
    if row is None:
        raise UsageError(
            f"no rollout {rollout}", where="cloud rollout", fix="see `cloud rollout list`"
        )
    stores = [
        (str(store), stage, None if version is None else int(version))
        for store, stage, version in db.query(
            "SELECT store, stage, version FROM rollout_store WHERE rollout = ? "
            "ORDER BY stage, store",
            (rollout,),
        )
    ]
    return Rollout(rollout, str(row[0]), str(row[1]), json.loads(row[2]), stores)


def rollouts(db: Database) -> list[tuple[int, str, str, str]]:
    return [
        (int(r[0]), str(r[1]), str(r[2]), str(r[3]))
        for r in db.query("SELECT id, kind, target, created_at FROM rollout ORDER BY id")
    ]


def box_states(
    db: Database, kind: str, store: str, version: int
) -> list[tuple[str, BoxDocumentState, str]]:
    """Each box of `store`: did it apply `kind` version `version`, refuse it, or not say yet
    (with the box's reason when it refused)."""
    boxes = [
        str(r[0])
        for r in db.query("SELECT box FROM box_state WHERE store = ? ORDER BY box", (store,))
    ]
    states: list[tuple[str, BoxDocumentState, str]] = []
    for box in boxes:
        said: tuple[BoxDocumentState, str] = ("waiting", "")
        for event_kind, body_text in db.query(
            "SELECT kind, body FROM box_event WHERE store = ? AND box = ? AND kind IN "
            "('document.applied', 'document.refused') ORDER BY time",
            (store, box),
        ):
            body = json.loads(body_text)
            if body.get("kind") != kind:
                continue
            if event_kind == "document.applied" and int(body.get("version", -1)) >= version:
                said = ("applied", "")
            elif event_kind == "document.refused" and body.get("version") == version:
                said = ("refused", str(body.get("error") or body.get("reason", "")))
        if kind == "update" and said[0] != "refused":
            said = _update_state(db, store, box, version)
        states.append((box, said[0], said[1]))
    return states


def status_rows(db: Database, rollout: Rollout) -> list[dict[str, Any]]:
    """Each store of a rollout with its stage, the version published to it (None: not
    yet) and each of its boxes' state: what `cloud rollout status --json` prints."""
    rows = []
    for store, stage, version in rollout.stores:
        boxes = [] if version is None else box_states(db, rollout.kind, store, version)
        rows.append(
            {
                "store": store,
                "stage": stage,
                "version": version,
                "boxes": [{"box": b, "state": s, "why": w} for b, s, w in boxes],
            }
        )
    return rows


def _update_state(db: Database, store: str, box: str, version: int) -> tuple[BoxDocumentState, str]:
    """An update is `applied` only once the box runs the new version and it answered its
    health check (`done` in the box's telemetry), never when the box merely took the
    order; a rollback or a failure is `refused` with what went wrong, so `cloud rollout
    continue` does not spread a version the pilot stores rolled back."""
    published = last_published(db, "update", store, None)
    software = str(published[1].get("software")) if published else ""
    row = db.one("SELECT telemetry FROM box_state WHERE store = ? AND box = ?", (store, box))
    update = (json.loads(row[0]) if row and row[0] else {}).get("update") or {}
    if update.get("id") != f"{software}-{version}":
        return "waiting", ""
    state = str(update.get("state"))
    if state == "done":
        return "applied", ""
    if state in ("rolled_back", "failed"):
        return "refused", f"{state}: {update.get('error') or ''}".rstrip(": ")
    return "waiting", state
