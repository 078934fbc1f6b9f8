"""Signed updates end to end (issue 19 item 4): `cloud update build` and `cloud update
publish` -> a real Mosquitto -> `gateway run`, which leaves the order; `gateway update
apply` (what storegate-update.service runs) builds the new version's environment, waits
for the update lock while a sale is open at the real till, switches `current` once the
sale is paid, restarts, finds the new version never ready (the tiny wheel's `gateway
status` exits 1), switches back to the real storegate and restarts it; that daemon
journals every step, and `cloud fleet` shows the box's update state from its telemetry.

Also: the update lock is refused to a technician of the socket's group (played by a real
local account), and an update document whose manifest was altered is refused by the box
and journalled."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from updates_testkit import make_wheel

from gateway.daemon.lock import daemon_holds
from gateway.harness.brokers import Mosquitto
from gateway.updates.agent import ORDER, STATE, read_json, updates_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import CLOUD, GATEWAY, Daemon, local_user
from ops_testkit import FAST_SYNC, journal_bodies, synced_box_config, wait_until

VENV = Path(sys.executable).parent.parent  # the real storegate: what the box runs now


@dataclass
class Office:
    url: str
    key: Path
    broker: Mosquitto
    tmp: Path

    def cloud(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(CLOUD), *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def bundle(self, version: str, status_exit: int) -> Path:
        wheels = self.tmp / f"wheels-{version}"
        make_wheel(wheels, version, status_exit)
        out = self.tmp / f"bundle-{version}"
        done = self.cloud(
            "update", "build", str(wheels), "--version", version, "--out", str(out),
            "--key", str(self.key),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return out

    def publish(self, bundle: Path, *target: str) -> subprocess.CompletedProcess[str]:
        return self.cloud(
            "update", "publish", str(bundle), "--url", bundle.as_uri(),
            *(target or ("--store", "store-1")),
            "--key", str(self.key), "--port", str(self.broker.port), "--db", self.url,
        )  # fmt: skip

    def fleet(self) -> list[dict[str, object]]:
        done = self.cloud("fleet", "--json", "--db", self.url)
        assert done.returncode == 0, done.stderr
        found: list[dict[str, object]] = json.loads(done.stdout)
        return found


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    broker = Mosquitto(tmp_path / "broker").start()
    url = f"sqlite:///{tmp_path / 'office.db'}"
    ingest: subprocess.Popen[bytes] | None = None
    try:
        office = Office(url, tmp_path / "keys" / "ho-1.pem", broker, tmp_path)
        assert office.cloud("db", "upgrade", "--db", url).returncode == 0
        assert office.cloud("stores", "add", "store-1", "store-2", "--db", url).returncode == 0
        group = ("groups", "add", "north", "store-1", "store-2", "--db", url)
        assert office.cloud(*group).returncode == 0
        ingest = subprocess.Popen(
            [str(CLOUD), "ingest", "--db", url, "--port", str(broker.port)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "ingest.log").open("wb"),
        )
        yield office
    finally:
        if ingest is not None:
            ingest.terminate()
            ingest.wait(20)
        broker.kill()


def box_settings(directory: Path, office: Office) -> Path:
    """The example box synced to the office's broker, trusting its key, with `current`
    pointing at the real storegate and a restart command that starts whatever `current`
    holds as `gateway run` (what `systemctl restart storegate` does on a box)."""
    keys = office.cloud("keys", "generate", "--dir", str(office.key.parent), "--key-id", "ho-1")
    assert keys.returncode == 0, keys.stderr
    trusted = keys.stdout[keys.stdout.index("[[sync.trusted_keys]]") :]
    config: Path = synced_box_config(directory, office.broker, f"\n{trusted}")
    link = directory / "opt" / "current"
    link.parent.mkdir(parents=True)
    os.symlink(VENV, link)
    env = " ".join(f"{k}={v}" for k, v in FAST_SYNC.items())
    restart = (
        f'env {env} "{link}/bin/gateway" run --config "{config}" >>"{directory}/run.log" 2>&1 &'
    )
    text = config.read_text()
    for old, new in (
        ('link = "/opt/storegate/current"', f'link = "{link}"'),
        ('environments = "/opt/storegate/venvs"', f'environments = "{directory / "venvs"}"'),
        (
            'restart_command = ["systemctl", "restart", "storegate.service"]',
            f"restart_command = {json.dumps(['sh', '-c', restart])}",
        ),
        ("health_timeout_s = 60", "health_timeout_s = 30"),
        ("lock_retry_s = 10", "lock_retry_s = 0.2"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text)
    return config


def stop_running(directory: Path) -> None:
    """Stop the daemon the updater restarted (not a child of this test)."""
    status = subprocess.run(
        [str(GATEWAY), "status", "--json", "--config", str(directory / "gateway.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    if status.returncode == 0:
        os.kill(int(json.loads(status.stdout)["pid"]), signal.SIGTERM)
    wait_until(lambda: not daemon_holds(directory), 30, "the restarted daemon to stop")


def test_update_waits_for_the_sale_switches_and_rolls_back_by_itself(office: Office) -> None:
    directory = office.tmp / "box"
    directory.mkdir()
    config = box_settings(directory, office)
    box = Daemon(directory, config, FAST_SYNC)
    updater: subprocess.Popen[str] | None = None
    try:
        bundle = office.bundle("2.0.0", status_exit=1)
        done = office.publish(bundle, "--group", "north", "--pilot", "store-1")
        assert done.returncode == 0, done.stderr
        assert "published update to storegate 2.0.0 for store-1" in done.stdout
        assert "rollout 1: pilot stores store-1 first" in done.stdout
        assert "store-2" not in done.stdout.split("rollout 1")[0]
        order = updates_dir(directory) / ORDER
        wait_until(order.exists, 30, "the box to leave the update order")

        assert box.key("sign_on", staff="101", pin="472951")["ok"]
        assert box.key("scan", code="7612345001012")["ok"]  # a sale is open
        updater = subprocess.Popen(
            [str(GATEWAY), "update", "apply", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def waiting_for_the_lock() -> bool:
            state = read_json(updates_dir(directory) / STATE) or {}
            steps = state.get("steps", [])
            return any(s["input"] == "lock_busy" for s in steps)

        wait_until(waiting_for_the_lock, 180, "the updater to wait for the update lock")
        assert box.process.poll() is None  # the till still sells
        assert os.readlink(directory / "opt" / "current") == str(VENV)
        paid = box.key("tender", type="cash", amount="20")
        assert paid["ok"], paid
        assert box.process.wait(30) == 0  # stopped between sales, cleanly

        out, err = updater.communicate(timeout=240)
        assert updater.returncode == 1, out + err
        assert out.startswith("update 2.0.0-1: rolled_back"), out + err
        assert os.readlink(directory / "opt" / "current") == str(VENV)
        assert not (directory / "venvs" / "2.0.0").exists()

        def fleet_says_rolled_back() -> bool:
            rows = office.fleet()
            update = rows[0].get("update") if rows else None
            return isinstance(update, dict) and update.get("state") == "rolled_back"

        wait_until(fleet_says_rolled_back, 60, "cloud fleet to show the rollback")
        table = office.cloud("fleet", "--db", office.url).stdout
        assert "2.0.0 ROLLED_BACK" in table, table
        # The pilot rolled back: the rollout says so and does not spread the version.
        status = office.cloud("rollout", "status", "1", "--db", office.url).stdout
        assert "box-1: refused - rolled_back:" in status, status
        more = office.cloud(
            "rollout", "continue", "1", "--key", str(office.key), "--port",
            str(office.broker.port), "--db", office.url,
        )  # fmt: skip
        assert (
            more.returncode == 2 and "the pilot is not done: store-1/box-1 refused" in more.stderr
        )
    finally:
        if updater is not None and updater.poll() is None:
            updater.kill()
        stop_running(directory)
        box.stop()

    steps = [b for b in journal_bodies(directory / "storegate.db", "box_action")]
    updates = [b for b in steps if b["action"] == "update"]
    states = [b["state"] for b in updates]
    assert states[:5] == ["idle", "downloaded", "verified", "installing", "installed"]
    assert states[-4:] == ["switching", "checking", "rolling_back", "rolled_back"]
    assert [b["step"] for b in updates] == list(range(1, len(updates) + 1))  # once each
    assert {b["via"] for b in updates} == {"head_office"}
    assert "not ready" in str(updates[-2]["detail"])


# A raw client a technician's account runs with the system's Python (no storegate there).
CLIENT = (
    "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
    "s.sendall(sys.stdin.read().encode() + b'\\n'); print(s.makefile().readline())"
)


def test_the_update_lock_is_the_updaters_alone_and_a_forged_update_is_refused(
    office: Office,
) -> None:
    directory = office.tmp / "box"
    directory.mkdir()
    config = box_settings(directory, office)
    sockets = Path(tempfile.mkdtemp(prefix="sgupd-", dir="/tmp"))
    sockets.chmod(0o755)
    text = config.read_text().replace(
        '# control_socket = "/var/lib/storegate/control.sock"',
        f'control_socket = "{sockets / "control.sock"}"',
    )
    config.write_text(text)
    name = f"sgupd{os.getpid() % 100000}"
    with local_user(name, ("storegate-tech",)):
        box = Daemon(directory, config, FAST_SYNC)
        box.socket = sockets / "control.sock"
        try:
            # A technician of the socket's group may ask for the status, not stop the box.
            for command, allowed in (("status", True), ("update_lock", False)):
                tried = subprocess.run(
                    [
                        "runuser",
                        "-u",
                        name,
                        "--",
                        "/usr/bin/python3",
                        "-c",
                        CLIENT,
                        str(box.socket),
                    ],
                    input=json.dumps({"command": command, "version": "9.0.0"}),
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=60,
                )
                assert tried.returncode == 0, tried.stderr
                answer = json.loads(tried.stdout)
                assert answer["ok"] is allowed, answer
            assert "only the updater (root)" in answer["error"]
            assert box.process.poll() is None and box.status()["version"]

            # A manifest edited after head office signed it: refused and journalled.
            bundle = office.bundle("2.0.0", status_exit=0)
            manifest = json.loads((bundle / "manifest.json").read_text())
            manifest["min_version"] = "0.0.1"
            (bundle / "manifest.json").write_text(json.dumps(manifest))
            done = office.publish(bundle)
            assert done.returncode == 0, done.stderr  # the document itself is signed anew

            def refused() -> bool:
                with contextlib.suppress(Exception):
                    bodies = journal_bodies(directory / "storegate.db", "box_action")
                    return any(b["action"] == "update_refused" for b in bodies)
                return False

            wait_until(refused, 30, "the box to refuse the altered update")
            assert not (updates_dir(directory) / ORDER).exists()
        finally:
            assert box.stop() == 0, box.output()[-3000:]
    body = next(
        b
        for b in journal_bodies(directory / "storegate.db", "box_action")
        if b["action"] == "update_refused"
    )
    assert body["reason"] == "bad_signature" and body["version"] == "2.0.0"
