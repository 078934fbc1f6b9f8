"""The daemon room's sub-commands: run, status, backup, restore, doctor, demo.

Only argument parsing lives here; each command calls into its module.
"""

from __future__ import annotations

from typing import Any

from gateway.daemon import demo


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="play a scripted shopping day on the example catalog",
        description="The README's main job: price scripted baskets and print receipts.",
    )
    parser.add_argument("--catalog", default=str(demo.EXAMPLE_CATALOG), metavar="FILE")
    parser.add_argument("--config", default=str(demo.EXAMPLE_CONFIG), metavar="PATH")
    parser.set_defaults(func=demo.demo_command)
