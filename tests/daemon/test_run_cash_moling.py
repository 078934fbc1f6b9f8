"""抹零 for cash only, through `gateway run`, its control socket and the TCP printer
simulator: with the catalog's `moling` set to drop the jiao for cash only, capped at 0.50,
a sale paid in cash pays the total less 0.50 and its receipt says so; the same basket paid
by card is charged the exact total; the journal keeps both sales' lines exact."""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, NO_SYNC, Daemon, box_config

from devices.simulators.printer import NetworkPrinterSimulator

MILK, YOGHURT = "7612345001012", "7612345001050"
CUT = b"\x1dV\x00"  # GS V 0: the end of each receipt


def moling_catalog(directory: Path) -> Path:
    doc = json.loads(EXAMPLE_CATALOG.read_text())
    doc["money"] = {
        "currency": "CNY",
        "decimals": 2,
        "moling": {"increment": "1.00", "cap": "0.50", "cash_only": True},
    }
    path = directory / "catalog.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def receipts(printer: NetworkPrinterSimulator, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while len(jobs := bytes(printer.printed).split(CUT)[:-1]) < count:
        assert time.monotonic() < deadline, bytes(printer.printed)[-300:]
        time.sleep(0.05)
    return [job.split(b"\x1d(k")[0].decode("cp437", "replace") for job in jobs]


def ring(daemon: Daemon) -> None:
    assert daemon.key("scan", code=MILK)["ok"]  # 1.75
    assert daemon.key("scan", code=YOGHURT, quantity="3")["ok"]  # 3 for 2.00: 3.75 in all


def test_cash_pays_less_its_capped_moling_and_a_card_the_exact_total(tmp_path: Path) -> None:
    printer = NetworkPrinterSimulator().start()
    config = box_config(
        tmp_path, f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
    )
    config.write_text(
        config.read_text().replace(str(EXAMPLE_CATALOG), str(moling_catalog(tmp_path)))
    )
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        ring(daemon)
        paid = daemon.key("tender", type="cash", amount="10")
        assert paid["ok"] and paid["state"] == "idle", paid
        ring(daemon)
        card = daemon.key("tender", type="card", reference="T-1")
        assert card["ok"] and card["state"] == "idle", card
        cash_slip, card_slip = receipts(printer, 2)
    finally:
        daemon.stop()
        printer.stop()
    # the jiao of 3.75 would be 0.75: capped at 0.50, cash pays 3.25 and gets 6.75 back
    assert "  cash rounding                      -0.50" in cash_slip, cash_slip
    assert "  paid CNY                            3.25" in cash_slip, cash_slip
    assert "TOTAL CNY                             3.75" in cash_slip
    assert "Change                                6.75" in cash_slip
    assert "cash rounding" not in card_slip and "3.75" in card_slip, card_slip
    with sqlite3.connect(tmp_path / "storegate.db") as db:
        bodies = [
            json.loads(body)
            for (body,) in db.execute(
                "SELECT body FROM journal_record WHERE kind = 'sale' ORDER BY seq"
            )
        ]
    cash, by_card = (body["totals"] for body in bodies)
    assert (cash["total"], cash["cash_rounding"], cash["due"]) == ("3.75", "-0.50", "3.25")
    assert (by_card["total"], by_card["cash_rounding"], by_card["due"]) == ("3.75", "0.00", "3.75")
    for body in bodies:  # the lines stay exact: nothing of the 抹零 is shared over them
        assert sum(Decimal(line["total"]) for line in body["lines"]) == Decimal("3.75")
        assert all(a["kind"] != "moling" for ln in body["lines"] for a in ln["adjustments"])
