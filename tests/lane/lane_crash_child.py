"""Child process for the crash test: commits a sale, says so, then hangs before printing
(the parent SIGKILLs it there, as a power cut between journal commit and print would)."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lane_testkit import CASHIER, CATALOG, SETTINGS, Clock, make_lane

from gateway.catalog.catalog import load_catalog_file
from gateway.lane import events as ev
from gateway.receipts.text import render_receipt
from gateway.settings import load_settings


def main(db_path: str) -> None:
    settings = load_settings(SETTINGS)
    lane = make_lane(Path(db_path), load_catalog_file(CATALOG), settings)
    clock = Clock()
    lane.handle(ev.OpenShift(clock(), CASHIER))
    lane.handle(ev.Scan(clock(), "7612345001234"))
    lane.handle(ev.Scan(clock(), "4006381333931"))
    out = lane.handle(ev.Tender(clock(), "cash", Decimal(20)))
    record = out.records[0]  # type: ignore[union-attr]
    print(f"COMMITTED {record.seq} {record.id}", flush=True)
    time.sleep(60)  # killed here: the receipt is never printed
    print(render_receipt(out.receipt, 42))  # type: ignore[union-attr]


if __name__ == "__main__":
    main(sys.argv[1])
