"""Head office's remote commands and settings, end to end (issue 12, #14): `cloud cmd` and
`cloud publish config` -> a real Mosquitto -> `gateway run` -> the answer back at head
office (`cloud ingest` stores command results and the box's events)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemon_testkit import CLOUD, GATEWAY, Daemon
from ops_testkit import FAST_SYNC, ROOT, publish, synced_box_config, wait_until

from devices.simulators.printer import NetworkPrinterSimulator
from gateway.harness.brokers import Mosquitto
from gateway.settings import load_settings


@dataclass
class Office:
    url: str
    path: Path
    key: Path
    port: int
    daemon: Daemon
    printer: NetworkPrinterSimulator
    config: Path

    def cloud(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLOUD), *args, "--db", self.url, "--port", str(self.port)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cmd(self, name: str, *args: str) -> tuple[int, dict[str, object]]:
        done = self.cloud(
            "cmd", "store-1", "box-1", name, *args, "--key", str(self.key), "--timeout", "30"
        )
        assert "Traceback" not in done.stderr, done.stderr
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError:
            raise AssertionError(done.stdout + done.stderr) from None

    def events(self, kind: str) -> list[dict[str, object]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as c:
            return [
                json.loads(b)
                for (b,) in c.execute(
                    "SELECT body FROM box_event WHERE kind = ? ORDER BY received_at", (kind,)
                )
            ]


@pytest.fixture
def office(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Office]:
    """Head office, a broker, a printer and the box; `request.param` (indirect
    parametrisation) may map settings text to what replaces it before the box starts."""
    broker = Mosquitto(tmp_path / "broker").start()
    printer = NetworkPrinterSimulator().start()
    path = tmp_path / "office.db"
    url = f"sqlite:///{path}"
    ingest: subprocess.Popen[bytes] | None = None
    daemon: Daemon | None = None
    try:
        assert (
            subprocess.run(
                [str(CLOUD), "db", "upgrade", "--db", url], capture_output=True, check=False
            ).returncode
            == 0
        )
        registered = [str(CLOUD), "stores", "add", "store-1", "--db", url]
        assert subprocess.run(registered, capture_output=True, check=False).returncode == 0
        keys = subprocess.run(
            [str(CLOUD), "keys", "generate", "--dir", str(tmp_path), "--key-id", "ho-1"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        trusted = keys[keys.index("[[sync.trusted_keys]]") :]
        ingest = subprocess.Popen(
            [str(CLOUD), "ingest", "--db", url, "--port", str(broker.port)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "ingest.log").open("wb"),
        )
        config = synced_box_config(
            tmp_path,
            broker,
            f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n\n{trusted}',
        )
        for old, new in getattr(request, "param", {}).items():
            assert old in config.read_text(), old
            config.write_text(config.read_text().replace(old, new))
        daemon = Daemon(tmp_path, config, FAST_SYNC)
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        yield Office(url, path, tmp_path / "ho-1.pem", broker.port, daemon, printer, config)
    finally:
        if daemon is not None:
            assert daemon.stop() == 0, daemon.output()[-3000:]
        if ingest is not None:
            ingest.terminate()
            ingest.wait(20)
        printer.stop()
        broker.kill()


def sell(daemon: Daemon) -> int:
    assert daemon.key("scan", code="7612345001012")["ok"]
    paid = daemon.key("tender", type="cash", amount="5")
    assert paid["ok"], paid
    return int(paid["records"][0])  # type: ignore[index]


def test_remote_commands_run_on_the_box_and_answer_head_office(office: Office) -> None:
    sell(office.daemon)
    status, x = office.cmd("report_x")
    assert status == 0 and x["status"] == "ok", x
    result = x["result"]
    assert result["figures"]["sales"] == 1 and "X report" in result["text"], x  # type: ignore[index]

    status, backup = office.cmd("backup_now")
    assert status == 0, backup
    assert Path(str(backup["result"]["path"])).exists()  # type: ignore[index]

    status, page = office.cmd("print_test_page")
    assert status == 0 and page["result"] == {"printed": {"receipt": "ready"}}, page
    wait_until(lambda: b"sent by head office" in office.printer.printed, 10, "the test page")

    office.config.write_text(
        office.config.read_text().replace('sale_above = "500.00"', 'sale_above = "1.00"')
    )
    status, reload = office.cmd("reload_config")
    assert status == 0 and reload["result"]["reloaded"] is True, reload  # type: ignore[index]
    wait_until(lambda: "settings reloaded" in office.daemon.output(), 10, "the reload")

    good = office.config.read_text()
    office.config.write_text(good + "\n[anomalies]\nsale_abov = 3\n")
    status, refused = office.cmd("reload_config")
    assert status == 1 and refused["status"] == "failed", refused
    assert "old ones stay" in str(refused["error"]), refused
    office.config.write_text(good)

    status, bad = office.cmd("report_x", "day=2026-13")
    assert status == 1 and "YYYY-MM-DD" in str(bad["error"]), bad
    assert office.daemon.status()["lane"]["state"] == "idle"  # type: ignore[index]


def test_a_config_from_head_office_applies_between_sales_and_survives_a_restart(
    office: Office, tmp_path: Path
) -> None:
    assert office.daemon.key("scan", code="7612345001012")["ok"]  # a sale in progress
    document = tmp_path / "box-1.toml"
    document.write_text('[store]\nfooter = ["Remote footer"]\n\n[anomalies]\nsale_above = "1.00"\n')
    published = office.cloud(
        "publish",
        "config",
        str(document),
        "--store",
        "store-1",
        "--box",
        "box-1",
        "--key",
        str(office.key),
    )
    assert published.returncode == 0, published.stdout + published.stderr
    wait_until(lambda: office.events("document.applied"), 20, "document.applied")
    paid = office.daemon.key("tender", type="cash", amount="5")
    assert paid["ok"], paid
    during = int(paid["records"][0])  # type: ignore[index]
    after = sell(office.daemon)
    receipts = tmp_path / "receipts"
    wait_until(lambda: (receipts / f"{after:07d}-sale.txt").exists(), 10, "the receipt")
    assert "Remote footer" not in (receipts / f"{during:07d}-sale.txt").read_text()
    assert "Remote footer" in (receipts / f"{after:07d}-sale.txt").read_text()
    settings = load_settings(office.config)
    assert settings.store.footer == ["Remote footer"] or tuple(settings.store.footer) == (
        "Remote footer",
    )
    assert str(settings.anomalies.sale_above) == "1.00"
    assert "[[sync.trusted_keys]]" in office.config.read_text()  # the rest kept

    before = office.config.read_text()
    document.write_text('[mqtt]\nhost = "elsewhere.example"\n')
    published = office.cloud(
        "publish",
        "config",
        str(document),
        "--store",
        "store-1",
        "--box",
        "box-1",
        "--key",
        str(office.key),
    )
    assert published.returncode != 0 and "[mqtt]" in published.stderr, published.stderr
    assert "nothing was sent" in published.stderr
    # an older (or careless) head office signs and sends it all the same: the box refuses it
    from cloud.publish import document_topic, load_key, signed_document

    forged = signed_document(
        "config",
        "store-1",
        "box-1",
        99,
        {"mqtt": {"host": "elsewhere.example"}},
        load_key(office.key),
        "2026-11-24T10:00:00+00:00",
    )
    publish(office.port, document_topic(ROOT, "config", "store-1", "box-1"), forged, retain=True)
    wait_until(lambda: office.events("document.refused"), 20, "document.refused")
    refusal = office.events("document.refused")[-1]
    assert "mqtt.host" in str(refusal["error"]) or "[mqtt]" in str(refusal["error"]), refusal
    assert office.config.read_text() == before
    assert re.search(r"may not change remotely", str(refusal["error"])), refusal


def test_logs_uploaded_on_command_are_bounded_and_shown_by_cloud_logs(office: Office) -> None:
    """`cloud cmd ... upload_logs` -> the box's newest log lines, bounded, as `log.upload`
    events through sync's outbox -> ingest -> `cloud logs STORE/BOX`; the journal still
    drains beside them."""

    def cloud_logs(office: Office, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(CLOUD), "logs", *args, "--db", office.url]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    done = cloud_logs(office, "store-1/box-1")
    assert done.returncode == 2 and "no log upload from store-1/box-1" in done.stderr
    seq = sell(office.daemon)
    status, sent = office.cmd("upload_logs", "lines=5")
    assert status == 0 and sent["status"] == "ok", sent
    result = sent["result"]
    assert result["lines"] == 5 and result["parts"] == 1, result  # type: ignore[index]
    wait_until(lambda: office.events("log.upload"), 20, "the upload at head office")
    shown = cloud_logs(office, "store-1/box-1")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 5 and all(re.match(r"\d\d:\d\d:\d\d \w+ ", line) for line in lines)

    status, small = office.cmd("upload_logs", "lines=2000", "max_bytes=300")
    assert status == 0, small
    assert 0 < small["result"]["bytes"] <= 300, small  # type: ignore[index]
    upload = str(small["result"]["upload"])  # type: ignore[index]
    wait_until(lambda: len(office.events("log.upload")) == 2, 20, "the second upload")
    both = cloud_logs(office, "store-1/box-1", "--upload", upload, "--json")
    assert both.returncode == 0, both.stderr
    body = json.loads(both.stdout)
    assert body["upload"] == upload and body["missing"] == []
    assert sum(len(line.encode()) + 1 for line in body["lines"]) <= 300

    for bad, why in (("lines=0", "lines=0 is out of range"), ("max_bytes=1MB", "out of range")):
        status, refused = office.cmd("upload_logs", bad)
        assert status == 1 and why in str(refused["error"]), refused
    status, refused = office.cmd("upload_logs", "level=9")
    assert status == 1 and "unknown argument" in str(refused["error"]), refused
    done = cloud_logs(office, "store-1/box-1", "--upload", "nope")
    assert done.returncode == 2 and "sent no upload 'nope'" in done.stderr
    journal = office.daemon.status()["journal"]
    wait_until(lambda: office.daemon.status()["journal"]["acknowledged_seq"] >= seq, 20, "ack")  # type: ignore[index]
    assert journal


def test_a_backup_goes_to_head_office_in_chunks_and_restores_a_replacement_box(
    office: Office, tmp_path: Path
) -> None:
    """`cloud cmd ... upload_backup` -> a fresh online backup in checksummed chunks through
    sync's outbox -> ingest -> `cloud backups list|fetch` (refusing one older than head
    office's acknowledged position) -> `gateway restore` on a replacement box: its journal
    with the same seqs and chain."""

    def cloud(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(CLOUD), "backups", *args, "--db", office.url]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    for _ in range(3):
        seq = sell(office.daemon)
    status, sent = office.cmd("upload_backup")
    assert status == 0 and sent["status"] == "ok", sent
    result = sent["result"]
    assert result["head_seq"] >= seq and result["parts"] >= 1, result  # type: ignore[index]
    upload = str(result["upload"])  # type: ignore[index]
    parts = int(result["parts"])  # type: ignore[index]
    wait_until(lambda: len(office.events("backup.chunk")) == parts, 30, "every chunk")
    listed = cloud("list", "store-1/box-1")
    assert listed.returncode == 0 and f"{upload}  " in listed.stdout and "complete" in listed.stdout

    out = tmp_path / "fetched.db"
    done = cloud("fetch", "store-1/box-1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o077 == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result["sha256"]  # type: ignore[index]
    again = cloud("fetch", "store-1/box-1", "--out", str(out))
    assert again.returncode == 2 and "exists already" in again.stderr

    # The box sells on; once head office acknowledged past the backup, it is refused.
    later = sell(office.daemon)
    wait_until(lambda: acked(office) >= later, 20, "the later sale acknowledged")
    stale = cloud("fetch", "store-1/box-1", "--out", str(tmp_path / "stale.db"))
    assert stale.returncode == 2 and f"ends at seq {result['head_seq']}" in stale.stderr  # type: ignore[index]
    assert "Traceback" not in stale.stderr
    forced = cloud("fetch", "store-1/box-1", "--out", str(tmp_path / "f.db"), "--force")
    assert forced.returncode == 0, forced.stderr

    # A replacement box (a fresh data folder) restored from what head office holds.
    replacement = tmp_path / "replacement"
    replacement.mkdir()
    config = replacement / "gateway.toml"
    config.write_text(
        office.config.read_text().replace(f'data_dir = "{tmp_path}"', f'data_dir = "{replacement}"')
    )
    restored = subprocess.run(
        [str(GATEWAY), "restore", str(out), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert restored.returncode == 0, restored.stderr
    assert f"journal 1..{result['head_seq']} verified" in restored.stdout  # type: ignore[index]
    with contextlib.closing(sqlite3.connect(replacement / "storegate.db")) as c:
        mine = c.execute("SELECT seq, hash FROM journal_record ORDER BY seq").fetchall()
    with contextlib.closing(sqlite3.connect(f"file:{office.path}?mode=ro", uri=True)) as c:
        theirs = c.execute(
            "SELECT seq, hash FROM journal_record WHERE seq <= ? ORDER BY seq",
            (result["head_seq"],),  # type: ignore[index]
        ).fetchall()
    assert mine == theirs and len(mine) == result["head_seq"]  # type: ignore[index]

    # Sent back over MQTT instead: the stale upload is refused, a fresh one restores a
    # second replacement with `gateway restore --from-head-office`, which also learns
    # head office's acknowledged position from the box's retained ack.
    broker = ("--port", str(office.port))
    refused = cloud("send", "store-1/box-1", "--upload", upload, *broker)
    assert refused.returncode == 2 and "ends at seq" in refused.stderr
    status, fresh = office.cmd("upload_backup")
    assert status == 0, fresh
    total = parts + int(fresh["result"]["parts"])  # type: ignore[index]
    wait_until(lambda: len(office.events("backup.chunk")) == total, 30, "the fresh chunks")
    sent = cloud("send", "store-1/box-1", *broker)
    assert sent.returncode == 0 and "--from-head-office" in sent.stdout, sent.stderr
    second = tmp_path / "second"
    second.mkdir()
    config2 = second / "gateway.toml"
    config2.write_text(
        office.config.read_text()
        .replace(f'data_dir = "{tmp_path}"', f'data_dir = "{second}"')
        .replace('# client_id = "storegate-store-1-box-1"', 'client_id = "replacement"')
    )
    fetched = subprocess.run(
        [str(GATEWAY), "restore", "--from-head-office", "--config", str(config2), "--wait", "30"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    head = int(fresh["result"]["head_seq"])  # type: ignore[index]
    assert f"received {fresh['result']['name']} from head office" in fetched.stdout  # type: ignore[index]
    assert f"journal 1..{head} verified" in fetched.stdout
    with contextlib.closing(sqlite3.connect(second / "storegate.db")) as c:
        again = c.execute("SELECT seq, hash FROM journal_record ORDER BY seq").fetchall()
    with contextlib.closing(sqlite3.connect(f"file:{office.path}?mode=ro", uri=True)) as c:
        stored = c.execute(
            "SELECT seq, hash FROM journal_record WHERE seq <= ? ORDER BY seq", (head,)
        ).fetchall()
    assert again == stored and len(again) == head
    neither = subprocess.run(
        [str(GATEWAY), "restore", "--config", str(config2)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert neither.returncode == 2 and "give a backup PATH or --from-head-office" in neither.stderr


def acked(office: Office) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{office.path}?mode=ro", uri=True)) as c:
        row = c.execute("SELECT acked_seq FROM box_chain WHERE store = 'store-1'").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    "office",
    [{"interval_hours = 24\n": "interval_hours = 0.0005\n", "upload = false": "upload = true"}],
    indirect=True,
)
def test_scheduled_backups_go_to_head_office_with_backup_upload(office: Office) -> None:
    """`[backup] upload = true`: each backup the daemon takes on its schedule (here every
    1.8 s) reaches head office complete, without anyone asking."""

    def complete() -> bool:
        done = subprocess.run(
            [str(CLOUD), "backups", "list", "store-1/box-1", "--json", "--db", office.url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode == 0 and any(u["complete"] for u in json.loads(done.stdout))

    sell(office.daemon)
    wait_until(complete, 30, "a complete scheduled backup at head office")
