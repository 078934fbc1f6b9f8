"""`cloud staff` at head office (docs/cloud.md, "Central staff"): people per store group,
PINs read from stdin and kept only as the box's salted hash, the document each store gets
(every group it is in; disabled people as inactive), checked with the box's model, every
change audited with its operator, and bad input refused with what, where and the fix.
Both head-office databases (SQLite, PostgreSQL)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from stock_testkit import cloud, ok

from cloud.db import Database
from gateway.lane.pins import hash_pin
from gateway.lane.staff_document import decode_bytes, parse_staff_document

PIN = "640912"


def add(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    db: tuple[str, str],
    *args: str,
    pin: str | None = PIN,
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("" if pin is None else f"{pin}\n"))
    flag = ("--no-pin",) if pin is None else ("--pin-stdin",)
    return cloud(capsys, "staff", "add", *args, *flag, "--by", "alice", *db)


def documents(capsys: pytest.CaptureFixture[str], db: tuple[str, str], out: Path) -> dict[str, Any]:
    ok(capsys, "staff", "publish", "--group", "all", "--out", str(out), *db)
    return {p.stem.removeprefix("staff-"): json.loads(p.read_text()) for p in out.iterdir()}


def test_people_of_a_group_their_documents_and_the_audit_log(
    tmp_path: Path,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = ("--db", db_url)
    for store in ("s1", "s2", "s3"):
        ok(capsys, "stores", "add", store, *db)
    ok(capsys, "groups", "add", "north", "s1", "s2", *db)
    ok(capsys, "groups", "add", "south", "s2", "s3", *db)
    ok(capsys, "groups", "add", "all", "s1", "s2", "s3", *db)

    status, out, err = add(capsys, monkeypatch, db, "c-1", "--name", "Dora", "--role",
                           "cashier", "--group", "north")  # fmt: skip
    assert status == 0 and "c-1 Dora (cashier, group north) added" in out, err
    status, _, err = add(capsys, monkeypatch, db, "c-2", "--name", "Eve", "--role",
                         "supervisor", "--group", "south", "--card", "CARD-EVE",
                         "--ceiling", "80.00", pin=None)  # fmt: skip
    assert status == 0, err

    docs = documents(capsys, db, tmp_path / "out-1")
    assert {s: [p["id"] for p in d["staff"]] for s, d in docs.items()} == {
        "s1": ["c-1"],
        "s2": ["c-1", "c-2"],  # in both groups: both groups' people
        "s3": ["c-2"],
    }
    dora = docs["s1"]["staff"][0]
    assert PIN not in json.dumps(docs)
    assert hash_pin(PIN, decode_bytes(dora["pin_salt"])) == decode_bytes(dora["pin_hash"])
    assert docs["s3"]["staff"][0] == {
        "id": "c-2", "name": "Eve", "role": "supervisor", "card": "CARD-EVE",
        "ceiling": "80.00", "active": True,
    }  # fmt: skip
    for store, document in docs.items():
        parse_staff_document(document, store)  # what the box takes

    # Replacing a person without a new PIN keeps theirs; disable is sent as inactive.
    status, out, _ = add(capsys, monkeypatch, db, "c-1", "--name", "Dora K.", "--role",
                         "cashier", "--group", "north", pin="")  # fmt: skip
    assert status == 0 and "replaced" in out
    ok(capsys, "staff", "disable", "c-2", "--by", "bob", *db)
    docs = documents(capsys, db, tmp_path / "out-2")
    assert docs["s1"]["staff"][0]["pin_hash"] == dora["pin_hash"]
    assert docs["s3"]["staff"][0]["active"] is False
    listing = json.loads(ok(capsys, "staff", "list", "--json", *db))
    assert [(p["id"], p["active"], p["updated_by"]) for p in listing] == [
        ("c-1", True, "alice"),
        ("c-2", False, "bob"),
    ]
    assert "pin_hash" not in json.dumps(listing) and dora["pin_hash"] not in json.dumps(listing)
    ok(capsys, "staff", "remove", "c-2", "--by", "carol", *db)
    assert "1 person(s)" in ok(capsys, "staff", "list", *db)

    database = Database.open(db_url)
    try:
        rows = database.query(
            "SELECT account, action, detail FROM web_audit WHERE action LIKE ? ORDER BY id",
            ("staff.%",),
        )
    finally:
        database.close()
    assert [(a, b) for a, b, _ in rows] == [
        ("alice", "staff.add"),
        ("alice", "staff.add"),
        ("alice", "staff.add"),
        ("bob", "staff.disable"),
        ("carol", "staff.remove"),
    ]
    assert [json.loads(d)["pin"] for _, b, d in rows if b == "staff.add"] == ["new", "none", "kept"]
    assert all(PIN not in str(d) and dora["pin_hash"] not in str(d) for *_, d in rows)


def test_bad_input_is_refused_with_what_where_and_the_fix(
    tmp_path: Path,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = ("--db", db_url)
    ok(capsys, "stores", "add", "s1", *db)
    ok(capsys, "groups", "add", "north", "s1", *db)
    person = ("c-1", "--name", "Dora", "--role", "cashier", "--group", "north")

    status, _, err = add(capsys, monkeypatch, db, *person, pin="123456")
    assert status == 2 and "too easy to guess" in err and "fix:" in err, err
    status, _, err = add(capsys, monkeypatch, db, *person, pin="4821")
    assert status == 2 and "6 to 12 digits" in err, err
    status, _, err = add(capsys, monkeypatch, db, *person, pin=None)
    assert status == 2 and "PIN (hash) or a staff card" in err, err
    status, _, err = add(capsys, monkeypatch, db, "c-1", "--name", "D", "--role", "admin",
                         "--group", "north")  # fmt: skip
    assert status == 2 and "role 'admin' cannot come from head office" in err, err
    status, _, err = add(capsys, monkeypatch, db, "c-1", "--name", "D", "--role", "cashier",
                         "--group", "nort")  # fmt: skip
    assert status == 2 and "unknown store group 'nort'" in err, err
    status, _, err = add(capsys, monkeypatch, db, *person, "--card", "4111111111111111")
    assert status == 2 and "payment card" in err and "4111111111111111" not in err, err
    assert add(capsys, monkeypatch, db, *person, "--card", "CARD-1")[0] == 0
    status, _, err = add(capsys, monkeypatch, db, "c-2", "--name", "E", "--role", "cashier",
                         "--group", "north", "--card", "CARD-1")  # fmt: skip
    assert status == 2 and "already belongs to c-1" in err, err

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal, no --pin-stdin
    status, _, err = cloud(capsys, "staff", "add", *person, *db)
    assert status == 2 and "no terminal to ask the PIN on" in err and "--pin-stdin" in err, err
    status, _, err = cloud(capsys, "staff", "disable", "nobody", *db)
    assert status == 2 and "no person nobody at head office" in err, err
    status, _, err = cloud(capsys, "staff", "publish", *db)
    assert status == 2 and "--group GROUP" in err, err
    status, _, err = cloud(capsys, "staff", "publish", "--store", "s9", *db)
    assert status == 2 and "unknown store: s9" in err, err
    status, _, err = cloud(capsys, "staff", "publish", "--store", "s1", *db)
    assert status == 2 and "no signing key given" in err, err
    assert "Traceback" not in err


def test_a_preview_names_who_a_staff_document_changes(
    tmp_path: Path,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cloud.stores import preview

    db = ("--db", db_url)
    ok(capsys, "stores", "add", "s1", *db)
    ok(capsys, "groups", "add", "all", "s1", *db)
    add(capsys, monkeypatch, db, "c-1", "--name", "Dora", "--role", "cashier", "--group", "all")
    old = documents(capsys, db, tmp_path / "old")["s1"]
    out = ok(capsys, "publish", "staff", str(tmp_path / "old" / "staff-s1.json"), "--store",
             "s1", "--preview", *db)  # fmt: skip
    assert "first staff document for s1" in out, out
    add(capsys, monkeypatch, db, "c-1", "--name", "Dora", "--role", "supervisor", "--group", "all")
    add(capsys, monkeypatch, db, "c-2", "--name", "Eve", "--role", "cashier", "--group", "all")
    new = documents(capsys, db, tmp_path / "new")["s1"]
    assert preview("staff", "s1", old, new).lines == [
        "added c-2 Eve (cashier)",
        "changed c-1 Dora: new PIN, role",
    ]
