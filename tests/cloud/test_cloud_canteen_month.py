"""An enterprise canteen runs a month end to end (issue 20, items 3, 5 and 6): members
imported into departments, a monthly subsidy plan granted, meals paid from the subsidy at
two boxes through the box's own members room (its limits, its journal, the real sync),
department budgets alerting at 80 % and 100 %, the month closed and billed cent-exactly in
xlsx and PDF; a box's late record goes to the next month and the closed one never
changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cloud_testkit import Box, RunningIngest, eventually
from openpyxl import load_workbook
from stock_testkit import cloud

from cloud.db import Database
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.members.accounts import MemberAccounts
from gateway.members.rules import Refusal
from gateway.members.sink import MembersSink
from gateway.members.store import MemberStore
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys

ALICE, BOB, CHEN = "04A1A1A1A1A1", "04B2B2B2B2B2", "04C3C3C3C3C3"
SETTINGS = {
    "currency": "CNY",
    "decimals": 2,
    "redemption": None,
    "groups": [
        {
            "id": "canteen",
            "name": "食堂",
            "points": None,
            "limits": {
                "meals": [
                    {"name": "lunch", "from": "11:00", "to": "14:00", "max": "30.00"},
                    {"name": "dinner", "from": "17:00", "to": "20:00", "max": "30.00"},
                ]
            },
        }
    ],
    "offline": {"stored_value": True, "per_transaction": "50.00"},
    "top_up": {"min": "10.00", "bonus": [{"from": "100.00", "bonus": "10.00"}]},
}


class Till:
    """One box: its members room on its own file, its journal and sync to head office."""

    def __init__(self, workdir: Path, port: int, box: str, trusted: TrustedKeys) -> None:
        self.database = workdir / "box.db"
        self.box = Box(workdir, port, box=box, trusted_keys=trusted).start(sink=self)
        self.accounts = MemberAccounts(self.store())

    def store(self) -> MemberStore:
        return MemberStore(open_database(self.database), self.box.box)

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        MembersSink(self.store()).apply(kind, version, document)

    def version(self) -> int:
        document = self.store().document()
        return 0 if document is None else document.version

    def pay(self, card: str, amount: str, at: datetime, sale: str) -> list[dict[str, Any]]:
        """A meal paid from the card's wallets as the lane does: authorised against the
        box's balances and limits, its changes journalled with their rows."""
        account = self.accounts.identify(card)
        assert not isinstance(account, Refusal), account
        auth = self.accounts.authorise(account, "stored_value", Decimal(amount), at)
        assert not isinstance(auth, Refusal), auth
        posting = self.accounts.postings(sale, account, [auth], 0, at)
        self.box.journal.append_many(list(posting.entries), also=posting.also)
        return [entry[1] for entry in posting.entries]

    def top_up(self, card: str, amount: str, at: datetime, top_up_id: str) -> None:
        """A top-up at the till (充值), journalled with its wallet change as the lane does."""
        account = self.accounts.identify(card)
        assert not isinstance(account, Refusal), account
        answer = self.accounts.top_up(account, Decimal(amount), at, top_up_id)
        assert not isinstance(answer, Refusal), answer
        self.box.journal.append_many(list(answer[1].entries), also=answer[1].also)

    def drained(self) -> bool:
        return self.box.acknowledged() == self.box.head()


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    status, out, err = cloud(capsys, *args)
    assert status == 0, f"cloud {' '.join(args)} -> {status}: {err}"
    return out


def canteen(
    tmp_path: Path,
    db_url: str,
    broker: Mosquitto,
    ingest: Callable[..., RunningIngest],
    capsys: pytest.CaptureFixture[str],
) -> tuple[Till, Till, tuple[str, ...], tuple[str, ...], Path]:
    """Head office with store-1, its signing key and an ingest worker; two boxes trusting
    the key; the `--db/--store` options, the publish command and the members settings."""
    ok(capsys, "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho")
    public = (tmp_path / "keys" / "ho.pub").read_text().strip()
    trusted = TrustedKeys([TrustedKey(key_id="ho", public_key=public)])
    ingest()
    one = Till(tmp_path / "box-1", broker.port, "box-1", trusted)
    two = Till(tmp_path / "box-2", broker.port, "box-2", trusted)
    db = ("--db", db_url, "--store", "store-1")
    publish = ("members", "publish", *db, "--port", str(broker.port))
    publish += ("--key", str(tmp_path / "keys" / "ho.pem"))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(SETTINGS, ensure_ascii=False))
    ok(capsys, "stores", "add", "store-1", "--db", db_url)
    return one, two, db, publish, settings


def test_a_canteen_month_granted_spent_at_two_boxes_closed_and_billed(
    tmp_path: Path,
    db_url: str,
    broker: Mosquitto,
    ingest: Callable[..., RunningIngest],
    capsys: pytest.CaptureFixture[str],
) -> None:
    one, two, db, publish, settings = canteen(tmp_path, db_url, broker, ingest, capsys)
    try:
        ok(
            capsys,
            "members",
            "department",
            "set",
            "ENG",
            "--name",
            "研发部",
            "--budget",
            "130.00",
            *db,
        )
        ok(
            capsys,
            "members",
            "department",
            "set",
            "OPS",
            "--name",
            "Operations",
            "--budget",
            "40",
            *db,
        )
        members = tmp_path / "members.csv"
        members.write_text(
            "id,name,group,department,cards,cash\n"
            f"M1,Alice 王,canteen,ENG,{ALICE},20.00\n"
            f"M2,Bob,canteen,ENG,{BOB},\n"
            f"M3,Chen,canteen,OPS,{CHEN},\n"
        )
        bad = tmp_path / "bad.csv"
        bad.write_text(f"id,name,group,department,cards\nM9,Dan,canteen,SALES,{ALICE}9\n")
        status, _, err = cloud(
            capsys, "members", "import", str(bad), "--settings", str(settings), *db
        )
        assert status == 2 and "department 'SALES' is not set up" in err and "Traceback" not in err
        at_start = ("--at", "2026-11-01T00:30:00Z", "--by", "hr")
        ok(capsys, "members", "import", str(members), "--settings", str(settings), *db, *at_start)

        # the monthly plan grants itself once: 60.00 for November, reset, spent by the 30th
        plan = ("--group", "canteen", "--amount", "60.00", "--mode", "reset", "--day", "1")
        ok(capsys, "members", "plan", "add", "lunch", *plan, *db, *at_start)
        run = ("members", "plan", "run", *db, "--by", "timer")
        out = ok(capsys, *run, "--at", "2026-11-01T01:00:00Z")
        assert "60.00 to 3 member(s) of canteen (reset), 180.00 granted" in out
        assert "expires 2026-11-30" in out
        assert "no plan is due" in ok(capsys, *run, "--at", "2026-11-02T01:00:00Z")

        ok(capsys, *publish)
        assert eventually(lambda: one.version() == two.version() == 1)
        # meals at both boxes; head office folds them into the next document
        one.pay(ALICE, "25.00", datetime(2026, 11, 3, 12, 0), "b1-s1")
        two.pay(ALICE, "30.00", datetime(2026, 11, 3, 18, 0), "b2-s1")
        two.pay(BOB, "28.00", datetime(2026, 11, 4, 12, 10), "b2-s2")
        one.pay(BOB, "20.00", datetime(2026, 11, 4, 18, 30), "b1-s2")
        one.pay(CHEN, "30.00", datetime(2026, 11, 5, 12, 0), "b1-s3")
        two.pay(CHEN, "25.00", datetime(2026, 11, 5, 18, 0), "b2-s3")
        over = one.accounts.authorise(
            one.accounts.identify(CHEN),  # type: ignore[arg-type]
            "stored_value",
            Decimal("31.00"),
            datetime(2026, 11, 5, 12, 30),
        )
        assert isinstance(over, Refusal)  # the box's meal limit holds
        assert eventually(lambda: one.drained() and two.drained())
        ok(capsys, *publish)
        assert eventually(lambda: one.version() == two.version() == 2)
        # 5.00 of Alice's subsidy is left at every box now: the rest of the meal is cash
        (subsidy, cash) = one.pay(ALICE, "15.00", datetime(2026, 11, 6, 12, 0), "b1-s4")
        assert (subsidy["wallet"], subsidy["delta"], cash["wallet"], cash["delta"]) == (
            "subsidy",
            "-5.00",
            "cash",
            "-10.00",
        )
        two.top_up(ALICE, "100.00", datetime(2026, 11, 10, 9, 0), "b2-T1")  # 充100送10
        assert eventually(lambda: one.drained() and two.drained())

        # the periodic check (as every ingest worker runs it) raises the budgets' alerts
        ok(capsys, "alerts", "check", "--db", db_url, "--at", "2026-11-06T20:00:00Z")
        alerts = ok(capsys, "alerts", "--db", db_url, "--json")
        budget = {a["severity"] for a in json.loads(alerts) if a["kind"] == "department_budget"}
        assert budget == {"warning", "critical"}, alerts
        out = ok(capsys, "members", "budgets", *db, "--at", "2026-11-06T20:00:00Z")
        assert "ENG: 108.00 of 130.00 (83.1 %)" in out and "OPS: 55.00 of 40.00 (137.5 %)" in out
        assert "2 budget alert(s) holding for 2026-11" in out

        close = ("close", "month", "2026-11", *db, "--by", "finance")
        status, _, err = cloud(capsys, *close, "--at", "2026-11-20T09:00:00Z")
        assert status != 0 and "2026-11 is not over yet" in err and "Traceback" not in err
        out_dir = tmp_path / "bills"
        out = ok(capsys, *close, "--at", "2026-12-01T02:00:00Z", "--out", str(out_dir), "--json")
        figures = json.loads(out[: out.rindex("}") + 1])
        assert "bill ENG 研发部: 108.00" in out and "bill OPS Operations: 55.00" in out
        by_member = {s["member"]: s for s in figures["statements"]}
        assert by_member["M1"]["wallets"]["subsidy"] == {
            "opening": "0.00",
            "granted": "60.00",
            "spent": "60.00",
            "closing": "0.00",
        }
        assert by_member["M1"]["wallets"]["cash"] == {
            "opening": "0.00",
            "topped_up": "130.00",  # imported 20.00, topped up 100.00 at box-2 with 10.00 bonus
            "spent": "10.00",
            "closing": "120.00",
        }
        assert by_member["M2"]["wallets"]["subsidy"]["closing"] == "12.00"
        assert by_member["M3"]["wallets"]["subsidy"]["closing"] == "5.00"
        assert by_member["M1"]["spending"] == [
            {"wallet": "cash", "box": "box-1", "meal": "lunch", "spent": "10.00"},
            {"wallet": "subsidy", "box": "box-1", "meal": "lunch", "spent": "30.00"},
            {"wallet": "subsidy", "box": "box-2", "meal": "dinner", "spent": "30.00"},
        ]
        eng = next(b for b in figures["bills"] if b["department"] == "ENG")
        assert [(r["member"], r["box"], r["meal"], r["amount"]) for r in eng["lines"]] == [
            ("M1", "box-1", "lunch", "30.00"),
            ("M1", "box-2", "dinner", "30.00"),
            ("M2", "box-1", "dinner", "20.00"),
            ("M2", "box-2", "lunch", "28.00"),
        ]
        sheet = load_workbook(out_dir / "bills-store-1-2026-11.xlsx")["bills"]
        rows = {r[0]: r[3] for r in sheet.iter_rows(min_row=3, values_only=True)}
        assert {k: Decimal(str(v)) for k, v in rows.items()} == {
            "ENG": Decimal("108.00"),
            "OPS": Decimal("55.00"),
        }
        pdf = (out_dir / "bill-store-1-2026-11-ENG.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 1000
        assert (out_dir / "statements-store-1-2026-11.xlsx").exists()

        # a box's late record of November is booked in December; November stays as closed
        two.pay(BOB, "10.00", datetime(2026, 11, 30, 18, 0), "b2-s4")
        assert eventually(lambda: two.drained())
        again = ok(capsys, *close, "--at", "2026-12-02T02:00:00Z")
        assert "2026-11 was closed at 2026-12-01T02:00:00Z by finance" in again
        assert again.split("sha256 ")[1].split()[0] == out.split("sha256 ")[1].split()[0]
        ok(capsys, "members", "budgets", *db, "--at", "2026-12-02T03:00:00Z")  # posts it
        december = ok(
            capsys, "close", "month", "2026-12", *db, "--at", "2027-01-01T02:00:00Z", "--json"
        )
        dec = json.loads(december[: december.rindex("}") + 1])
        bob = next(s for s in dec["statements"] if s["member"] == "M2")
        assert bob["wallets"]["subsidy"] == {
            "opening": "12.00",
            "spent": "10.00",
            "closing": "2.00",
        }
        assert "bill ENG 研发部: 10.00" in december

        # the frozen figures are checked: a changed closed month is refused, not shown
        office = Database.open(db_url)
        try:
            with office.transaction():
                office.execute(
                    "UPDATE month_close SET figures = replace(figures, '108.00', '18.00') "
                    "WHERE period = '2026-11'"
                )
        finally:
            office.close()
        status, _, err = cloud(capsys, *close)
        assert status != 0 and "do not match their digest" in err and "Traceback" not in err
    finally:
        one.box.stop()
        two.box.stop()


def test_meal_limits_and_a_department_budget_hold_across_two_boxes(
    tmp_path: Path,
    db_url: str,
    broker: Mosquitto,
    ingest: Callable[..., RunningIngest],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 20 items 4 and 5: what one box took is counted at the other once head office
    has it (the members document carries each member's day and meal spending and each
    department's budget and spending); a subsidy payment past the budget is refused."""
    one, two, db, publish, settings = canteen(tmp_path, db_url, broker, ingest, capsys)
    try:
        ok(capsys, "members", "department", "set", "OPS", "--budget", "50.00", *db)
        members = tmp_path / "members.csv"
        members.write_text(
            f"id,name,group,department,cards\nM1,Alice,canteen,OPS,{ALICE}\n"
            f"M2,Bob,canteen,OPS,{BOB}\n"
        )
        at = ("--at", "2026-11-01T00:30:00Z")
        ok(capsys, "members", "import", str(members), "--settings", str(settings), *db, *at)
        grant = ("--id", "nov", "--group", "canteen", "--amount", "60.00", "--mode", "add")
        ok(capsys, "members", "grant", *grant, "--month", "2026-11", *db, *at)
        ok(capsys, *publish, "--at", "2026-11-03T11:00:00Z")
        assert eventually(lambda: one.version() == two.version() == 1)

        one.pay(ALICE, "25.00", datetime(2026, 11, 3, 12, 0), "b1-s1")
        lunch = datetime(2026, 11, 3, 12, 20)
        alice = two.accounts.identify(ALICE)
        assert not isinstance(alice, Refusal)
        # before head office knows: box-2 sees only its own (the documented bound)
        assert not isinstance(
            two.accounts.authorise(alice, "stored_value", Decimal(10), lunch), Refusal
        )
        assert eventually(lambda: one.drained())
        ok(capsys, *publish, "--at", "2026-11-03T12:10:00Z")
        assert eventually(lambda: one.version() == two.version() == 2)
        refused = two.accounts.authorise(alice, "stored_value", Decimal("10.00"), lunch)
        assert isinstance(refused, Refusal) and refused.code == "meal_limit", refused
        two.pay(ALICE, "5.00", lunch, "b2-s1")  # 25 at box-1 + 5 here: the lunch's 30.00

        bob = two.accounts.identify(BOB)
        assert not isinstance(bob, Refusal)
        # the budget leaves 50 - 25 (head office) - 5 (this box, not yet confirmed) = 20
        over = two.accounts.authorise(bob, "stored_value", Decimal("25.00"), lunch)
        assert isinstance(over, Refusal) and over.code == "department_budget", over
        assert "leaves 20.00" in over.message
        two.pay(BOB, "20.00", lunch, "b2-s2")
        dinner = datetime(2026, 11, 3, 18, 0)
        spent = two.accounts.authorise(bob, "stored_value", Decimal("1.00"), dinner)
        assert isinstance(spent, Refusal) and spent.code == "department_budget"
        # box-1 learns it from head office's next document
        assert eventually(lambda: two.drained())
        ok(capsys, *publish, "--at", "2026-11-03T17:00:00Z")
        assert eventually(lambda: one.version() == 3)
        late = one.accounts.authorise(
            one.accounts.identify(ALICE),  # type: ignore[arg-type]
            "stored_value",
            Decimal("1.00"),
            dinner,
        )
        assert isinstance(late, Refusal) and late.code == "department_budget"
        out = ok(capsys, "members", "department", "list", *db, "--month", "2026-11")
        assert "OPS  OPS  budget 50.00  spent 50.00  100.0 %" in out
    finally:
        one.box.stop()
        two.box.stop()
