"""Helpers shared by the sync tests (records, configs, keys); fixtures are in conftest."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.journal.store import Journal
from gateway.sync.link import LinkOptions
from gateway.sync.service import SyncConfig
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys, public_key_b64

STORE, BOX = "store-1", "box-1"


def sale_body(n: int, size: int = 200) -> dict[str, Any]:
    """A sale-like record body of about `size` bytes (amounts as decimal strings)."""
    return {
        "receipt": n,
        "total": f"{n % 1000}.{n % 100:02d}",
        "lines": [
            {"sku": f"SKU{n:08d}", "qty": "1", "price": "2.50", "name": "x" * max(0, size - 120)}
        ],
    }


def append_sales(journal: Journal, count: int, *, size: int = 200, chunk: int = 1000) -> None:
    start = journal.state().head_seq
    for first in range(0, count, chunk):
        journal.append_many(
            [
                ("sale", sale_body(start + i + 1, size))
                for i in range(first, min(count, first + chunk))
            ]
        )


def make_config(tmp_path: Path, port: int, **overrides: Any) -> SyncConfig:
    link = LinkOptions(
        host="127.0.0.1",
        port=port,
        client_id=f"storegate-{STORE}-{BOX}",
        keepalive=5,
        session_expiry=300,
        receive_maximum=64,
        max_inflight=40,
        connect_timeout=2.0,
    )
    link_overrides = {k: overrides.pop(k) for k in list(overrides) if hasattr(link, k)}
    config = SyncConfig(
        store=STORE,
        box=BOX,
        root_topic="storegate/v1",
        link=replace(link, **link_overrides),
        protocol="auto",
        journal_path=tmp_path / "box.db",
        state_path=tmp_path / "sync.db",
        data_dir=tmp_path,
        batch_max_records=200,
        batch_max_bytes=128 * 1024,
        window_batches=8,
        resend_after=2.0,
        poll_interval=0.05,
        ack_report_interval=0.2,
        telemetry_interval=3600,
        reconnect_min=0.2,
        reconnect_max=1.0,
        refused_min=0.5,
    )
    return replace(config, **overrides)


def trusted(key: Ed25519PrivateKey, key_id: str = "ho-1") -> TrustedKeys:
    return TrustedKeys([TrustedKey(key_id=key_id, public_key=public_key_b64(key))])


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `check` until true or `timeout` (the box works on its own thread)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()
