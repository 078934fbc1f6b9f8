"""Head office keeps who acted (issue 13 item 2): records a LAN tablet's person wrote, with
the till's cashier as `operator`, go through ingest's checks into head office's tables as
written, parse with the lane's models (none skipped) and count toward the person who acted
in the report by cashier."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

from cloud_testkit import cloud_cli, store_journal_directly

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lane"))
from lane_testkit import CASHIER, CATALOG, SETTINGS, Clock, make_lane

from cloud.db import Database
from cloud.sales import Period, load
from gateway.catalog.catalog import load_catalog_file
from gateway.lane import events as ev
from gateway.lane.events import Outcome
from gateway.settings import load_settings

MILK = "7612345001012"


def test_the_actor_and_the_operator_reach_head_office(tmp_path: Path, db_url: str) -> None:
    settings = load_settings(SETTINGS)
    lane = make_lane(tmp_path / "box.db", load_catalog_file(CATALOG), settings)
    clock = Clock()
    assert isinstance(lane.handle(ev.OpenShift(clock(), CASHIER)), Outcome)
    for actor in (None, "201"):  # Anna at the till, then Beat from a tablet
        assert isinstance(lane.handle(ev.Scan(clock(), MILK, actor=actor)), Outcome)
        assert isinstance(lane.handle(ev.Tender(clock(), "cash", Decimal(5), actor=actor)), Outcome)
    assert isinstance(lane.handle(ev.NoSale(clock(), "change", actor="201")), Outcome)
    store, box = settings.store.id, settings.store.box
    store_journal_directly(db_url, store, box, lane.book.journal)

    db = Database.open(db_url)
    try:
        rows = db.query("SELECT kind, body FROM journal_record ORDER BY seq", [])
        loaded = load(db, Period.parse(None, None))
    finally:
        db.close()
    bodies = [(kind, json.loads(body)) for kind, body in rows]
    operators = [(k, b["staff"]["id"], b.get("operator", {}).get("id")) for k, b in bodies]
    assert [o for o in operators if o[0] in ("sale", "no_sale")] == [
        ("sale", "101", None),
        ("sale", "201", "101"),
        ("no_sale", "201", "101"),
    ]
    assert loaded.skipped == 0 and len(loaded.entries) == 3
    status, out, err = cloud_cli("report", "sales", "--by", "cashier", "--db", db_url, "--json")
    assert status == 0, err
    tickets = {r["cashier"]: r["tickets"] for r in json.loads(out)["rows"]}
    assert tickets == {"101 Anna": 1, "201 Beat": 1}
