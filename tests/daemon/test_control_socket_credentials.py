"""The control socket as a local user of its group would use it (issue 13, item 7).

The socket's mode lets the technician group in; that is not who changes data. A user of
the group (created here with `useradd`, its client run with `runuser`) tries every change
the socket offers without a credential, with a credential of the wrong role, and with a
card string typed where a card must be read: each is refused and nothing is written. With
the right person's PIN (and authenticator code once second factors exist) the change is
made and journalled as a `box_action` naming who. A new box says it is in bootstrap (no
admin with a second factor yet) in `status` and `doctor`, and the first enrolment ends it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from daemon_testkit import (
    EXAMPLE_CATALOG,
    EXAMPLE_CONFIG,
    GATEWAY,
    NO_SYNC,
    ROOT,
    Daemon,
    local_user,
)
from daemon_testkit import box_config as example_box
from ops_testkit import journal_bodies, publish

from gateway.daemon.control import call

GROUP = "sgsock"  # the socket's group on this test machine (`[daemon] socket_group`)
# a technician-group user: may use the socket, is nobody on the till (one per test process)
USER = f"sgtech{os.getpid() % 100000}"
ADMIN = ("301", "508273")
SECOND_ADMIN = ("302", "720461")
CASHIER = ("101", "472951")
SUPERVISOR = ("201", "836104")
CLIENT = """
import json, socket, sys
request = sys.stdin.read()
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
    s.settimeout(30)
    s.connect(sys.argv[1])
    s.sendall(request.encode() + b"\\n")
    data = b""
    while not data.endswith(b"\\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
print(data.decode())
"""


@pytest.fixture(scope="module")
def technician() -> Iterator[str]:
    """A local user in the socket's group."""
    with local_user(USER, (GROUP,)) as name:
        yield name


class Box:
    """`gateway run` with its socket where the group can reach it; `as_technician` asks as
    the group's user over a raw socket, `gateway` runs the real CLI (as root)."""

    def __init__(self, directory: Path, *, admins: bool, start: bool = True) -> None:
        self.directory = directory
        self.socket_dir = Path(tempfile.mkdtemp(prefix="sgsock-", dir="/tmp"))
        self.socket_dir.chmod(0o755)
        self.socket = self.socket_dir / "control.sock"
        self.config = example_box(directory)
        text = self.config.read_text()
        text = text.replace(
            '# control_socket = "/var/lib/storegate/control.sock"',
            f'control_socket = "{self.socket}"',
        ).replace('socket_group = "storegate-tech"', f'socket_group = "{GROUP}"')
        self.config.write_text(text)
        self.database = directory / "storegate.db"
        self.secrets: dict[str, str] = {}
        if admins:
            self.secrets = enrol_admins(self.database)
        if start:
            self.start(NO_SYNC)

    def start(self, env: dict[str, str] | None) -> None:
        """`gateway run` with `env` (NO_SYNC: without head office)."""
        self.daemon = Daemon(self.directory, self.config, env)
        self.daemon.socket = self.socket

    def as_technician(self, request: dict[str, Any]) -> dict[str, Any]:
        done = subprocess.run(
            ["runuser", "-u", USER, "--", "/usr/bin/python3", "-c", CLIENT, str(self.socket)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def as_root(self, request: dict[str, Any]) -> dict[str, Any]:
        return call(self.socket, request, timeout=30)

    def gateway(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GATEWAY), *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **NO_SYNC},
            timeout=120,
        )

    def code(self, staff_id: str) -> str:
        return pyotp.TOTP(self.secrets[staff_id]).now()

    def head(self) -> int:
        head: int = self.as_root({"command": "status"})["status"]["journal"]["head_seq"]
        return head

    def stop(self) -> None:
        assert self.daemon.stop() == 0, self.daemon.output()
        self.socket_dir.rmdir()


def enrol_admins(database: Path) -> dict[str, str]:
    """Two admins with a PIN and an authenticator each (one per box action: a code is
    good once); returns their TOTP secrets."""
    from gateway.database import open_database
    from gateway.lane.staff import StaffDirectory
    from gateway.settings import load_settings

    db = open_database(database)
    staff = StaffDirectory(db, load_settings(EXAMPLE_CONFIG).lane)
    secrets = {}
    for (staff_id, pin), name in ((ADMIN, "Ada"), (SECOND_ADMIN, "Ben")):
        staff.add(staff_id, name, "admin", pin=pin)
        secrets[staff_id] = pyotp.parse_uri(staff.enroll_totp(staff_id)).secret
    db.conn.close()
    return secrets


@pytest.fixture
def box(tmp_path: Path, technician: str) -> Iterator[Box]:
    running = Box(tmp_path, admins=True)
    try:
        yield running
    finally:
        running.stop()


def cheap_catalog(version: int) -> str:
    """The attacker's catalog: everything at 0.01, and a version far ahead."""
    catalog = json.loads(EXAMPLE_CATALOG.read_text())
    catalog["version"] = version
    for product in catalog["products"]:
        product["price"] = "0.01"
        product.pop("member_price", None)
    return json.dumps(catalog)


def milk_price(box: Box) -> str:
    """Sign on (staff number and PIN), scan a milk and void the sale: the price in force."""
    assert box.as_root(
        {"command": "lane", "action": "sign_on", "staff": CASHIER[0], "pin": CASHIER[1]}
    )["ok"]
    scanned = box.as_root({"command": "lane", "action": "scan", "code": "7612345001012"})
    assert scanned["ok"], scanned
    assert box.as_root({"command": "lane", "action": "void_sale", "reason": "price check"})["ok"]
    assert box.as_root({"command": "lane", "action": "close_shift", "counted": "0"})["ok"]
    total: str = scanned["lane"]["total"]
    return total


def test_changes_without_a_credential_or_with_a_typed_card_are_refused(box: Box) -> None:
    head = box.head()
    catalog = box.as_technician(
        {"command": "catalog_load", "text": cheap_catalog(999), "source": "x", "force": True}
    )
    assert not catalog["ok"] and catalog["refused"] == "approval_needed", catalog
    staff = box.as_technician(
        {
            "command": "staff",
            "action": "add",
            "staff_id": "666",
            "name": "Mallory",
            "role": "supervisor",
            "pin": "123456",
        }
    )
    assert not staff["ok"] and staff["refused"] == "approval_needed", staff
    sign_on = box.as_technician({"command": "lane", "action": "sign_on", "card": "CARD-BEAT"})
    assert not sign_on["ok"] and sign_on["exit_code"] == 2, sign_on
    assert "not a card read" in sign_on["error"]
    override = box.as_technician(
        {"command": "lane", "action": "no_sale", "reason": "x", "supervisor_card": "CARD-BEAT"}
    )
    assert not override["ok"] and "not a card read" in override["error"], override
    z = box.as_technician({"command": "z_report", "card": "CARD-BEAT", "empty_day": True})
    assert not z["ok"] and "not a card read" in z["error"], z
    status = box.as_technician({"command": "status"})["status"]
    assert status["lane"]["state"] == "closed"
    assert status["journal"]["head_seq"] == head  # nothing was written
    assert (
        box.as_root({"command": "lane", "action": "sign_on", "staff": "666", "pin": "123456"})[
            "refused"
        ]
        == "wrong_pin"
    )
    assert milk_price(box) == "1.75"
    assert journal_bodies(box.database, "box_action") == []


def test_a_credential_of_the_wrong_role_is_refused(box: Box) -> None:
    head = box.head()
    for staff_id, pin in (CASHIER, SUPERVISOR):
        catalog = box.as_technician(
            {
                "command": "catalog_load",
                "text": cheap_catalog(2),
                "source": "x",
                "force": False,
                "by": staff_id,
                "by_pin": pin,
                "totp": "123456",
            }
        )
        assert catalog["refused"] == "not_permitted", catalog
    staff = box.as_technician(
        {
            "command": "staff",
            "action": "add",
            "staff_id": "666",
            "name": "Mallory",
            "role": "supervisor",
            "pin": "123456",
            "by": SUPERVISOR[0],
            "by_pin": SUPERVISOR[1],
            "totp": "123456",
        }
    )
    assert staff["refused"] == "not_permitted", staff
    wrong_code = box.as_technician(
        {
            "command": "catalog_load",
            "text": cheap_catalog(2),
            "source": "x",
            "force": False,
            "by": ADMIN[0],
            "by_pin": ADMIN[1],
            "totp": "000000" if box.code(ADMIN[0]) != "000000" else "111111",
        }
    )
    assert wrong_code["refused"] == "wrong_second_factor", wrong_code
    no_code = box.as_technician(
        {"command": "catalog_load", "text": cheap_catalog(2), "by": ADMIN[0], "by_pin": ADMIN[1]}
    )
    assert no_code["refused"] == "approval_needed", no_code
    cashier_z = box.as_technician(
        {"command": "z_report", "staff": CASHIER[0], "pin": CASHIER[1], "empty_day": True}
    )
    assert cashier_z["refused"] == "not_permitted", cashier_z
    assert box.head() == head
    assert journal_bodies(box.database, "box_action") == []


def test_the_right_person_changes_the_box_and_the_journal_names_them(box: Box) -> None:
    catalog = box.as_technician(
        {
            "command": "catalog_load",
            "text": cheap_catalog(2),
            "source": "emergency prices",
            "force": False,
            "by": ADMIN[0],
            "by_pin": ADMIN[1],
            "totp": box.code(ADMIN[0]),
        }
    )
    assert catalog["ok"] and catalog["version"] == 2, catalog
    staff = box.gateway(
        "staff",
        "add",
        "103",
        "Dora",
        "supervisor",
        "--pin-stdin",
        "--by",
        SECOND_ADMIN[0],
        "--totp",
        box.code(SECOND_ADMIN[0]),
        stdin=f"{SECOND_ADMIN[1]}\n246810\n",
    )
    assert staff.returncode == 0, staff.stderr
    assert milk_price(box) == "0.01"
    z = box.gateway(
        "report", "z", "--staff", SUPERVISOR[0], "--pin-stdin", stdin=f"{SUPERVISOR[1]}\n"
    )
    assert z.returncode == 0, z.stderr
    actions = journal_bodies(box.database, "box_action")
    assert [a["action"] for a in actions] == ["catalog_load", "staff_add"], actions
    loaded, added = actions
    assert loaded["actor"] == {"id": "301", "name": "Ada", "role": "admin"}
    assert loaded["version"] == 2 and loaded["previous_version"] == 1
    assert loaded["force"] is False and loaded["source"] == "emergency prices"
    assert added["actor"]["id"] == "302" and added["staff"] == {
        "id": "103",
        "name": "Dora",
        "role": "supervisor",
    }
    assert "246810" not in json.dumps(added)  # the new PIN is never journalled
    [closed] = journal_bodies(box.database, "z_report")
    assert closed["staff"]["id"] == "201"


def test_a_new_box_is_in_bootstrap_until_the_first_admin_enrols(
    tmp_path: Path, technician: str
) -> None:
    box = Box(tmp_path, admins=False)  # a cashier and a supervisor, no admin yet
    try:
        status = box.as_root({"command": "status"})["status"]
        assert status["access"]["bootstrap"] == "first_admin", status["access"]
        shown = box.gateway("status")
        assert "BOOTSTRAP" in shown.stdout, shown.stdout
        supervisor = box.as_technician(
            {
                "command": "staff",
                "action": "add",
                "staff_id": "666",
                "name": "M",
                "role": "supervisor",
            }
        )
        assert supervisor["refused"] == "approval_needed", supervisor
        catalog = box.as_technician({"command": "catalog_load", "text": cheap_catalog(2)})
        assert catalog["refused"] == "approval_needed", catalog
        first = box.gateway(
            "staff", "add", ADMIN[0], "Ada", "admin", "--pin-stdin", stdin=f"{ADMIN[1]}\n"
        )
        assert first.returncode == 0, first.stderr
        assert box.as_root({"command": "status"})["status"]["access"]["bootstrap"] == "pin_only"
        without_pin = box.as_technician({"command": "catalog_load", "text": cheap_catalog(2)})
        assert without_pin["refused"] == "approval_needed", without_pin
        loaded = box.as_technician(
            {
                "command": "catalog_load",
                "text": cheap_catalog(2),
                "by": ADMIN[0],
                "by_pin": ADMIN[1],
            }
        )
        assert loaded["ok"], loaded
        doctor = box.gateway("doctor", "--json")
        [access] = [f for f in json.loads(doctor.stdout) if f["check"] == "access"]
        assert access["level"] == "WARN" and "bootstrap" in access["message"], access
        enrolled = box.gateway(
            "staff", "totp", ADMIN[0], "--by", ADMIN[0], "--pin-stdin", stdin=f"{ADMIN[1]}\n"
        )
        assert enrolled.returncode == 0 and enrolled.stdout.startswith("otpauth://"), enrolled
        box.secrets[ADMIN[0]] = pyotp.parse_uri(enrolled.stdout.strip()).secret
        status = box.as_root({"command": "status"})["status"]
        assert status["access"]["bootstrap"] is None, status["access"]
        pin_only = box.as_technician(
            {
                "command": "catalog_load",
                "text": cheap_catalog(3),
                "by": ADMIN[0],
                "by_pin": ADMIN[1],
            }
        )
        assert pin_only["refused"] == "approval_needed", pin_only
        doctor = box.gateway("doctor", "--json")
        [access] = [f for f in json.loads(doctor.stdout) if f["check"] == "access"]
        assert access["level"] == "OK", access
    finally:
        box.stop()
    actions = journal_bodies(box.database, "box_action")
    assert [(a["action"], a["bootstrap"]) for a in actions] == [
        ("staff_add", True),
        ("catalog_load", True),
        ("staff_totp", True),
    ], actions
    assert actions[0]["actor"] is None and actions[1]["actor"]["id"] == ADMIN[0]


def test_accepting_a_journal_break_needs_an_admin_and_names_them(
    tmp_path: Path, technician: str
) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "journal"))
    from journal_testkit import tamper

    box = Box(tmp_path, admins=True)
    try:
        assert box.as_root(
            {"command": "lane", "action": "sign_on", "staff": CASHIER[0], "pin": CASHIER[1]}
        )["ok"]
        for _ in range(2):
            assert box.as_root({"command": "lane", "action": "scan", "code": "7612345001012"})["ok"]
            assert box.as_root(
                {"command": "lane", "action": "tender", "type": "cash", "amount": "5"}
            )["ok"]
    finally:
        box.stop()
    sale = journal_bodies(box.database, "sale")[0]
    sale["total"] = "0.05"
    tamper(
        box.database,
        (
            "UPDATE journal_record SET body = ? WHERE seq = 2",
            (json.dumps(sale, sort_keys=True, separators=(",", ":")),),
        ),
    )
    secrets = box.secrets
    box = Box(tmp_path, admins=False)  # the admins enrolled before stay
    box.secrets = secrets
    try:
        head = box.head()
        bare = box.as_technician({"command": "accept_break", "seq": 2, "by": "Tom", "reason": "x"})
        assert bare["refused"] == "approval_needed", bare
        cashier = box.as_technician(
            {
                "command": "accept_break",
                "seq": 2,
                "by": CASHIER[0],
                "by_pin": CASHIER[1],
                "totp": "1",
                "reason": "x",
            }
        )
        assert cashier["refused"] == "not_permitted", cashier
        status = box.as_root({"command": "status"})["status"]
        assert status["journal"]["broken"]["seq"] == 2 and status["journal"]["head_seq"] == head
        accepted = box.gateway(
            "accept-break",
            "--seq",
            "2",
            "--by",
            ADMIN[0],
            "--totp",
            box.code(ADMIN[0]),
            "--reason",
            "ticket 4711: copy kept",
            "--pin-stdin",
            stdin=f"{ADMIN[1]}\n",
        )
        assert accepted.returncode == 0, accepted.stdout + accepted.stderr
        assert box.as_root({"command": "status"})["status"]["journal"]["broken"] is None
    finally:
        box.stop()
    [record] = journal_bodies(box.database, "journal_break_accepted")
    assert record["actor"] == {"id": "301", "name": "Ada", "role": "admin"}
    assert record["by"] == "301" and "4711" in record["reason"]


def test_a_catalog_loaded_on_the_box_never_blocks_head_offices_signed_ones(
    tmp_path: Path, technician: str
) -> None:
    """Version 999 loaded over the socket (by a permitted person) used to make the box
    refuse head office's next signed catalog (version 2) as "not newer"."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from gateway.harness.brokers import Mosquitto
    from gateway.sync.signing import sign

    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        box = Box(tmp_path, admins=True, start=False)
        text = box.config.read_text().replace("port = 1883", f"port = {broker.port}")
        box.config.write_text(
            text + f'\n[[sync.trusted_keys]]\nkey_id = "ho-1"\npublic_key = "{public.decode()}"\n'
        )
        box.start(None)  # with sync, to the broker above
        try:
            loaded = box.as_technician(
                {
                    "command": "catalog_load",
                    "text": cheap_catalog(999),
                    "by": ADMIN[0],
                    "by_pin": ADMIN[1],
                    "totp": box.code(ADMIN[0]),
                }
            )
            assert loaded["ok"] and loaded["version"] == 999, loaded
            catalog = json.loads(EXAMPLE_CATALOG.read_text())
            catalog["version"] = 2
            message = sign(
                {
                    "v": 1,
                    "kind": "catalog",
                    "store": "store-1",
                    "box": None,
                    "version": 2,
                    "issued_at": "2026-11-24T02:00:00.000Z",
                    "document": catalog,
                },
                key,
                "ho-1",
            )
            publish(broker.port, "storegate/v1/store-1/catalog", message, retain=True)
            deadline = time.monotonic() + 20
            while "applied catalog document version 2" not in box.daemon.output():
                assert "not newer" not in box.daemon.output(), box.daemon.output()[-2000:]
                assert time.monotonic() < deadline, box.daemon.output()[-2000:]
                time.sleep(0.1)
            assert milk_price(box) == "1.75"  # head office's prices, not the local 0.01
        finally:
            box.stop()
    finally:
        broker.kill()


def refuse_box_actions(database: Path) -> None:
    """The journal's disk gives out exactly when a `box_action` record is written (a SQLite
    trigger aborting that insert): the change made with it must not stay either."""
    import sqlite3

    conn = sqlite3.connect(database)
    with conn:
        conn.execute(
            "CREATE TRIGGER no_box_action BEFORE INSERT ON journal_record "
            "WHEN NEW.kind = 'box_action' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    conn.close()


def staff_row(database: Path, staff_id: str) -> tuple[object, ...] | None:
    import sqlite3

    conn = sqlite3.connect(database)
    row: tuple[object, ...] | None = conn.execute(
        "SELECT id, name, role FROM lane_staff WHERE id = ?", (staff_id,)
    ).fetchone()
    conn.close()
    return row


def test_a_stopped_box_journals_the_changes_made_on_its_file(tmp_path: Path) -> None:
    """With the daemon stopped the CLI is the file's one writer: a staff change and a
    catalog load are journalled as through the socket, `via: file`."""
    box = Box(tmp_path, admins=True, start=False)
    cheap = tmp_path / "cheap.json"
    cheap.write_text(cheap_catalog(2))
    staff = box.gateway(
        "staff",
        "add",
        "103",
        "Dora",
        "supervisor",
        "--pin-stdin",
        "--by",
        ADMIN[0],
        "--totp",
        box.code(ADMIN[0]),
        stdin=f"{ADMIN[1]}\n246810\n",
    )
    assert staff.returncode == 0, staff.stderr
    loaded = box.gateway("catalog", "load", str(cheap))
    assert loaded.returncode == 0, loaded.stderr
    added, catalog = journal_bodies(box.database, "box_action")
    assert added["action"] == "staff_add" and added["via"] == "file"
    assert added["actor"] == {"id": "301", "name": "Ada", "role": "admin"}
    assert added["staff"] == {"id": "103", "name": "Dora", "role": "supervisor"}
    assert "246810" not in json.dumps(added)
    assert catalog["action"] == "catalog_load" and catalog["via"] == "file"
    assert catalog["actor"] is None and catalog["version"] == 2  # whoever may write the file
    verified = box.gateway("journal", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_change_is_never_left_without_its_record(tmp_path: Path) -> None:
    """The change and its `box_action` record commit in one transaction: when the record
    cannot be written the change is not made either — on a stopped box's file and through
    the running daemon — and the person is told, with no traceback."""
    box = Box(tmp_path, admins=True, start=False)
    refuse_box_actions(box.database)
    cheap = tmp_path / "cheap.json"
    cheap.write_text(cheap_catalog(2))
    staff = box.gateway(
        "staff",
        "add",
        "103",
        "Dora",
        "supervisor",
        "--pin-stdin",
        "--by",
        ADMIN[0],
        "--totp",
        box.code(ADMIN[0]),
        stdin=f"{ADMIN[1]}\n246810\n",
    )
    assert staff.returncode != 0 and "Traceback" not in staff.stderr, staff.stderr
    assert "disk I/O error" in staff.stderr
    assert staff_row(box.database, "103") is None
    loaded = box.gateway("catalog", "load", str(cheap))
    assert loaded.returncode != 0 and "Traceback" not in loaded.stderr, loaded.stderr
    box.start(NO_SYNC)
    try:
        assert milk_price(box) != "0.01"  # the catalog in force is still the old one
        answer = box.as_root(
            {
                "command": "staff",
                "action": "add",
                "staff_id": "104",
                "name": "Eve",
                "role": "supervisor",
                "pin": "246810",
                "by": SECOND_ADMIN[0],
                "by_pin": SECOND_ADMIN[1],
                "totp": box.code(SECOND_ADMIN[0]),
            }
        )
        assert not answer["ok"], answer
        assert staff_row(box.database, "104") is None
        assert journal_bodies(box.database, "box_action") == []
    finally:
        box.stop()
