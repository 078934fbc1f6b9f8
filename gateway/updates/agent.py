"""The updater: drives one update through the state machine with the adapters.

Runs as `gateway update apply` under `storegate-update.service` (root), started when the
daemon leaves an order (`<data_dir>/updates/order.json`, from head office's signed
`update` document). The daemon is trusted with the order only as far as it deserves: the
updater checks the manifest's signature again with the trusted keys of the settings
file, and every file against it, so a daemon (or anyone) who can write the data folder
cannot make root install anything head office did not sign.

Every step (the input, the effect, the state reached, what was wrong) is appended to
`<data_dir>/updates/state.json`, and the daemon journals each step once as a
`box_action` record (`action: "update"`, via `head_office`; record id
`update-ID-N`, so a step is never journalled twice) when asked through its control
socket and whenever it starts; the steps taken while it is stopped (the switch, the
restart) are journalled by the version that comes up. Owns the state file; must not
write the box's database.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import StoregateError
from gateway.sync.signing import TrustedKeys
from gateway.updates.bundle import (
    UpdateDocument,
    UpdateManifest,
    UpdateRefused,
    check_applicable,
    check_files,
    check_update_document,
)
from gateway.updates.install import InstallFailed
from gateway.updates.machine import TERMINAL, Effect, Input, State, step

log = logging.getLogger("storegate.update")
ORDER = "order.json"
PROBLEMS = frozenset(
    {
        Input.DOWNLOAD_FAILED,
        Input.REFUSED,
        Input.INSTALL_FAILED,
        Input.SWITCH_FAILED,
        Input.NOT_READY,
        Input.OLD_NOT_READY,
    }
)
STATE = "state.json"


def updates_dir(data_dir: Path) -> Path:
    return data_dir / "updates"


def write_order(data_dir: Path, document_version: int, document: dict[str, Any]) -> Path:
    """Leave head office's `update` document for the updater (the daemon does this; the
    updater checks its signature again, so the file is trusted no further)."""
    folder = updates_dir(data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / ORDER
    write_json(path, {"document_version": document_version, **document}, mode=0o600)
    return path


@dataclass(frozen=True)
class Adapters:
    """What the agent does to the world, one callable per effect (gateway.updates.install
    and gateway.updates.daemon_link in production)."""

    fetch: Callable[[str, dict[str, Any], Path], Path]
    build: Callable[[Path, Path, str], Path]
    take_lock: Callable[[str], bool]  # True: the daemon stopped between sales
    switch: Callable[[Path, Path], None]
    read_link: Callable[[Path], Path | None]
    restart: Callable[[], None]
    ready: Callable[[str], str | None]  # None: that version answers; else what was wrong
    journal: Callable[[], None]  # ask the daemon to journal the steps so far
    sleep: Callable[[float], None]
    now: Callable[[], str]


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any], mode: int = 0o644) -> None:
    """Replace `path` atomically (the daemon reads it while the updater writes it)."""
    temporary = path.with_name(f".{path.name}.new")
    with temporary.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, mode)
    os.replace(temporary, path)


class UpdateAgent:
    """One update, from the order to an end state, each step recorded."""

    def __init__(
        self,
        *,
        data_dir: Path,
        environments: Path,
        link: Path,
        keys: TrustedKeys,
        running: str,
        adapters: Adapters,
        lock_retry_s: float,
    ) -> None:
        self.folder = updates_dir(data_dir)
        self.environments = environments
        self.link = link
        self.keys = keys
        self.running = running
        self.do = adapters
        self.lock_retry_s = lock_retry_s
        self.record: dict[str, Any] = {}
        self.order: dict[str, Any] = {}  # read once: a newer order waits for the next run

    # -- the state file ---------------------------------------------------------------

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.folder / STATE, self.record)

    def _note(self, given: Input | None, effect: Effect | None, detail: str = "") -> None:
        self.record["steps"].append(
            {
                "n": len(self.record["steps"]) + 1,
                "at": self.do.now(),
                "input": given.value if given else None,
                "effect": effect.value if effect else None,
                "state": self.record["state"],
                "detail": detail,
            }
        )
        self._save()
        try:
            self.do.journal()
        except StoregateError as exc:  # the daemon is stopped: the next one journals it
            log.info("steps not journalled yet (%s)", exc.what)

    def _feed(self, given: Input, detail: str = "") -> Effect:
        move = step(State(self.record["state"]), given)
        self.record["state"] = move.next.value
        if given in PROBLEMS:
            self.record["error"] = detail  # what went wrong, kept through the rollback
        self._note(given, move.effect, detail)
        log.info("update %s: %s -> %s (%s)", self.record["id"], given, move.next, detail)
        return move.effect

    # -- the run ----------------------------------------------------------------------

    def apply(self) -> State:
        """Carry out the order in the updates folder; the end state (or the state an
        earlier run of this order ended in)."""
        order = read_json(self.folder / ORDER)
        if order is None:
            raise InstallFailed(
                "no update order",
                where=str(self.folder / ORDER),
                fix="the daemon writes one when head office publishes an update",
            )
        self.order = order
        order_id = f"{order.get('software')}-{order.get('document_version')}"
        earlier = read_json(self.folder / STATE)
        if earlier and earlier.get("id") == order_id:
            self.record = earlier
            if State(earlier["state"]) in TERMINAL:
                return State(earlier["state"])
            return self._resume()
        self.record = {
            "id": order_id,
            "version": str(order.get("software")),
            "from_version": self.running,
            "state": State.IDLE.value,
            "error": None,
            "steps": [],
        }
        self._note(None, None, f"update to {order.get('software')} offered")
        return self._run(self._fetch(order))

    def _resume(self) -> State:
        """An earlier run stopped midway (power cut, killed): before the switch it starts
        again from the download; from the switch on the new version was never confirmed,
        so the old one is put back."""
        state = State(self.record["state"])
        if state in (State.SWITCHING, State.CHECKING):
            given = Input.SWITCH_FAILED if state is State.SWITCHING else Input.NOT_READY
            return self._run(self._feed(given, "interrupted before the new version was checked"))
        if state is State.ROLLING_BACK:
            return self._run(Effect.SWITCH_BACK)
        self.record["state"] = State.IDLE.value
        self._note(None, None, f"interrupted in state {state.value}: starting again")
        return self._run(self._fetch(self.order))

    def _check_order(self, order: dict[str, Any]) -> tuple[UpdateDocument, UpdateManifest]:
        return check_update_document(_document(order), self.keys, str(self.folder / ORDER))

    def _bundle(self) -> Path:
        return self.folder / "bundles" / str(self.record["version"])

    def _environment(self) -> Path:
        return self.environments / str(self.record["version"])

    def _fetch(self, order: dict[str, Any]) -> Effect:
        try:
            document, _ = self._check_order(order)
            self.do.fetch(document.url, document.manifest, self._bundle())
        except UpdateRefused as exc:
            if exc.reason != "download":  # the order itself is forged or unsuitable
                return self._feed(Input.REFUSED, f"{exc.reason}: {exc.describe()}")
            return self._feed(Input.DOWNLOAD_FAILED, exc.describe())
        return self._feed(Input.DOWNLOADED, f"bundle in {self._bundle()}")

    def _run(self, effect: Effect) -> State:
        """Perform effects until one leads nowhere (an end state's clean-up did)."""
        while effect is not Effect.NOTHING:
            effect = self._do(effect)
        return State(self.record["state"])

    def _do(self, effect: Effect) -> Effect:
        """Perform `effect`; the effect the resulting input leads to."""
        if effect is Effect.VERIFY:
            return self._verify()
        if effect is Effect.INSTALL:
            self._feed(Input.INSTALL_STARTED, f"building {self._environment()}")
            try:
                self.do.build(self._bundle(), self._environment(), self.record["version"])
            except (InstallFailed, OSError) as exc:
                return self._feed(Input.INSTALL_FAILED, _describe(exc))
            return self._feed(Input.INSTALLED, f"environment {self._environment()}")
        if effect in (Effect.TAKE_LOCK, Effect.WAIT_FOR_LOCK):
            if effect is Effect.WAIT_FOR_LOCK:
                self.do.sleep(self.lock_retry_s)
            try:
                taken = self.do.take_lock(self.record["version"])
            except InstallFailed as exc:
                return self._feed(Input.LOCK_BUSY, exc.describe())
            if not taken:
                return self._feed(Input.LOCK_BUSY, "a sale or a payment is open")
            return self._feed(Input.LOCK_TAKEN, "the daemon stopped between sales")
        if effect is Effect.SWITCH:
            old = self.do.read_link(self.link)
            self.record["old_target"] = str(old) if old else None
            try:
                self.do.switch(self.link, self._environment())
            except (InstallFailed, OSError) as exc:
                return self._feed(Input.SWITCH_FAILED, _describe(exc))
            return self._feed(Input.SWITCHED, f"{self.link} -> {self._environment()}")
        if effect is Effect.START_AND_CHECK:
            problem = self._restart_and_check(self.record["version"])
            if problem is None:
                return self._feed(Input.READY, f"version {self.record['version']} is ready")
            return self._feed(Input.NOT_READY, problem)
        if effect is Effect.SWITCH_BACK:
            return self._switch_back()
        if effect is Effect.DISCARD:
            shutil.rmtree(self._bundle(), ignore_errors=True)
            if self.do.read_link(self.link) != self._environment():
                shutil.rmtree(self._environment(), ignore_errors=True)
            return Effect.NOTHING
        if effect is Effect.ALERT:
            log.error("update %s: %s", self.record["id"], self.record.get("error"))
            return Effect.NOTHING
        if effect is Effect.KEEP:
            shutil.rmtree(self._bundle(), ignore_errors=True)
            return Effect.NOTHING
        return Effect.NOTHING

    def _verify(self) -> Effect:
        try:
            _, manifest = self._check_order(self.order)
            check_files(self._bundle(), manifest)
            check_applicable(manifest, self.running, str(self._bundle()))
        except UpdateRefused as exc:
            return self._feed(Input.REFUSED, f"{exc.reason}: {exc.describe()}")
        return self._feed(Input.VERIFIED, f"signed by {manifest.key_id}, every hash matches")

    def _restart_and_check(self, version: str) -> str | None:
        try:
            self.do.restart()
        except (InstallFailed, OSError) as exc:
            return _describe(exc)
        return self.do.ready(version)

    def _switch_back(self) -> Effect:
        old = self.record.get("old_target")
        try:
            if old and self.do.read_link(self.link) != Path(old):
                self.do.switch(self.link, Path(old))
        except (InstallFailed, OSError) as exc:
            return self._feed(Input.OLD_NOT_READY, f"cannot switch back: {_describe(exc)}")
        problem = self._restart_and_check(self.record["from_version"])
        if problem is None:
            return self._feed(
                Input.OLD_READY, f"version {self.record['from_version']} runs again ({old})"
            )
        return self._feed(Input.OLD_NOT_READY, f"the old version is not ready either: {problem}")


def _document(order: dict[str, Any]) -> dict[str, Any]:
    """The signed document's body, without what the daemon added to the order."""
    return {k: v for k, v in order.items() if k != "document_version"}


def _describe(exc: Exception) -> str:
    return exc.describe() if isinstance(exc, StoregateError) else str(exc)
