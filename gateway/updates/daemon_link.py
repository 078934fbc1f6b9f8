"""The updater's two questions to the running daemon, over its control socket.

`take_lock`: "stop now if no sale and no payment is open" — the daemon answers on its
main loop, where no lane input can slip in between its look and its stop, and either
refuses (a sale or payment is open: ask again later) or answers yes and stops. A box
whose daemon is not running has nothing open. `journal_steps`: "journal the update's
steps" (the daemon reads them from the state file; a step already journalled is not
journalled again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from gateway.daemon.control import ControlError, call
from gateway.daemon.lock import daemon_holds
from gateway.updates.install import InstallFailed

STOP_TIMEOUT_S = 30.0


def take_lock(
    socket_path: Path,
    data_dir: Path,
    version: str,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """True when the daemon stopped between sales (or was not running); False while a
    sale or payment is open."""
    try:
        answer = call(socket_path, {"command": "update_lock", "version": version}, timeout=10)
    except ControlError:
        # Not running: nothing is open. Running but not answering yet (starting): ask again.
        return not daemon_holds(data_dir)
    if not answer.get("ok"):
        return False
    deadline = monotonic() + STOP_TIMEOUT_S
    while daemon_holds(data_dir):
        if monotonic() >= deadline:
            raise InstallFailed(
                f"the daemon said it would stop but still runs after {STOP_TIMEOUT_S:.0f} s",
                where=str(data_dir),
                fix="check `systemctl status storegate`; the update switches nothing",
            )
        sleep(0.1)
    return True


def journal_steps(socket_path: Path) -> None:
    """Ask the running daemon to journal the update's steps (ControlError: not running)."""
    answer = call(socket_path, {"command": "update_record"}, timeout=10)
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error")), where="update_record")
