"""The member ledger at head office (issue 20, item 1), end to end: members imported from
CSV and xlsx (errors per row), head office builds, signs and publishes the members document
itself, a real box applies it and identifies the card, spends from the wallet, and the next
document folds that spend in exactly once; a lost card is refused at the box."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloud_testkit import Box, RunningIngest, cloud_cli, eventually

from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.members.accounts import MemberAccounts
from gateway.members.rules import Refusal
from gateway.members.sink import MembersSink
from gateway.members.store import Change, MemberStore
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys

ALICE, BOB = "04A2B3C4D5E601", "04FF00112233"
SETTINGS = {
    "currency": "CNY",
    "decimals": 2,
    "redemption": {"points": 100, "value": "1.00"},
    "groups": [{"id": "staff", "name": "员工", "points": {"per": "1.00", "points": 1}}],
    "offline": {"stored_value": True, "per_transaction": "50.00"},
}


class BoxMembers:
    """The box's real members room on its own file, opened on the sync thread that
    applies documents (as in the daemon, one connection per thread)."""

    def __init__(self, database: Path) -> None:
        self.database = database

    def store(self) -> MemberStore:
        return MemberStore(open_database(self.database), "box-1")

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        MembersSink(self.store()).apply(kind, version, document)


def cli(*args: str) -> str:
    status, out, err = cloud_cli(*args)
    assert status == 0, err
    return out


def test_members_imported_published_spent_and_folded_in_once(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    cli("keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test")
    public = (tmp_path / "keys" / "ho-test.pub").read_text().strip()
    trusted = TrustedKeys([TrustedKey(key_id="ho-test", public_key=public)])
    ingest()
    members = BoxMembers(tmp_path / "box" / "box.db")
    box = Box(tmp_path / "box", broker.port, trusted_keys=trusted).start(sink=members)
    db = ("--db", db_url)
    common = (*db, "--port", str(broker.port), "--key", str(tmp_path / "keys" / "ho-test.pem"))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(SETTINGS, ensure_ascii=False))
    try:
        cli("stores", "add", "store-1", *db)
        bad = tmp_path / "bad.csv"
        bad.write_text(
            "id,name,group,cards,cash,subsidy_expires\n"
            f"M0001,Alice,staff,{ALICE},100.00,\n"
            f"M0002,Bob,cantine,{ALICE},abc,30.11.2026\n"
        )
        status, _, err = cloud_cli(
            "members", "import", str(bad), "--store", "store-1", "--settings", str(settings), *db
        )
        assert status == 2 and "Traceback" not in err, err
        for problem in (
            "line 3: M0002: group 'cantine'",
            "card 04A2… is also on line 2",
            "cash 'abc' is not a number",
            "subsidy_expires '30.11.2026'",
        ):
            assert problem in err, err
        assert "0 member(s)" in cli("members", "list", "--store", "store-1", *db)

        good = tmp_path / "members.csv"
        good.write_bytes(
            "\ufeffid,name,group,cards,points,cash\n"
            f"M0001,Alice 王,staff,{ALICE},500,100.00\n"
            f"M0002,Bob,staff,{BOB},0,20.00\n".encode()
        )
        out = cli(
            "members", "import", str(good), "--store", "store-1", "--settings", str(settings), *db
        )
        assert "2 member(s) created, 0 updated" in out
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["id", "name", "group", "cards"])
        sheet.append(["M0002", "Bob Smith", "staff", BOB])
        book.save(tmp_path / "update.xlsx")
        out = cli("members", "import", str(tmp_path / "update.xlsx"), "--store", "store-1", *db)
        assert "0 member(s) created, 1 updated" in out

        out = cli("members", "publish", "--store", "store-1", *common)
        assert "published members version 1" in out
        accounts = MemberAccounts(members.store())
        assert eventually(lambda: not isinstance(accounts.identify(ALICE), Refusal))
        alice = accounts.identify(ALICE)
        assert (
            not isinstance(alice, Refusal)
            and alice.id == "M0001"
            and alice.cash == Decimal("100.00")
        )
        assert alice.name == "Alice 王"

        # The box spends 12.50 of Alice's cash, journalled with its change (as a sale would).
        store = members.store()
        change = Change(
            "chg-1",
            "M0001",
            "cash",
            Decimal("-12.50"),
            "spend",
            "sale-1",
            "2026-11-24",
            None,
            False,
        )
        body = {
            "change": "chg-1",
            "member": "M0001",
            "card": "04A2…",
            "wallet": "cash",
            "delta": "-12.50",
            "reason": "spend",
            "sale": "sale-1",
            "before": "100.00",
            "after": "87.50",
            "at": datetime(2026, 11, 24, 12).isoformat(),
            "day": "2026-11-24",
            "meal": None,
            "offline": False,
            "members_version": 1,
        }
        box.journal.append(
            "member_balance",
            body,
            record_id="chg-1",
            also=lambda conn: store.record(conn, [change]),
        )
        assert eventually(lambda: box.acknowledged() == box.head())
        assert store.balances("M0001").cash == Decimal("87.50")

        cli(
            "members",
            "adjust",
            "M0001",
            "--store",
            "store-1",
            "--wallet",
            "cash",
            "--delta",
            "50.00",
            "--reason",
            "top-up at the office",
            "--by",
            "mia",
            *db,
        )
        out = cli("members", "publish", "--store", "store-1", *common)
        assert "version 2" in out and "'box-1': 1" in out, out
        # Folded in once: 100 + 50 - 12.50, the box's own change now confirmed.
        assert eventually(lambda: store.balances("M0001").cash == Decimal("137.50"))
        history = cli("members", "history", "M0001", "--store", "store-1", *db)
        assert "import" in history and "adjust" in history and "box box-1" in history
        assert "-12.50" in history and "top-up at the office" in history
        listing = json.loads(cli("members", "list", "--store", "store-1", "--json", *db))
        assert {m["id"]: m["cash"] for m in listing} == {"M0001": "137.50", "M0002": "20.00"}

        # Bob's card is lost: the next document makes every box refuse it.
        cli("members", "lost", "M0002", "--store", "store-1", *db)
        cli("members", "publish", "--store", "store-1", *common)
        assert eventually(lambda: isinstance(accounts.identify(BOB), Refusal))
        refused = accounts.identify(BOB)
        assert isinstance(refused, Refusal) and refused.code == "blacklisted"
        # No card UID is kept at head office, only the box's keys.
        office = (
            sqlite3.connect(db_url.removeprefix("sqlite:///"))
            if db_url.startswith("sqlite")
            else None
        )
        if office is not None:
            dump = "\n".join(office.iterdump())
            assert ALICE not in dump and BOB not in dump
    finally:
        box.stop()


def test_a_dividend_is_previewed_then_credited_to_the_members_wallets(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    import csv

    from cloud_testkit import journal_of_days, store_journal_directly

    from gateway.harness.fleetsim import MEMBERS, StoreDay

    day = datetime(2026, 11, 10).date()
    journal = journal_of_days(tmp_path / "box.db", [StoreDay("store-1", "box-1", day, 400)])
    store_journal_directly(db_url, "store-1", "box-1", journal)
    cli("keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test")
    db = ("--db", db_url)
    common = (*db, "--port", str(broker.port), "--key", str(tmp_path / "keys" / "ho-test.pem"))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(SETTINGS))
    kept = MEMBERS[:40]
    sheet = tmp_path / "members.csv"
    sheet.write_text("id,group,cash\n" + "".join(f"{m},staff,10.00\n" for m in kept))
    cli("stores", "add", "store-1", *db)
    cli("members", "import", str(sheet), "--store", "store-1", "--settings", str(settings), *db)
    cli("members", "publish", "--store", "store-1", *common)  # the roster a dividend credits
    run = (
        "dividend",
        "run",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--period",
        "2026-11",
        "--pool",
        "100.00",
        *db,
    )
    preview = cli(*run, "--dry-run")
    assert "(dry run): 100.00 among" in preview and "nothing recorded" in preview
    assert "no dividend run yet" in cli("dividend", "list", *db)
    out = cli(*run, "--credit", "cash", "--out", str(tmp_path / "dividend.csv"))
    with (tmp_path / "dividend.csv").open() as handle:
        paid = {r["member"]: Decimal(r["dividend"]) for r in csv.DictReader(handle)}
    assert paid and sum(paid.values()) == Decimal("100.00")
    assert f"{len([m for m in paid if paid[m]])} credited to cash" in out, out
    listing = {
        m["id"]: Decimal(m["cash"])
        for m in json.loads(cli("members", "list", "--store", "store-1", "--json", *db))
    }
    for member in kept:
        assert listing[member] == Decimal("10.00") + paid.get(member, Decimal(0))
    member = next(m for m in paid if paid[m])
    assert "dividend" in cli("members", "history", member, "--store", "store-1", *db)
    assert "2026-11  all stores  pool 100.00" in cli("dividend", "list", *db)
    status, _, err = cloud_cli(*run, "--credit", "cash", "--out", str(tmp_path / "again.csv"))
    assert status != 0 and "already run" in err  # paid once: credited once
    document = tmp_path / "members.json"
    cli("members", "publish", "--store", "store-1", "--out", str(document), *db)
    wallets = {
        m["id"]: Decimal(m["wallets"]["cash"]) for m in json.loads(document.read_text())["members"]
    }
    assert wallets == listing
