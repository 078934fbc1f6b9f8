"""An MQTT 3.1.1 broker in a Python child process (amqtt), for where Mosquitto is missing.

`EmbeddedBroker` has the surface `gateway demo` and the tests use from
`gateway.harness.brokers.Mosquitto`: `start()`, `kill()` (SIGKILL: a real outage),
`restart()`, `port`, `log_path`. The broker runs in its own process
(`python -m gateway.harness.embedded_broker --port N`), bound to 127.0.0.1, so a kill is a
real outage and nothing shares the caller's process. amqtt (the optional extra
`storegate[demo]`) is imported only in that child: `gateway run` never imports this
module, and the parent side works without amqtt installed (`available()` says whether
the child can run).

What amqtt 0.12 is, as checked against 0.12.1 (the extra pins < 0.13):
- MQTT 3.1.1 only, and no shared subscriptions (`$share/...` matches nothing), so head
  office's `cloud ingest` falls back to one worker on plain subscriptions.
- An MQTT 5 CONNECT is answered with CONNACK return code 1 only when it happens to parse
  as 3.1.1. One carrying properties or a Will (what the box and `cloud ingest` send) is
  read as 3.1.1 fields of the wrong length: amqtt waits for bytes that never come, or
  closes the socket, and never answers. Both clients, set to "auto", take that silence
  (gateway.sync.link.MQTT5_SILENCE) or close as "no MQTT 5 here" and try 3.1.1
  (gateway.sync.service, cloud.ingest).
- Everything lives in memory: a kill loses sessions, queued messages and retained
  messages (as `Mosquitto` does with persistence off). The box re-sends what head office
  has not acknowledged, and ingest is idempotent, so nothing is lost or counted twice.
- A QoS 1 message delivered but not yet acknowledged when the subscriber's connection
  drops is not sent again on reconnect (MQTT 3.1.1 says it should be); the box's re-send
  (sync.resend_after) covers it.
- Messages queued for an offline persistent session arrive with the retain flag set.

Two amqtt behaviours are corrected in the child (`_broker_class`):
- its AnonymousAuthPlugin marks sessions anonymous, and amqtt never keeps an anonymous
  session (nothing queued while offline, dropped on disconnect): clients are let in
  without that mark, so clean_session = false works;
- on every CONNECT it sends the connecting client the retained messages of every topic
  filter that any client subscribed to: limited here to the client's own filters.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import sys
from typing import Any

from gateway.harness.brokers import BrokerProcess

AMQTT_HINT = "pip install 'storegate[demo]' (amqtt)"


def available() -> bool:
    """Whether the child can run: amqtt is importable by this interpreter."""
    return importlib.util.find_spec("amqtt") is not None


class EmbeddedBroker(BrokerProcess):
    """One amqtt broker process on 127.0.0.1; `start()` again after `kill()` restarts it.
    A kill loses its sessions and retained messages (it keeps everything in memory)."""

    name = "the embedded broker (amqtt)"
    log_name = "amqtt.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gateway.harness.embedded_broker", "--port", str(self.port)]


# -- the child process (imports amqtt) ----------------------------------------------------------


def _broker_class() -> Any:
    """amqtt's Broker with the two corrections the module docstring lists."""
    from amqtt.broker import Broker

    class OpenBroker(Broker):  # type: ignore[misc]  # amqtt ships no type information
        async def _authenticate(self, session: Any, listener: Any) -> bool:
            return True  # anyone may connect, and the session stays a real (persistent) one

        async def _publish_retained_messages_for_subscription(
            self, subscription: tuple[str, int], session: Any
        ) -> None:
            holders = self._subscriptions.get(subscription[0], [])
            if any(held.client_id == session.client_id for held, _ in holders):
                await super()._publish_retained_messages_for_subscription(subscription, session)

    return OpenBroker


async def serve(port: int) -> None:
    broker = _broker_class()(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {},  # no $SYS topics, no packet logging; authentication is OpenBroker's
        }
    )
    await broker.start()
    await asyncio.Event().wait()  # until SIGTERM / SIGKILL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.harness.embedded_broker",
        description="an MQTT 3.1.1 broker (amqtt) on 127.0.0.1",
    )
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if not available():
        print(f"amqtt is not installed: {AMQTT_HINT}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
