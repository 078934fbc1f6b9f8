"""`gateway run` on a journal whose chain does not verify (issue 12, #19): it refuses to
sell, alerts with where the chain breaks, and sells again once a technician accepts the
break with `gateway accept-break` (journalled); a clean start walks only from the
checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from daemon_testkit import ADMIN, GATEWAY, NO_SYNC, ROOT, Daemon, add_admin, box_config
from ops_testkit import journal_bodies

from gateway.database import open_database
from gateway.journal import verify_journal

sys.path.insert(0, str(ROOT / "tests" / "journal"))
from journal_testkit import tamper


def sell(daemon: Daemon) -> dict[str, object]:
    scanned = daemon.key("scan", code="7612345001012")
    if not scanned["ok"]:
        return scanned
    return daemon.key("tender", type="cash", amount="5")


def test_a_tampered_journal_sells_nothing_until_the_break_is_accepted(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    database = tmp_path / "storegate.db"
    add_admin(database)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        for _ in range(3):
            assert sell(daemon)["ok"]
    finally:
        assert daemon.stop() == 0, daemon.output()
    sale = journal_bodies(database, "sale")[1]
    sale["total"] = "0.05"
    tamper(
        database,
        (
            "UPDATE journal_record SET body = ? WHERE seq = 3",
            (json.dumps(sale, sort_keys=True, separators=(",", ":")),),
        ),
    )
    assert not verify_journal(open_database(database, readonly=True)).ok

    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        status = daemon.status()
        broken = status["journal"]["broken"]  # type: ignore[index]
        assert broken and broken["seq"] == 3, status["journal"]  # type: ignore[index]
        alerts = [a for a in status["alerts"] if a["source"] == "journal"]  # type: ignore[index]
        assert alerts and "BROKEN at record 3" in alerts[0]["message"], status["alerts"]
        assert "gateway accept-break --seq 3" in alerts[0]["message"]
        refused = sell(daemon)
        assert refused.get("refused") == "journal_broken", refused
        assert "record 3" in str(refused["error"])

        wrong = subprocess.run(
            [
                str(GATEWAY),
                "accept-break",
                "--seq",
                "2",
                "--by",
                ADMIN[0],
                "--pin-stdin",
                "--reason",
                "ticket 4711",
                "--config",
                str(config),
            ],
            input=f"{ADMIN[1]}\n",
            capture_output=True,
            text=True,
            check=False,
        )
        assert wrong.returncode == 1 and "breaks at record 3" in wrong.stderr, wrong
        assert "Traceback" not in wrong.stderr
        accepted = subprocess.run(
            [
                str(GATEWAY),
                "accept-break",
                "--seq",
                "3",
                "--by",
                ADMIN[0],
                "--pin-stdin",
                "--reason",
                "ticket 4711: copy kept",
                "--config",
                str(config),
            ],
            input=f"{ADMIN[1]}\n",
            capture_output=True,
            text=True,
            check=False,
        )
        assert accepted.returncode == 0, accepted.stdout + accepted.stderr
        assert sell(daemon)["ok"]
    finally:
        assert daemon.stop() == 0, daemon.output()
    [record] = journal_bodies(database, "journal_break_accepted")
    assert record["seq"] == 3 and record["by"] == ADMIN[0] and "4711" in record["reason"]

    again = Daemon(tmp_path, config, NO_SYNC)  # the break stays accepted across a restart
    try:
        assert again.status()["journal"]["broken"] is None  # type: ignore[index]
        assert sell(again)["ok"]
        assert "from the checkpoint" in again.output()
    finally:
        assert again.stop() == 0, again.output()
