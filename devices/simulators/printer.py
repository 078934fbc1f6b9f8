"""Receipt printers without paper: a TCP 9100 printer and a serial printer on a pty.

Both keep every byte they receive (`received`; `printed` is the same without the status
queries) and answer `DLE EOT n` from switchable flags ("paper_out", "cover_open",
"paper_near_end", "offline", "error"), using the Epson status table of
`devices.printer_status`. `silent=True` makes a printer that never answers status;
`stalled=True` (TCP) accepts the connection but never reads, like a jammed printer whose
buffer is full.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from devices.printer_status import DLE_EOT, status_byte
from devices.simulators.pty import PtyDevice


class StatusResponder:
    """Splits received bytes into print data and DLE EOT queries, and answers the queries."""

    def __init__(self) -> None:
        self.flags: set[str] = set()
        self.silent = False
        self.reply_delay = 0.0  # seconds before status replies go out (a slow printer)
        self.received = bytearray()
        self.queries: list[int] = []
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        """Returns the reply bytes to send back."""
        self.received.extend(data)
        data = self._tail + data
        self._tail = b""
        replies = bytearray()
        start = 0
        while (at := data.find(DLE_EOT, start)) >= 0:
            if at + 2 >= len(data):
                self._tail = data[at:]
                break
            n = data[at + 2]
            self.queries.append(n)
            if not self.silent:
                replies.append(status_byte(n, self.flags))
            start = at + 3
        return bytes(replies)

    @property
    def printed(self) -> bytes:
        data = bytes(self.received)
        for n in set(self.queries):
            data = data.replace(DLE_EOT + bytes([n]), b"")
        return data


class NetworkPrinterSimulator(StatusResponder):
    """Listens on 127.0.0.1 (port 0 = any free port); `uri` is what to configure."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, stalled: bool = False) -> None:
        super().__init__()
        self.stalled = stalled
        self.connections = 0
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if stalled:
            self._server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._server.bind((host, port))
        self._server.listen(4)
        self._server.settimeout(0.05)
        self.host, self.port = self._server.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="printer sim", daemon=True)
        self._open: list[socket.socket] = []

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def start(self) -> NetworkPrinterSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.close()
        self._server.close()

    def __enter__(self) -> NetworkPrinterSimulator:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        while not self._stop.is_set():
            if self.stalled:
                self._stop.wait(0.05)
                continue
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            reply = self.feed(data)
            if reply:
                self._stop.wait(self.reply_delay)
                with contextlib.suppress(OSError):
                    conn.sendall(reply)
        with contextlib.suppress(OSError):
            conn.close()


class SerialPrinterSimulator(PtyDevice):
    """An RS-232 receipt printer on a pty (19200 8N1 by default)."""

    def __init__(self, *, baudrate: int = 19200, pace: bool = False) -> None:
        super().__init__(baudrate=baudrate, bits_per_char=10, pace=pace)
        self.responder = StatusResponder()

    def on_bytes(self, data: bytes) -> None:
        reply = self.responder.feed(data)
        if reply:
            self.send(reply)
