"""Shared helpers for the daemon room's tests: the venv's commands, the example files."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
GATEWAY = VENV_BIN / "gateway"
CLOUD = VENV_BIN / "cloud"
EXAMPLE_CONFIG = ROOT / "config" / "gateway.example.toml"
EXAMPLE_CATALOG = ROOT / "config" / "catalog.example.json"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(directory: Path, extra: str = "") -> Path:
    """The example settings with data in `directory` (and `extra` TOML appended)."""
    text = EXAMPLE_CONFIG.read_text().replace(
        'data_dir = "/var/lib/storegate"', f'data_dir = "{directory}"'
    )
    text = text.replace("port = 8080", f"port = {free_port()}")  # the screens, [screens]
    config = directory / "gateway.toml"
    config.write_text(text + extra)
    return config


def append_records(database: Path, count: int, kind: str = "sale") -> None:
    """Real journal appends through the journal room's API."""
    from gateway.database import open_database
    from gateway.journal import Journal

    journal = Journal(open_database(database))
    for _ in range(count):
        journal.append(kind, {"total": "1.00"})


class NotifyListener:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET; records each message.

    Reads on a thread of its own, as systemd does: the kernel queues only 10 datagrams
    (net.unix.max_dgram_qlen) and the daemon drops a message rather than block, so a
    listener that read only when asked lost STOPPING=1 behind a backlog of WATCHDOG=1
    on a busy machine."""

    def __init__(self, directory: Path) -> None:
        import socket as _socket
        import threading as _threading

        self.path = directory / "notify.sock"
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        self.path.unlink(missing_ok=True)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []
        self._closed = _threading.Event()
        self._thread = _threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import time as _time

        while not self._closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((_time.monotonic(), data.decode()))

    def wait_for(self, text: str, timeout: float = 20.0) -> float:
        """Monotonic time the first message containing `text` arrived."""
        import time as _time

        deadline = _time.monotonic() + timeout
        while _time.monotonic() < deadline:
            for at, message in list(self.messages):
                if text in message:
                    return at
            _time.sleep(0.01)
        raise AssertionError(f"no {text!r} from the daemon in {timeout} s: {self.messages}")

    def drain(self, seconds: float) -> None:
        """Collect every message that arrives during `seconds`."""
        import time as _time

        _time.sleep(seconds)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self.sock.close()


def add_staff(database: Path) -> None:
    """A cashier (101 / 472951 / CARD-ANNA) and a supervisor (201 / CARD-BEAT)."""
    from decimal import Decimal

    from gateway.database import open_database
    from gateway.lane.staff import StaffDirectory
    from gateway.settings import load_settings

    settings = load_settings(EXAMPLE_CONFIG)
    database.parent.mkdir(parents=True, exist_ok=True)
    db = open_database(database)
    staff = StaffDirectory(db, settings.lane)
    staff.add("101", "Anna", "cashier", pin="472951", card="CARD-ANNA")
    staff.add(
        "201", "Beat", "supervisor", pin="836104", card="CARD-BEAT", ceiling=Decimal("100.00")
    )
    db.conn.close()  # the daemon must be the box's only writer


ADMIN = ("301", "508273")  # add_admin: the box's admin (staff number, PIN)


def add_admin(database: Path) -> None:
    """An admin with a PIN and no authenticator (the box is in bootstrap `pin_only`: box
    changes over the control socket need this PIN, `--by 301`)."""
    from gateway.database import open_database
    from gateway.lane.staff import StaffDirectory
    from gateway.settings import load_settings

    db = open_database(database)
    StaffDirectory(db, load_settings(EXAMPLE_CONFIG).lane).add(
        ADMIN[0], "Ada", "admin", pin=ADMIN[1]
    )
    db.conn.close()


class Daemon:
    """`gateway run` as a real subprocess with a notify socket; `ask` talks to it."""

    def __init__(
        self,
        directory: Path,
        config: Path,
        env: dict[str, str] | None = None,
        watchdog_usec: int | None = None,
        log_dir: Path | None = None,
    ) -> None:
        import os as _os
        import subprocess as _subprocess
        import time as _time

        self.directory = directory
        self.config = config
        self.notify = NotifyListener(directory)
        extra = {"NOTIFY_SOCKET": str(self.notify.path), **(env or {})}
        if watchdog_usec:
            extra["WATCHDOG_USEC"] = str(watchdog_usec)
        self.log_path = (log_dir or directory) / "daemon.log"  # off a disk a test fills
        self.log = self.log_path.open("ab")
        self.started = _time.monotonic()
        self.process = _subprocess.Popen(
            [str(GATEWAY), "run", "--config", str(config)],
            stdout=self.log,
            stderr=self.log,
            env={**_os.environ, **extra},
        )
        self.ready_at = self.notify.wait_for("READY=1") - self.started
        self.socket = directory / "control.sock"

    def ask(self, request: dict[str, object]) -> dict[str, object]:
        from gateway.daemon.control import call

        return call(self.socket, request, timeout=30)

    def key(self, action: str, **fields: str) -> dict[str, object]:
        return self.ask({"command": "lane", "action": action, **fields})

    def status(self) -> dict[str, object]:
        answer = self.ask({"command": "status"})
        status: dict[str, object] = answer["status"]  # type: ignore[assignment]
        return status

    def stop(self, sig: int = 15, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.notify.drain(0.2)
        self.notify.close()
        self.log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


NO_SYNC = {"STOREGATE_SYNC__ENABLED": "false"}


def box_config(directory: Path, extra: str = "") -> Path:
    """Example settings with the data in `directory`, the example catalog, no devices."""
    config = write_config(directory, extra)
    text = config.read_text().replace(
        '# catalog = "/etc/storegate/catalog.json"', f'catalog = "{EXAMPLE_CATALOG}"'
    )
    config.write_text(text)
    add_staff(directory / "storegate.db")
    return config


@contextlib.contextmanager
def local_user(name: str, groups: tuple[str, ...] = ()) -> Iterator[str]:
    """A local account for playing another user of the box (the tests run as root, as CI
    does), in `groups` (created if missing); removed again afterwards. Give each test
    process its own name: xdist workers run side by side."""
    for group in groups:
        subprocess.run(["groupadd", "-f", group], check=True)
    subprocess.run(["userdel", name], capture_output=True, check=False)
    member_of = ["-G", ",".join(groups)] if groups else []
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", *member_of, name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small real filesystem (the test runs as root, as CI does)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write zeros until the filesystem says it is full, to the last block."""
    with path.open("wb", buffering=0) as fh:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * chunk)
