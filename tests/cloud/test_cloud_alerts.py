"""Alert rules over the stored journals, and listing / acknowledging with `cloud alerts`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from cloud_testkit import cloud_cli, store_journal_directly

from cloud.fleetsim import StoreDay
from gateway.database import open_database
from gateway.journal.store import Journal

DAY = date.today() - timedelta(days=1)


def _alerts(db_url: str, *extra: str) -> list[dict]:
    status, out, err = cloud_cli("alerts", "--db", db_url, "--json", *extra)
    assert status == 0, err
    return list(json.loads(out))


def test_sales_rules_raise_once_and_alerts_can_be_acknowledged(
        tmp_path: Path, db_url: str) -> None:
    for store, days in (("store-1", [StoreDay("store-1", "box-1", DAY - timedelta(days=n), 40)
                                     for n in range(5, 0, -1)]
                         + [StoreDay("store-1", "box-1", DAY, 4)]),
                        ("store-2", [StoreDay("store-2", "box-1", DAY, 60, refund_share=0.5,
                                              no_sale_share=1.0)])):
        journal = Journal(open_database(tmp_path / f"{store}.db"))
        journal.append_many([entry for day in days for entry in day.records()])
        store_journal_directly(db_url, store, "box-1", journal)
    for _ in range(2):  # a second pass raises nothing new
        status, out, err = cloud_cli("alerts", "check", "--db", db_url, "--day", str(DAY))
        assert status == 0, err
    found = _alerts(db_url)
    kinds = sorted({a["kind"] for a in found})
    assert kinds == ["cashier.no_sale", "cashier.refund_void_rate", "store.sales_unusual"]
    unusual = [a for a in found if a["kind"] == "store.sales_unusual"]
    assert [a["store"] for a in unusual] == ["store-1"]
    assert len(found) == len({(a["kind"], a["store"], json.dumps(a["body"])) for a in found})
    first = found[0]["id"]
    status, _, err = cloud_cli("alerts", "ack", str(first), "--by", "ops", "--db", db_url)
    assert status == 0, err
    assert first not in [a["id"] for a in _alerts(db_url)]
    acked = [a for a in _alerts(db_url, "--all") if a["id"] == first]
    assert acked[0]["acknowledged_by"] == "ops"
    status, out, _ = cloud_cli("alerts", "--db", db_url, "--severity", "critical")
    assert status == 0 and out.strip().endswith("0 alert(s)")
    status, _, err = cloud_cli("alerts", "ack", "999999", "--db", db_url)
    assert status != 0 and "no alert with id 999999" in err and "Traceback" not in err
