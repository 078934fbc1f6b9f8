"""The control socket: `gateway status` and lane commands talking to the running daemon.

Owns the Unix socket (mode 0660, group = `[daemon] socket_group` when it exists) and its
wire format: one JSON object per line each way, `{"command": NAME, ...}` in,
`{"ok": true, ...}` or `{"ok": false, "error": "..."}` out. The server thread never
touches the lane or the database: it hands each request to the daemon's main loop
(`submit`) and waits for the answer, so the main loop stays the only writer.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.errors import StoregateError
from gateway.settings import GatewaySettings

# The request and the peer's user id (SO_PEERCRED: the kernel's word, not the client's).
Submit = Callable[[dict[str, Any], int | None], dict[str, Any]]
MAX_REQUEST = 64 * 1024 * 1024  # `gateway catalog load` sends a whole catalog document


class ControlError(StoregateError):
    """The daemon cannot be reached, or answered with an error."""


def control_socket(settings: GatewaySettings) -> Path:
    """Where the daemon of these settings listens: `[daemon] control_socket`, by default
    `<data_dir>/control.sock`."""
    chosen = settings.daemon.control_socket
    return Path(chosen) if chosen else Path(settings.paths.data_dir) / "control.sock"


class ControlServer:
    """Accepts connections on a thread of its own; each request is answered by `submit`."""

    def __init__(self, path: Path, submit: Submit, group: str | None = None) -> None:
        self.path = path
        self.submit = submit
        self.group = group
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o117)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        self._restrict()
        sock.listen(8)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="storegate-control", daemon=True)
        self._thread.start()

    def _restrict(self) -> None:
        os.chmod(self.path, 0o660)
        if self.group is None:
            return
        try:
            gid = grp.getgrnam(self.group).gr_gid
        except KeyError:
            return  # no technician group on this machine: owner only (0660 of our group)
        with contextlib.suppress(PermissionError):
            os.chown(self.path, -1, gid)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._sock is not None:
            self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        """One request per line until the client closes (a till keeps its connection)."""
        with conn:
            conn.settimeout(300)
            peer = _peer_uid(conn)
            reader = conn.makefile("rb")
            while not self._stop.is_set():
                try:
                    line = reader.readline(MAX_REQUEST + 1)
                except OSError:
                    return
                if not line:
                    return
                reply = self._reply(line, peer)
                try:
                    conn.sendall(json.dumps(reply, default=str).encode() + b"\n")
                except OSError:
                    return

    def _reply(self, line: bytes, peer: int | None) -> dict[str, Any]:
        try:
            if len(line) > MAX_REQUEST:
                raise ValueError("request too long")
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            return self.submit(request, peer)
        except ValueError as exc:
            return {"ok": False, "error": f"bad request: {exc}"}


def _peer_uid(conn: socket.socket) -> int | None:
    """The connecting process's user id, as the kernel saw it at connect (Linux)."""
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    _, uid, _ = struct.unpack("3i", raw)
    return int(uid)


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too long")
    return data


class Connection:
    """A kept-open connection to the daemon (a till UI, benchmarks, soak tests)."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        answer: dict[str, Any] = json.loads(self.reader.readline())
        return answer

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def call(path: Path, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one request to the running daemon and return its answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer: dict[str, Any] = json.loads(_read_line(sock))
    except FileNotFoundError:
        raise ControlError(
            "the daemon is not running (no control socket)",
            where=str(path),
            fix="start it: systemctl start storegate (or gateway run)",
        ) from None
    except ConnectionRefusedError:
        raise ControlError(
            "the daemon is not running (stale control socket)",
            where=str(path),
            fix="start it: systemctl start storegate (or gateway run)",
        ) from None
    except PermissionError:
        raise ControlError(
            "not allowed to use the control socket",
            where=str(path),
            fix="add yourself to the storegate-tech group, or use sudo",
        ) from None
    except (OSError, ValueError) as exc:
        raise ControlError(
            f"no answer from the daemon: {exc}",
            where=str(path),
            fix="check `systemctl status storegate`; the watchdog restarts a hung daemon",
        ) from None
    return answer
