"""Running the screens' app: uvicorn with the `[screens]` rules (loopback unless `lan`,
HTTPS when a certificate is configured).

Owns the server's configuration only. `gateway run` can either call `serve_in_thread`
or mount `create_app(hub)` into its own server.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette

from gateway.screens.app import end_streams
from gateway.screens.settings import ScreensSettings


def server_config(
    app: Any, settings: ScreensSettings, *, port: int | None = None
) -> uvicorn.Config:
    """Uvicorn settings for the screens (no access log: it would list every key press)."""
    tls: dict[str, Any] = {}
    if settings.https:
        tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port if port is None else port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        **tls,
    )


class ScreensServer:
    """Uvicorn on a thread of its own; `url` once started, `stop()` to end it."""

    def __init__(
        self, app: Starlette, settings: ScreensSettings, *, port: int | None = None
    ) -> None:
        self.settings = settings
        self.app = app
        self.server = uvicorn.Server(server_config(app, settings, port=port))
        self._thread = threading.Thread(target=self.server.run, name="screens", daemon=True)

    def start(self, timeout: float = 10.0) -> ScreensServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the screens server did not start on {self.settings.host}:{self.settings.port}"
                )
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.https else "http"
        host = self.settings.host if ":" not in self.settings.host else f"[{self.settings.host}]"
        return f"{scheme}://{host}:{self.port}"

    def stop(self) -> None:
        """End the pages' event streams first, then the server: uvicorn then has no open
        request to wait for (its graceful timeout) or to cancel (a traceback in the log)."""
        end_streams(self.app)
        self.server.should_exit = True
        self._thread.join(timeout=5)
