"""Central staff end to end (issue 19, item 5; docs/lane.md "Central staff"): head office
adds a cashier (`cloud staff add`, the PIN on stdin) and publishes to a group of two
stores (`cloud staff publish --group`) -> a real Mosquitto -> two `gateway run` boxes,
where that cashier signs on through the control socket; a staff document signed by a key
the boxes do not trust is refused; a person the box added itself survives head office's
next document; head office's audit log names the operator of every change."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemon_testkit import ADMIN, CLOUD, GATEWAY, Daemon, add_admin
from ops_testkit import FAST_SYNC, ROOT, journal_bodies, publish, synced_box_config, wait_until

from gateway.harness.brokers import Mosquitto

DORA = ("c-900", "640912")  # head office's cashier
EVE = ("c-901", "573018")
LOCAL = ("105", "739152")  # added on box 1 itself


@dataclass
class Office:
    url: str
    path: Path
    key: Path
    broker: Mosquitto
    boxes: dict[str, Daemon]

    def cloud(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(CLOUD), *args, "--db", self.url],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def publish(self, *target: str) -> subprocess.CompletedProcess[str]:
        broker = ("--port", str(self.broker.port), "--key", str(self.key), "--by", "alice")
        return self.cloud("staff", "publish", *target, *broker)

    def events(self, kind: str) -> list[dict[str, object]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as c:
            rows = c.execute("SELECT body FROM box_event WHERE kind = ?", (kind,)).fetchall()
        return [json.loads(b) for (b,) in rows]

    def audit(self) -> list[tuple[str, str, dict[str, object]]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as c:
            rows = c.execute(
                "SELECT account, action, detail FROM web_audit WHERE action LIKE 'staff.%' "
                "ORDER BY id"
            ).fetchall()
        return [(str(a), str(b), json.loads(d)) for a, b, d in rows]


def signs_on(box: Daemon, staff_id: str, pin: str) -> bool:
    """A sign-on through the control socket (closed again at once when it worked)."""
    answer = box.key("sign_on", staff=staff_id, pin=pin, float="0.00")
    if not answer["ok"]:
        return False
    closed = box.key("close_shift", counted="0.00")
    assert closed["ok"], closed
    return True


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    """Head office (its database, a signing key, `cloud ingest`), a broker, and two boxes:
    store-1/box-1 (with an admin of its own) and store-2/box-1, both in group `north`."""
    broker = Mosquitto(tmp_path / "broker").start()
    path = tmp_path / "office.db"
    url = f"sqlite:///{path}"
    ingest: subprocess.Popen[bytes] | None = None
    boxes: dict[str, Daemon] = {}

    def cloud(*args: str) -> str:
        done = subprocess.run(
            [str(CLOUD), *args], capture_output=True, text=True, check=False, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        cloud("db", "upgrade", "--db", url)
        for store in ("store-1", "store-2"):
            cloud("stores", "add", store, "--db", url)
        cloud("groups", "add", "north", "store-1", "store-2", "--db", url)
        keys = cloud("keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-1")
        trusted = keys[keys.index("[[sync.trusted_keys]]") :]
        ingest = subprocess.Popen(
            [str(CLOUD), "ingest", "--db", url, "--port", str(broker.port)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "ingest.log").open("wb"),
        )
        for store in ("store-1", "store-2"):
            directory = tmp_path / store
            directory.mkdir()
            config = synced_box_config(directory, broker, f"\n{trusted}")
            text = config.read_text().replace('id = "store-1"', f'id = "{store}"', 1)
            config.write_text(text)
            if store == "store-1":
                add_admin(directory / "storegate.db")
            boxes[store] = Daemon(directory, config, FAST_SYNC)
        yield Office(url, path, tmp_path / "keys" / "ho-1.pem", broker, boxes)
    finally:
        for daemon in boxes.values():
            assert daemon.stop() == 0, daemon.output()[-3000:]
        if ingest is not None:
            ingest.terminate()
            ingest.wait(20)
        broker.kill()


def test_a_central_cashier_works_in_every_store_of_the_group(office: Office) -> None:
    one, two = office.boxes["store-1"], office.boxes["store-2"]
    assert not signs_on(one, *DORA)

    # The PIN is given on stdin, never on the command line; head office keeps its hash.
    add = ("staff", "add", DORA[0], "--name", "Dora", "--role", "cashier", "--group", "north")
    done = office.cloud(*add, "--pin-stdin", "--by", "alice", stdin="123456\n")
    assert done.returncode == 2 and "too easy to guess" in done.stderr, done.stderr
    done = office.cloud(*add, "--pin-stdin", "--by", "alice", stdin=f"{DORA[1]}\n")
    assert done.returncode == 0, done.stderr
    with contextlib.closing(sqlite3.connect(office.path)) as c:
        assert DORA[1] not in json.dumps(c.execute("SELECT * FROM staff_person").fetchall())
    done = office.publish("--group", "north")
    assert done.returncode == 0, done.stderr
    assert "published staff version 1 for store-1: 1 person(s)" in done.stdout, done.stdout
    assert "published staff version 1 for store-2: 1 person(s)" in done.stdout, done.stdout

    wait_until(lambda: signs_on(one, *DORA), 30, "Dora signs on at store-1")
    wait_until(lambda: signs_on(two, *DORA), 30, "Dora signs on at store-2")
    assert not signs_on(two, DORA[0], "640913")
    [applied] = [
        b for b in journal_bodies(one.directory / "storegate.db", "box_action")
        if b["action"] == "staff_document"
    ]  # fmt: skip
    assert applied["added"] == [DORA[0]] and applied["via"] == "head_office", applied

    # A document signed by a key the boxes do not trust is refused; nothing changes.
    from cloud.publish import generate_key, signed_document
    from gateway.lane.pins import hash_pin
    from gateway.lane.staff_document import encode_bytes

    rogue, _ = generate_key(one.directory.parent / "rogue", "ho-1")  # the trusted key's id
    salt = bytes(16)
    forged = {
        "schema": "storegate.staff/1",
        "version": 99,
        "staff": [
            {
                "id": "x-666",
                "name": "Mallory",
                "role": "supervisor",
                "pin_salt": encode_bytes(salt),
                "pin_hash": encode_bytes(hash_pin("583920", salt)),
            }
        ],
    }
    message = signed_document("staff", "store-1", None, 99, forged, rogue, "2026-12-03T09:00:00Z")
    publish(office.broker.port, f"{ROOT}/store-1/staff", message, retain=True)
    unsigned = {k: v for k, v in message.items() if k != "signature"}
    publish(
        office.broker.port, f"{ROOT}/store-2/staff", {**unsigned, "store": "store-2"}, retain=True
    )

    def refused() -> dict[str, str]:
        events = office.events("document.refused")
        return {str(e["topic"]): str(e["reason"]) for e in events if e.get("kind") == "staff"}

    wait_until(lambda: len(refused()) == 2, 30, "both boxes refuse the forged documents")
    assert refused() == {
        f"{ROOT}/store-1/staff": "bad_signature",  # signed, by a key of the trusted id
        f"{ROOT}/store-2/staff": "schema",  # no signature at all
    }, refused()
    assert not signs_on(one, "x-666", "583920") and not signs_on(two, "x-666", "583920")
    assert signs_on(one, *DORA) and signs_on(two, *DORA)

    # The box adds someone itself (its admin approves); head office's next document
    # (Dora removed, Eve added) replaces head office's people and leaves the box's own.
    local = subprocess.run(
        [str(GATEWAY), "staff", "add", LOCAL[0], "Lou", "cashier", "--by", ADMIN[0],
         "--pin-stdin", "--config", str(one.config)],
        input=f"{ADMIN[1]}\n{LOCAL[1]}\n", capture_output=True, text=True, check=False,
        timeout=120, env={**os.environ, "STOREGATE_SYNC__ENABLED": "false"},
    )  # fmt: skip
    assert local.returncode == 0, local.stderr
    refused_local = subprocess.run(
        [str(GATEWAY), "staff", "remove", DORA[0], "--by", ADMIN[0], "--pin-stdin",
         "--config", str(one.config)],
        input=f"{ADMIN[1]}\n", capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "STOREGATE_SYNC__ENABLED": "false"},
    )  # fmt: skip
    assert refused_local.returncode == 2 and "head office" in refused_local.stderr
    eve = ("staff", "add", EVE[0], "--name", "Eve", "--role", "supervisor", "--group", "north")
    assert office.cloud(*eve, "--pin-stdin", "--by", "bob", stdin=f"{EVE[1]}\n").returncode == 0
    assert office.cloud("staff", "remove", DORA[0], "--by", "bob").returncode == 0
    done = office.publish("--group", "north")
    assert done.returncode == 0 and "published staff version 2 for store-1" in done.stdout
    wait_until(lambda: signs_on(one, *EVE), 30, "Eve signs on at store-1")
    wait_until(lambda: signs_on(two, *EVE), 30, "Eve signs on at store-2")
    assert not signs_on(one, *DORA) and not signs_on(two, *DORA)
    assert signs_on(one, *LOCAL) and signs_on(one, "101", "472951")

    # Every change at head office is in its audit log, with who made it.
    actions = [(who, action) for who, action, _ in office.audit()]
    assert actions == [
        ("alice", "staff.add"),
        ("alice", "staff.publish"),
        ("alice", "staff.publish"),
        ("bob", "staff.add"),
        ("bob", "staff.remove"),
        ("alice", "staff.publish"),
        ("alice", "staff.publish"),
    ], actions
    details = [d for _, _, d in office.audit()]
    assert details[0]["id"] == DORA[0] and details[0]["pin"] == "new"
    assert {d["store"] for d in details if "version" in d} == {"store-1", "store-2"}
    assert all(DORA[1] not in json.dumps(d) for d in details)
