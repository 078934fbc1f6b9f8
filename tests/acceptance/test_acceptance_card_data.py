"""No card data kept or sent (issue 13 item 1, PCI DSS 3.3.1 and 3.5.1), played as an
attacker — or a careless cashier — would: a full card number and the tracks of a swipe
go in wherever text enters the till, then every output of the store is swept for them.

The way in is the real one: the serial scanner simulator "scans" the card number and a
keyboard MSR's tracks; the control socket (what `gateway till` sends) types the number
into a card tender's `reference` and `card`, a void and a no-sale `reason`, a refund
`reason`, a PLU, a member card, and as an amount; an unknown-barcode burst is
made of card numbers. The sweep reads what leaves the lane: the box's database (every
table and column, and the file's bytes with its WAL), `gateway journal export`, the
receipts' text copies, the printer simulator's bytes, sync.db, the daemon's log and head
office's log and database (every table), and every answer the control socket gave. The
number must not appear in any spacing, nor the track's name or discretionary data; the
masked form (first six, last four) may.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acceptance_testkit import BEAT, MILK, OIL, Store, open_store, wait_until

PAN = "4000056655665556"  # Luhn-valid, Visa range; in no fixture of the store
SPACED = "4000 0566 5566 5556"
DASHED = "4000-0566-5566-5556"
HOLDER = "HOLDER/PAT"
DISCRETIONARY = "2812101987654321"  # expiry 28/12, service code 101, the rest
TRACK1 = f"%B{PAN}^{HOLDER}^{DISCRETIONARY}?"
TRACK2 = f";{PAN}={DISCRETIONARY}?"
MASKED = "400005******5556"

# the number with up to three non-digits between any two of its digits, as text or bytes
PAN_ANY_SPACING = r"\D{0,3}".join(PAN)
FORBIDDEN = [re.compile(PAN_ANY_SPACING), re.compile(re.escape(HOLDER)), re.compile(DISCRETIONARY)]
FORBIDDEN_BYTES = [re.compile(p.pattern.encode()) for p in FORBIDDEN]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    yield from open_store(tmp_path_factory.mktemp("card-store"))


def _found(name: str, data: bytes) -> list[str]:
    """Where in `data` a forbidden pattern occurs, as short excerpts naming `name`."""
    hits = []
    for pattern in FORBIDDEN_BYTES:
        for match in pattern.finditer(data):
            start = max(match.start() - 40, 0)
            hits.append(f"{name}: ...{data[start : match.end() + 40]!r}...")
    return hits


def _sqlite_hits(path: Path) -> list[str]:
    """Every column of every table as bytes, then the file itself with its WAL (freed
    pages and not yet checkpointed frames count: they are on the disk)."""
    hits: list[str] = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    data = value if isinstance(value, bytes) else str(value).encode()
                    hits += _found(f"{path.name} table {table}", data)
    finally:
        conn.close()
    for file in path.parent.glob(path.name + "*"):
        hits += _found(file.name, file.read_bytes())
    return hits


def _typed(store: Store, answers: list[Any], action: str, **fields: str) -> dict[str, Any]:
    answer = store.key(action, **fields)
    answers.append(answer)
    return answer


def _scanned_serially(store: Store, code: str) -> None:
    """A scan on the serial scanner; waits until the box fed it to the lane."""
    before = store.status()["last_input"]["count"]
    store.scanner.scan(code)
    wait_until(
        f"the scan of {code!r} to reach the lane",
        lambda: store.status()["last_input"]["count"] > before,
        10,
    )


def test_a_card_number_typed_or_scanned_anywhere_is_never_kept_or_sent(store: Store) -> None:
    answers: list[Any] = []
    refusals: list[object] = []  # checked after the sweep, which must run before the fix too
    store.ok("sign_on", staff="101", pin="472951", float="100.00")

    # -- the scanner: a keyboard MSR's swipe, then the number as a "barcode" -----------------
    store.scanner.scan(TRACK1 + TRACK2)
    wait_until(
        "the swipe on the scanner to be discarded",
        lambda: "card data on a scanner" in store.box().output(),
        10,
    )
    for code in (PAN, SPACED, DASHED):
        _scanned_serially(store, code)
    # the same through the control socket, and as a PLU: refused with the cashier sentence
    for action, code in (("scan", PAN), ("scan", TRACK2), ("plu", PAN), ("scan", TRACK1)):
        refusals.append(_typed(store, answers, action, code=code).get("refused"))
    # then six unknown barcodes that are not card numbers: the burst is reported once
    for n in range(6):
        _typed(store, answers, "scan", code=f"99900000{n}")

    # -- a card sale: the number typed into the reference and the card field ---------------
    store.scan(MILK)
    sale = _typed(store, answers, "tender", type="card", reference=SPACED, card=PAN)
    assert sale.get("ok"), sale
    # -- a void and a no-sale with the number as the reason; a member card, an amount ------
    store.scan(OIL)
    refusals.append(_typed(store, answers, "member", card=PAN).get("refused"))
    _typed(store, answers, "tender", type="card", amount=PAN, reference="x")  # bad amount
    voided = _typed(
        store,
        answers,
        "void_sale",
        reason=f"card {DASHED} declined",
        supervisor=BEAT[0],
        supervisor_pin=BEAT[1],
    )
    assert voided.get("ok"), voided
    opened = _typed(
        store, answers, "no_sale", reason=f"card {PAN}", supervisor=BEAT[0], supervisor_pin=BEAT[1]
    )
    assert opened.get("ok"), opened
    # -- a refund of the card sale with the number as the reason ----------------------------
    sale_record = next(r for r in store.records() if r.kind == "sale" and r.seq in sale["records"])
    refunded = _typed(
        store,
        answers,
        "refund",
        receipt=sale_record.body["receipt_id"],
        reason=f"refund to {SPACED}",
        supervisor=BEAT[0],
        supervisor_pin=BEAT[1],
    )
    assert refunded.get("ok"), refunded

    # -- everything reached head office ------------------------------------------------------
    store.wait_office_has_all()
    wait_until(
        "head office to hold the unknown-barcode burst",
        lambda: store.office(
            "SELECT body FROM box_event WHERE body LIKE '%unknown_barcode_burst%'"
        ),
        30,
    )
    refund_seq = max(s for s in refunded["records"] if s is not None)
    store.wait_printed(refund_seq, "refund")
    answers.append(store.status())
    exported = store.gateway("journal", "export")
    assert exported.returncode == 0, exported.stderr
    # the masked number is what the journal keeps of the reference and the reasons
    assert MASKED in exported.stdout
    store.box().stop()

    # -- the sweep -------------------------------------------------------------------------
    hits: list[str] = []
    hits += _sqlite_hits(store.box_dir / "storegate.db")
    hits += _sqlite_hits(store.box_dir / "sync.db")
    hits += _sqlite_hits(store.workdir / "head-office.db")
    hits += _found("journal export", exported.stdout.encode())
    for copy in sorted(store.receipts.iterdir()):
        hits += _found(f"receipt copy {copy.name}", copy.read_bytes())
    hits += _found("printer", store.printed())
    hits += _found("daemon log", store.box().log_path.read_bytes())
    hits += _found("head office log", (store.workdir / "cloud-ingest.log").read_bytes())
    hits += _found("control socket answers", json.dumps(answers).encode())
    assert not hits, "card data kept or sent:\n" + "\n".join(hits)
    # the scans and the PLU were refused at the scan, with the cashier's sentence
    assert refusals == ["payment_card_scanned"] * 4 + ["payment_card"], refusals
