"""What head office hears of the box's printer and alerts (issue 12, #13), end to end:
`gateway run` with the TCP printer simulator, a real Mosquitto and `cloud ingest`.

Paper out reaches telemetry (so head office's `printer.paper_out` alert fires, once, with
words); the receipts lost meanwhile raise one box alert, not one per receipt; both clear
when the printer prints again. Box anomalies arrive with their text, not empty."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path

from daemon_testkit import CLOUD, Daemon
from ops_testkit import FAST_SYNC, synced_box_config, wait_until

from devices.simulators.printer import NetworkPrinterSimulator
from gateway.harness.brokers import Mosquitto


def alerts(office: Path) -> list[tuple[str, str, str | None]]:
    """(kind, message, cleared_at) of every alert at head office."""
    with contextlib.closing(sqlite3.connect(f"file:{office}?mode=ro", uri=True)) as conn:
        return [
            (k, m, b)
            for k, m, b in conn.execute("SELECT kind, message, cleared_at FROM alert ORDER BY id")
        ]


def of_kind(office: Path, kind: str) -> list[tuple[str, str, str | None]]:
    return [a for a in alerts(office) if a[0] == kind]


def test_paper_out_raises_one_alert_with_words_and_clears_on_recovery(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    printer = NetworkPrinterSimulator().start()
    office = tmp_path / "office.db"
    url = f"sqlite:///{office}"
    ingest: subprocess.Popen[bytes] | None = None
    daemon: Daemon | None = None
    try:
        assert (
            subprocess.run(
                [str(CLOUD), "db", "upgrade", "--db", url], capture_output=True, check=False
            ).returncode
            == 0
        )
        ingest = subprocess.Popen(
            [str(CLOUD), "ingest", "--db", url, "--port", str(broker.port)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "ingest.log").open("wb"),
        )
        config = synced_box_config(
            tmp_path, broker, f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
        )
        daemon = Daemon(tmp_path, config, FAST_SYNC)
        for _ in range(4):  # the failed_pins anomaly (more than 3 in 5 min)
            assert daemon.key("sign_on", staff="101", pin="000000")["refused"] == "wrong_pin"
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]

        printer.flags.add("paper_out")
        for _ in range(2):
            assert daemon.key("scan", code="7612345001012")["ok"]
            assert daemon.key("tender", type="cash", amount="5")["ok"]
        wait_until(
            lambda: of_kind(office, "printer.paper_out") and of_kind(office, "event.alert.printer"),
            30,
            "head office's printer alerts",
        )
        paper = of_kind(office, "printer.paper_out")
        assert len(paper) == 1, alerts(office)
        assert "printer receipt is out of paper" in paper[0][1], paper
        lost = of_kind(office, "event.alert.printer")
        assert len(lost) == 1, alerts(office)  # two receipts lost, one alert
        assert "receipt 2 not printed" in lost[0][1] and "gateway receipt 2" in lost[0][1], lost
        wait_until(lambda: of_kind(office, "event.anomaly.failed_pins"), 20, "the anomaly")
        anomaly = of_kind(office, "event.anomaly.failed_pins")[0]
        assert anomaly[1].split("reported anomaly.failed_pins:")[1].strip(), anomaly

        printer.flags.clear()
        wait_until(
            lambda: all(
                a[2] is not None
                for a in of_kind(office, "printer.paper_out")
                + of_kind(office, "event.alert.printer")
            ),
            30,
            "the printer alerts to clear",
        )
        status = daemon.status()
        assert "receipt ready" in str(status["printer"]), status["printer"]
        cleared = [a for a in status["alerts"] if a.get("cleared")]  # type: ignore[union-attr]
        assert cleared and "2, 3" in str(cleared[-1]["message"]), status["alerts"]  # type: ignore[index]
        assert len(of_kind(office, "printer.paper_out")) == 1
    finally:
        if daemon is not None:
            assert daemon.stop() == 0, daemon.output()[-3000:]
        if ingest is not None:
            ingest.terminate()
            ingest.wait(20)
        printer.stop()
        broker.kill()
