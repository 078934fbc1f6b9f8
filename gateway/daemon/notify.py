"""systemd's notify protocol (READY=1, WATCHDOG=1, STATUS=, STOPPING=1) over $NOTIFY_SOCKET.

Owns only the datagram socket; no library needed. Sends never block (a full listener
queue drops the message rather than stalling the main loop). Without $NOTIFY_SOCKET (run by hand,
in tests without a listener) every call is a no-op, so the daemon behaves the same.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        own = pid is None or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 2e6 if usec and own else None

    def send(self, message: str) -> bool:
        if not self.address:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]  # abstract namespace socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never block the main loop: a listener that does not read (its queue full)
            # would otherwise stall us in sendto; a lost ping is systemd's to judge.
            sock.setblocking(False)
            try:
                sock.connect(target)
                sock.send(message.encode())
            except OSError:
                return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def reloading(self) -> bool:
        return self.send("RELOADING=1")
