"""`gateway demo`: the README's main job, registered from the harness so that the daemon's
own commands (and `gateway run`) import nothing of it."""

from __future__ import annotations

from typing import Any

from gateway.harness import demo


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="play a scripted shopping day on the example catalog",
        description="The README's main job: simulated scanner, scale and printer, a private "
        "MQTT broker (Mosquitto, or an embedded Python one), cloud ingest and gateway run; a "
        "scripted day with a broker outage, the Z report and head office's view of the same "
        "day.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="only price scripted baskets (no daemon, no broker)"
    )
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="keep the demo's files here (default a new temporary folder)",
    )
    parser.add_argument(
        "--broker",
        choices=demo.BROKERS,
        default="auto",
        help="auto (default): Mosquitto when the binary is installed, else "
        "the embedded amqtt broker (pip install 'storegate[demo]'), else "
        "the quick demo",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause between sales so a person can watch the screens",
    )
    parser.add_argument(
        "--catalog",
        default=str(demo.EXAMPLE_CATALOG),
        metavar="FILE",
        help="catalog document (default: the example)",
    )
    parser.add_argument(
        "--config",
        default=str(demo.EXAMPLE_CONFIG),
        metavar="PATH",
        help="settings file (default: the example)",
    )
    parser.set_defaults(func=demo.demo_command)
