"""The config document head office may send a box: which settings keys, checked alike by
`cloud publish config` (before anything is sent) and by the box (before anything is
written). Pure: a document in, the (section, key) -> value changes out, or `DocumentRefused`
listing every key that may not be changed remotely (docs/protocol.md, *Configuration*).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.sync.errors import DocumentRefused

REMOTE_KEYS: dict[str, tuple[str, ...]] = {
    "anomalies": (
        "enabled",
        "sale_above",
        "voids_per_shift",
        "refunds_per_shift",
        "no_sales_per_shift",
        "unknown_barcodes",
        "unknown_window_s",
        "weight_change_kg",
        "failed_pins",
        "failed_pin_window_s",
    ),
    "backup": ("keep", "interval_hours"),
    "store": ("header", "footer"),
    "daemon": ("disk_min_free_mb",),
}


def config_changes(document: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    """The (section, key) -> value pairs of a config document; refuses any other key."""
    wrong: list[str] = []
    found: dict[tuple[str, str], Any] = {}
    for section, table in document.items():
        if section not in REMOTE_KEYS or not isinstance(table, Mapping):
            wrong.append(f"[{section}]")
            continue
        for key, value in table.items():
            if key in REMOTE_KEYS[section]:
                found[(section, key)] = value
            else:
                wrong.append(f"{section}.{key}")
    if wrong:
        raise DocumentRefused(
            f"config keys head office may not change remotely: {', '.join(sorted(wrong))}",
            where="config document",
            fix="send only the keys docs/protocol.md lists "
            "(Configuration); change the others on the box itself",
        )
    if not found:
        raise DocumentRefused(
            "the config document changes nothing",
            where="config document",
            fix="send at least one key docs/protocol.md lists",
        )
    return found
