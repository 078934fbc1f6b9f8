"""Child process: takes part of a payment by card, says so, then hangs (SIGKILLed there)."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lane_testkit import ALICE, CASHIER, CATALOG, SETTINGS, Clock, make_lane

from gateway.catalog.catalog import load_catalog_file
from gateway.lane import events as ev
from gateway.settings import load_settings


def main(db_path: str) -> None:
    lane = make_lane(Path(db_path), load_catalog_file(CATALOG), load_settings(SETTINGS))
    clock = Clock()
    for event in (
        ev.OpenShift(clock(), CASHIER),
        ev.MemberCard(clock(), ALICE),
        ev.Scan(clock(), "7612345001234"),
        ev.Scan(clock(), "7612345001326"),
        ev.Tender(clock(), "card", Decimal("5.00"), reference="AUTH-1", card="4111111111111111"),
        ev.Tender(clock(), "stored_value", Decimal("2.00")),
    ):
        answer = lane.handle(event)
        assert not hasattr(answer, "code"), answer
    print("TENDERED", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1])
