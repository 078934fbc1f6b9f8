"""Cash management through `gateway run` (issue 14, item 5): a float at sign-on, a paid-in
and a paid-out over the control socket (the drawer opens, a slip prints on the TCP printer
simulator, a refused paid-out writes nothing), a close counted per note and coin, then
`gateway report x` and `gateway report z` showing expected cash, counted and over/short."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path

from daemon_testkit import GATEWAY, NO_SYNC, Daemon, box_config

from devices.simulators.printer import NetworkPrinterSimulator
from gateway.receipts.escpos import drawer_pulse

MILK = "7612345001012"  # 1.75
KICK = drawer_pulse(2)
SUPERVISOR = {"supervisor": "201", "supervisor_pin": "836104"}


def run(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def wait_until(what: str, check: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def bodies(database: Path, kind: str) -> list[dict[str, object]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT body FROM journal_record WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(body) for (body,) in rows]


def head(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT head_seq FROM journal_state").fetchone()[0])


def line(text: str, label: str) -> str:
    found = [row for row in text.splitlines() if row.startswith(label)]
    assert found, f"no {label!r} in\n{text}"
    return found[0].split("  ")[-1].strip()


def test_float_paid_in_out_and_a_counted_close_reach_x_and_z(tmp_path: Path) -> None:
    printer = NetworkPrinterSimulator().start()
    config = box_config(
        tmp_path, f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
    )
    database = tmp_path / "storegate.db"
    receipts = tmp_path / "receipts"
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951", float="80.00")["ok"]
        assert daemon.key("scan", code=MILK)["ok"]
        sale = daemon.key("tender", type="cash", amount="5")
        assert sale["ok"], sale
        paid_in = daemon.key("paid_in", amount="20", reason="change from the bank")
        assert paid_in["ok"], paid_in

        before = head(database)
        for refused, code in (
            ({"amount": "10", "reason": "milk man"}, "needs_override"),
            ({"amount": "10", "reason": "", **SUPERVISOR}, "needs_reason"),
            ({"amount": "500", "reason": "safe drop", **SUPERVISOR}, "drawer_short"),
        ):
            answer = daemon.key("paid_out", **refused)
            assert not answer["ok"] and answer["refused"] == code, answer
        assert head(database) == before  # a refused paid-out wrote nothing
        bad = daemon.key("paid_out", amount="-3", reason="x", **SUPERVISOR)
        assert not bad["ok"] and "negative" in str(bad["error"]), bad

        paid_out = daemon.key("paid_out", amount="12.50", reason="milk man", **SUPERVISOR)
        assert paid_out["ok"], paid_out
        [movement_in] = bodies(database, "paid_in")
        [movement_out] = bodies(database, "paid_out")
        assert (movement_in["amount"], movement_in["staff"]["name"]) == ("20.00", "Anna")  # type: ignore[index]
        assert movement_out["override"]["supervisor"]["name"] == "Beat"  # type: ignore[index]

        # a slip for each movement and the drawer opened for the sale and both movements
        wait_until("three slips are printed", lambda: len(list(receipts.glob("*.txt"))) >= 3)
        slips = sorted(p.name for p in receipts.glob("*.txt"))
        assert [name.split("-", 1)[1] for name in slips] == [
            "sale.txt",
            "paid_in.txt",
            "paid_out.txt",
        ]
        out_slip = (receipts / slips[2]).read_text()
        assert "PAID OUT" in out_slip and "milk man" in out_slip and "12.50" in out_slip
        wait_until("the drawer opened three times", lambda: printer.printed.count(KICK) >= 3)

        x = run(config, "report", "x")
        assert x.returncode == 0, x.stderr
        # expected cash = float + cash sales - cash refunds + paid in - paid out
        assert line(x.stdout, "Expected cash") == "89.25"  # 80 + 1.75 - 0 + 20 - 12.50
        assert line(x.stdout, "Paid in") == "20.00" and line(x.stdout, "Paid out") == "12.50"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line(x.stdout, "Printed"))
        assert "Counted" not in x.stdout  # nothing counted yet

        close = daemon.key("close_shift", d_50="1", d_3="1")
        assert not close["ok"] and close["refused"] == "bad_denomination", close  # no 3 CHF
        close = daemon.key("close_shift", counted="90", d_50="1", d_20="1")
        assert not close["ok"] and close["refused"] == "count_mismatch", close
        close = daemon.key("close_shift", d_50="1", d_20="1", d_10="1", d_5="1", d_2="2")
        assert close["ok"], close  # 89.00 counted: 0.25 short
        [shift_close] = bodies(database, "shift_close")
        assert (shift_close["counted"], shift_close["over_short"]) == ("89.00", "-0.25")
        assert shift_close["denominations"][0] == {"value": "50", "pieces": 1, "amount": "50.00"}  # type: ignore[index]

        z = run(config, "report", "z", "--staff", "201", "--pin-stdin", stdin="836104\n")
        assert z.returncode == 0, z.stderr
        assert line(z.stdout, "Expected cash") == "89.25"
        assert line(z.stdout, "Counted") == "89.00"
        assert line(z.stdout, "Over/short") == "-0.25"
        assert line(z.stdout, "Paid out") == "12.50"
        assert "net  tax  gross" in z.stdout
        [z_body] = bodies(database, "z_report")
        assert (z_body["paid_ins"], z_body["paid_outs"], z_body["over_short"]) == (1, 1, "-0.25")
    finally:
        assert daemon.stop() == 0, daemon.output()
        printer.stop()
