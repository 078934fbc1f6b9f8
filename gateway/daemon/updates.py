"""The daemon's side of software updates: take head office's order, grant the update
lock between sales, journal the updater's steps, and say where the last update stands.

The work itself (download, verify, install, switch, restart, check, roll back) is the
updater's (`gateway update apply`, root, `storegate-update.service`), because this
service may neither write `/opt/storegate` nor restart itself. The daemon:

- applies an `update` document by checking it (`[update] enabled`, the manifest's
  signature, a version newer than its own and not needing a newer start) and leaving
  it as `<data_dir>/updates/order.json` for the updater (the path unit starts it); a
  refused one is journalled (`box_action` `update_refused`) and reported as
  `document.refused`;
- answers `update_lock` on its main loop: while a sale is in progress or being paid, or
  a wallet payment is unresolved, it refuses; otherwise it answers yes and stops at once,
  so nothing can start between its look and its stop;
- journals each step of the updater's state file once (`box_action` `update`, record
  id `update-ID-N`), when the updater asks (`update_record`) and whenever it starts, so
  the steps taken while it was stopped are journalled by the version that comes up.

Both socket requests are taken from root (the updater) and the service's own user only,
by the kernel's peer credentials: a technician of the socket's group cannot stop the box
this way.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway import __version__
from gateway.daemon.box_actions import BOX_ACTION_KIND, box_action
from gateway.lane.state import State as LaneState
from gateway.sync.errors import DocumentRefused
from gateway.sync.payloads import UpdateHealth
from gateway.sync.signing import TrustedKeys
from gateway.updates.agent import STATE, read_json, updates_dir, write_order
from gateway.updates.bundle import UpdateRefused, check_applicable, check_update_document

if TYPE_CHECKING:
    from gateway.daemon.box import Box

log = logging.getLogger("storegate.daemon")


class UpdateDesk:
    """One per daemon; every method runs on the main loop."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self.journalled: set[str] = set()  # record ids of steps already journalled

    @property
    def folder(self) -> Path:
        return updates_dir(Path(self.box.settings.paths.data_dir))

    def offered(self, version: int, document: dict[str, Any]) -> None:
        """An `update` document: check it, journal a refusal, leave the order."""
        source = f"update document version {version}"
        if not self.box.settings.update.enabled:
            raise DocumentRefused(
                "software updates are turned off on this box ([update] enabled = false)",
                where=source,
                fix="set [update] enabled = true on the box to take updates",
            )
        keys = TrustedKeys(self.box.settings.sync.trusted_keys)
        try:
            _, manifest = check_update_document(document, keys, source)
            check_applicable(manifest, __version__, source)
        except UpdateRefused as exc:
            body = box_action(
                "update_refused",
                None,
                None,
                "head_office",
                document_version=version,
                version=str(document.get("software")),
                running=__version__,
                reason=exc.reason,
                error=exc.describe(),
            )
            # Once per document version: its retained copy comes again on every reconnect.
            self.box.journal.append(BOX_ACTION_KIND, body, record_id=f"update-refused-{version}")
            raise DocumentRefused(exc.what, where=exc.where, fix=exc.fix) from exc
        path = write_order(Path(self.box.settings.paths.data_dir), version, document)
        log.info(
            "update to %s ordered (%s); the updater takes it from here", manifest.version, path
        )

    def busy(self) -> str | None:
        """Why the box may not stop now (None: between sales, no payment open)."""
        lane = self.box.lane
        if lane.state in (LaneState.IN_SALE, LaneState.TENDERING) or lane.sale is not None:
            return "a sale is open"
        if self.box.wallets.view() is not None:
            return "a payment is open"
        return None

    def lock(self, version: str | None, peer_uid: int | None) -> dict[str, Any]:
        """`update_lock`: stop now between sales, or say why not."""
        refused = _not_the_updater(peer_uid, "update_lock")
        if refused is not None:
            return refused
        why = self.busy()
        if why is not None:
            return {"ok": False, "busy": why, "error": f"update lock refused: {why}"}
        log.info("update lock granted for version %s: stopping between sales", version)
        self.box.stopping = True  # the loop ends after this message: nothing slips in
        return {"ok": True, "stopping": True}

    def record_steps(
        self, peer_uid: int | None = None, *, check_peer: bool = True
    ) -> dict[str, Any]:
        """`update_record` (and at start): journal every step not journalled yet."""
        if check_peer:
            refused = _not_the_updater(peer_uid, "update_record")
            if refused is not None:
                return refused
        state = read_json(self.folder / STATE)
        if state is None:
            return {"ok": True, "journalled": 0}
        count = 0
        for step in state.get("steps", []):
            record_id = f"update-{state['id']}-{step['n']}"
            if record_id in self.journalled:
                continue
            body = box_action(
                "update",
                None,
                None,
                "head_office",
                update=state["id"],
                version=state["version"],
                from_version=state["from_version"],
                step=step["n"],
                at=step["at"],
                input=step["input"],
                effect=step["effect"],
                state=step["state"],
                detail=step["detail"],
            )
            self.box.journal.append(BOX_ACTION_KIND, body, record_id=record_id)
            self.journalled.add(record_id)
            count += 1
        return {"ok": True, "journalled": count}

    def health(self) -> UpdateHealth | None:
        """The last update for status and telemetry (read from the updater's file)."""
        state = read_json(self.folder / STATE)
        if not state or not state.get("steps"):
            return None
        try:
            return UpdateHealth(
                id=str(state["id"]),
                state=str(state["state"]),
                version=str(state["version"]),
                from_version=str(state["from_version"]),
                at=state["steps"][-1].get("at"),
                error=(str(state["error"])[:2000] if state.get("error") else None),
            )
        except (KeyError, ValueError):
            return None


def _not_the_updater(peer_uid: int | None, command: str) -> dict[str, Any] | None:
    if peer_uid is not None and peer_uid in (0, os.getuid()):
        return None
    return {
        "ok": False,
        "error": f"{command}: only the updater (root) may ask this",
        "exit_code": 1,
    }
