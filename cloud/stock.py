"""The stock ledger at head office (issue 17, docs/stock.md): movements per store x sku.

Owns the tables `stock_document`, `stock_movement`, `stock_position`, `stock_item` and
`stock_posting`. Every change of stock is a movement, appended once under a unique key and
traceable to its document: a sale or refund line of an ingested journal record (key
`sale:STORE/BOX/SEQ/LINE`, document the receipt or refund id), or a document head office
records — goods receipt (进货), transfer out / in, loss or damage (报损) with its reason,
stock-count adjustment (盘点). Levels are never edited: `stock_position` is the running
result of the movements (each movement also keeps the position after it), written in the
same transaction as the movements, and `verify` recomputes it from them.

Cost is the **moving average** (`moving_average`, named and tested): a receipt or a
transfer in at a known cost re-weighs the average; every other movement moves at the
average and leaves it as it is. Quantities are Decimal in the item's stock unit: `each`,
or `kg` for weighed items (a sale line's `weight`, always kg, also for items priced per g).

The journal is read only up to each box's acknowledged position (contiguous and chained,
`box_chain.acked_seq`) and a cursor per box (`stock_posting`) says how far it was posted;
the unique key makes a second posting of the same line impossible as well. One stock writer
at a time per store (PostgreSQL advisory locks, `writing`; SQLite's writer lock), so the
running average is computed in one order. Must not write anything but these tables.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import ValidationError

from cloud.db import Database
from gateway.errors import StoregateError, UsageError
from gateway.lane.records import RefundBody, SaleBody
from gateway.stock.records import CountLine, GoodsReceiptBody, StockCountBody

if TYPE_CHECKING:
    from cloud.ingest import BrokerOptions
    from cloud.publish import SigningKey

MovementKind = Literal["sale", "refund", "receipt", "transfer_out", "transfer_in", "loss", "count"]
DocumentKind = Literal["goods_receipt", "transfer", "loss", "stock_count", "purchase_order"]
LOSS_REASONS = ("damaged", "expired", "spoiled", "theft", "other")
UNITS = ("each", "kg")

QTY = Decimal("0.001")
COST = Decimal("0.0001")
CENT = Decimal("0.01")
ZERO = Decimal(0)
STOCK_LOCK = 7150017  # pg_advisory_xact_lock key: one stock writer at a time (`writing`)
WRITTEN_COLUMNS = (  # a movement as `Ledger` writes it
    "key, store, sku, kind, quantity, unit, unit_cost, value, on_hand_after, avg_cost_after, "
    "business_day, time, document, box, seq, line, reason, actor, recorded_at"
)
POST_CHUNK = 2000  # journal records read per posting transaction
UNMEASURED = "price label without weight: quantity not known"


class StockError(StoregateError):
    """A stock document that cannot be recorded as given (exit status 1)."""


# ---------------------------------------------------------------- the rules (pure)


@dataclass(frozen=True)
class Position:
    """An item's stock in one store: quantity on hand and its moving-average unit cost."""

    on_hand: Decimal = ZERO
    avg_cost: Decimal = ZERO

    @property
    def value(self) -> Decimal:
        return stock_value(self.on_hand, self.avg_cost)


def stock_value(on_hand: Decimal, avg_cost: Decimal) -> Decimal:
    """Rule "stock value": quantity on hand x average cost, to the cent half up."""
    return (on_hand * avg_cost).quantize(CENT, ROUND_HALF_UP)


def moving_average(before: Position, quantity: Decimal, unit_cost: Decimal) -> Decimal:
    """Rule "moving average cost" (移动加权平均) for `quantity` coming in at `unit_cost`.

    With stock on hand: (on_hand x avg + quantity x unit_cost) / (on_hand + quantity), to
    4 places half up. With none or less (zero or negative stock) the average restarts at
    the incoming cost: what was sold short was valued at the old average already, and
    weighing the new goods against a negative quantity would give a meaningless cost."""
    if before.on_hand <= 0:
        return unit_cost.quantize(COST, ROUND_HALF_UP)
    total = before.on_hand * before.avg_cost + quantity * unit_cost
    return (total / (before.on_hand + quantity)).quantize(COST, ROUND_HALF_UP)


INCOMING_AT_COST: frozenset[str] = frozenset({"receipt", "transfer_in"})


def apply_movement(
    before: Position, kind: str, quantity: Decimal, unit_cost: Decimal | None = None
) -> tuple[Position, Decimal, Decimal]:
    """(position after, unit cost it moved at, its value) for one movement.

    A receipt or transfer in brings its own cost (moving average); every other movement
    — sale, refund, loss, count, transfer out — moves at the average, which it keeps.
    Rule "movement value": quantity x unit cost, to the cent half up, signed like the
    quantity."""
    if kind in INCOMING_AT_COST:
        if unit_cost is None:
            raise ValueError(f"a {kind} needs its unit cost")
        average = moving_average(before, quantity, unit_cost)
        moved_at = unit_cost
    else:
        average = moved_at = before.avg_cost
    value = (quantity * moved_at).quantize(CENT, ROUND_HALF_UP)
    return Position(before.on_hand + quantity, average), moved_at, value


WEIGHED_UNITS = frozenset({"kg", "g"})  # the catalog's units sold by weight


def stock_unit(unit: str) -> str:
    """The stock unit of a sale line's unit: `kg` for items sold by kg or g, else `each`."""
    return "kg" if unit in WEIGHED_UNITS else "each"


def line_quantity(unit: str, quantity: Decimal, weight: Decimal | None) -> Decimal | None:
    """How much a sale line moves, in its stock unit: the weight (kg, as the lane always
    writes it) for weighed items, the count for the others; None for a weighed item sold
    by a price-embedded label that carried no weight (it cannot be measured)."""
    if unit not in WEIGHED_UNITS:
        return quantity
    return None if weight is None else weight.quantize(QTY, ROUND_HALF_UP)


# ---------------------------------------------------------------- movements


@dataclass(frozen=True)
class Movement:
    """One movement to append: `quantity` signed (out is negative)."""

    key: str
    store: str
    sku: str
    kind: MovementKind
    quantity: Decimal
    unit: str
    business_day: str
    time: str
    document: str
    actor: str
    name: str = ""
    unit_cost: Decimal | None = None
    box: str | None = None
    seq: int | None = None
    line: int | None = None
    reason: str | None = None


@dataclass
class Ledger:
    """Appends movements inside one stock transaction (`writing`), keeping positions."""

    db: Database
    now: str
    positions: dict[tuple[str, str], tuple[Position, str, str]] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)
    known: set[str] = field(default_factory=set)
    settings: dict[str, dict[str, tuple[str | None, str | None]]] = field(default_factory=dict)
    pending: list[tuple[Any, ...]] = field(default_factory=list)

    def position(self, store: str, sku: str) -> Position:
        return self._load(store, sku)[0]

    def unit_of(self, store: str, sku: str) -> str | None:
        """The item's stock unit as head office knows it (position, else item settings)."""
        if self._exists(store, sku):
            return self._load(store, sku)[2]
        return self._settings(store, sku)[1]

    def name_of(self, store: str, sku: str) -> str:
        """The item's name: its position's, else its settings', else its sku."""
        if self._exists(store, sku):
            return self._load(store, sku)[1]
        return self._settings(store, sku)[0] or sku

    def _settings(self, store: str, sku: str) -> tuple[str | None, str | None]:
        """(name, unit) from the store's item settings, read once per store."""
        if store not in self.settings:
            self.settings[store] = {
                str(sku_): (name, unit)
                for sku_, name, unit in self.db.execute(
                    "SELECT sku, name, unit FROM stock_item WHERE store = ?", (store,)
                ).fetchall()
            }
        return self.settings[store].get(sku, (None, None))

    def _exists(self, store: str, sku: str) -> bool:
        return self._load(store, sku)[2] != ""

    def _load(self, store: str, sku: str) -> tuple[Position, str, str]:
        key = (store, sku)
        if key not in self.positions:
            row = self.db.execute(
                "SELECT on_hand, avg_cost, name, unit FROM stock_position "
                "WHERE store = ? AND sku = ?" + self.db.lock_rows_for_update(),
                (store, sku),
            ).fetchone()
            if row is None:
                self.positions[key] = (Position(), "", "")
            else:
                self.positions[key] = (
                    Position(dec(row[0]), dec(row[1])),
                    str(row[2]),
                    str(row[3]),
                )
        return self.positions[key]

    def preload(self, store: str, skus: Iterable[str]) -> None:
        """Read the positions of these items in one go (posting touches many at once)."""
        wanted = sorted({sku for sku in skus if (store, sku) not in self.positions})
        for first in range(0, len(wanted), 500):
            part = wanted[first : first + 500]
            for sku, on_hand, avg, name, unit in self.db.execute(
                "SELECT sku, on_hand, avg_cost, name, unit FROM stock_position WHERE store = ? "
                f"AND sku IN ({', '.join('?' for _ in part)})" + self.db.lock_rows_for_update(),
                (store, *part),
            ).fetchall():
                self.positions[(store, sku)] = (Position(dec(on_hand), dec(avg)), name, unit)
            for sku in part:
                self.positions.setdefault((store, sku), (Position(), "", ""))

    def append(self, m: Movement) -> bool:
        """Append `m` unless its key is already in the ledger (`known` keys: those of this
        transaction and those the caller looked up); True when appended. Rows are written
        by `flush`, all at once."""
        if m.key in self.known:
            return False
        before, name, unit = self._load(m.store, m.sku)
        after, moved_at, value = apply_movement(before, m.kind, m.quantity, m.unit_cost)
        self.pending.append(
            (
                m.key,
                m.store,
                m.sku,
                m.kind,
                self.num(m.quantity, QTY),
                m.unit,
                self.num(moved_at, COST),
                self.num(value, CENT),
                self.num(after.on_hand, QTY),
                self.num(after.avg_cost, COST),
                m.business_day,
                m.time,
                m.document,
                m.box,
                m.seq,
                m.line,
                m.reason,
                m.actor,
                self.now,
            )
        )
        self.known.add(m.key)
        self.positions[(m.store, m.sku)] = (after, m.name or name or m.sku, m.unit or unit)
        self.touched.add((m.store, m.sku))
        return True

    def flush(self) -> None:
        """Write the pending movements, then the touched positions (with the id of their
        last movement as `last_movement`). A key already stored fails the transaction:
        the caller's look-up of known keys must have prevented it. On PostgreSQL the
        movements go in by COPY and the positions in one statement (a day of a whole
        fleet is millions of rows: bench/bench_stock.py --scale)."""
        if self.db.dialect == "postgresql":
            self._flush_postgresql()
            return
        self.db.executemany(
            f"INSERT INTO stock_movement ({WRITTEN_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.pending,
        )
        self.pending.clear()
        rows = []
        for store, sku in sorted(self.touched):
            position, name, unit = self.positions[(store, sku)]
            rows.append(
                (
                    store,
                    sku,
                    name,
                    unit,
                    self.num(position.on_hand, QTY),
                    self.num(position.avg_cost, COST),
                    store,
                    sku,
                    self.now,
                )
            )
        self.db.executemany(
            "INSERT INTO stock_position (store, sku, name, unit, on_hand, avg_cost, "
            "last_movement, updated_at) VALUES (?, ?, ?, ?, ?, ?, "
            "(SELECT max(id) FROM stock_movement WHERE store = ? AND sku = ?), ?) "
            "ON CONFLICT (store, sku) DO UPDATE SET name = excluded.name, "
            "unit = excluded.unit, on_hand = excluded.on_hand, "
            "avg_cost = excluded.avg_cost, last_movement = excluded.last_movement, "
            "updated_at = excluded.updated_at",
            rows,
        )
        self.touched.clear()

    def _flush_postgresql(self) -> None:
        cur = self.db.conn.cursor()
        if self.pending:
            with cur.copy(f"COPY stock_movement ({WRITTEN_COLUMNS}) FROM STDIN") as copy:
                for row in self.pending:
                    copy.write_row(row)
            self.pending.clear()
        if not self.touched:
            return
        columns: list[list[Any]] = [[], [], [], [], [], []]
        for store, sku in sorted(self.touched):
            position, name, unit = self.positions[(store, sku)]
            values = (store, sku, name, unit, position.on_hand, position.avg_cost)
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        columns[4] = [self.num(q, QTY) for q in columns[4]]
        columns[5] = [self.num(c, COST) for c in columns[5]]
        cur.execute(
            "INSERT INTO stock_position (store, sku, name, unit, on_hand, avg_cost, "
            "last_movement, updated_at) SELECT u.store, u.sku, u.name, u.unit, u.on_hand, "
            "u.avg_cost, (SELECT max(m.id) FROM stock_movement m WHERE m.store = u.store "
            "AND m.sku = u.sku), %s FROM unnest(%s::text[], %s::text[], %s::text[], "
            "%s::text[], %s::numeric[], %s::numeric[]) "
            "AS u(store, sku, name, unit, on_hand, avg_cost) "
            "ON CONFLICT (store, sku) DO UPDATE SET name = excluded.name, "
            "unit = excluded.unit, on_hand = excluded.on_hand, "
            "avg_cost = excluded.avg_cost, last_movement = excluded.last_movement, "
            "updated_at = excluded.updated_at",
            (self.now, *columns),
        )
        self.touched.clear()

    def num(self, value: Decimal, places: Decimal) -> Decimal | str:
        """A Decimal as the engine stores it: NUMERIC in PostgreSQL, text in SQLite."""
        exact = value.quantize(places, ROUND_HALF_UP)
        return exact if self.db.dialect == "postgresql" else str(exact)


def dec(value: Any) -> Decimal:
    """A stored quantity, cost or amount back as Decimal (NUMERIC or decimal text)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


@contextmanager
def writing(db: Database, now: str, store: str | None = None) -> Iterator[Ledger]:
    """One stock transaction: the stock writer's lock, a ledger, positions written last.

    The running average needs one order per item, and items are per store. So on
    PostgreSQL a transaction that writes only `store` (posting a box's journal) takes the
    stock lock shared and that store's lock exclusive: posting workers on different
    stores run side by side. Any other (head office's documents: a transfer moves two
    stores) takes the stock lock exclusive, alone. SQLite has one writer anyway."""
    with db.transaction():
        if db.dialect == "postgresql" and store is None:
            db.execute("SELECT pg_advisory_xact_lock(?)", (STOCK_LOCK,))
        elif db.dialect == "postgresql":
            db.execute("SELECT pg_advisory_xact_lock_shared(?)", (STOCK_LOCK,))
            db.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (STOCK_LOCK, store))
        ledger = Ledger(db, now)
        yield ledger
        ledger.flush()


# ---------------------------------------------------------------- posting the journal


@dataclass
class Posted:
    records: int = 0
    movements: int = 0
    unmeasured: int = 0
    unreadable: int = 0
    boxes: int = 0
    more: bool = False  # the budget ran out with records still to post


POSTED_KINDS = ("sale", "refund", "goods_receipt", "stock_count")
BOX_DOCUMENTS = ("goods_receipt", "stock_count")  # a box's receipt and count (gateway.stock)


def post_journal(
    db: Database, now: str, store: str | None = None, budget: int | None = None
) -> Posted:
    """Post every acknowledged sale and refund not posted yet as movements (exactly once:
    a cursor per box, and each line's unique key). Voids never move stock; a sale's
    `voided_lines` were never sold. With a `budget`, at most that many transactions of
    `POST_CHUNK` seqs (`cloud ingest` posts between storing, so it must not stall);
    `more` then says whether records were left for the next pass."""
    where, params = ("AND c.store = ?", [store]) if store else ("", [])
    # only the boxes whose acknowledged position is past their posting cursor
    boxes = db.query(
        "SELECT c.store, c.box, c.acked_seq FROM box_chain c LEFT JOIN stock_posting p "
        "ON p.store = c.store AND p.box = c.box "
        f"WHERE c.acked_seq > coalesce(p.posted_seq, 0) {where} ORDER BY c.store, c.box",
        params,
    )
    result = Posted()
    spent = 0
    for box_store, box, acked in boxes:
        if budget is not None and spent >= budget:
            result.more = True
            break
        result.boxes += 1
        while True:
            spent += 1
            left = _post_chunk(db, now, box_store, box, int(acked), result)
            if not left:
                break
            if budget is not None and spent >= budget:
                result.more = True
                break
    return result


def _post_chunk(db: Database, now: str, store: str, box: str, acked: int, result: Posted) -> bool:
    """Post the next chunk of one box's journal; False when it is posted up to `acked`."""
    with writing(db, now, store) as ledger:
        row = db.execute(
            "SELECT posted_seq FROM stock_posting WHERE store = ? AND box = ?"
            + db.lock_rows_for_update(),
            (store, box),
        ).fetchone()
        posted = int(row[0]) if row else 0
        if posted >= acked:
            return False
        upto = min(acked, posted + POST_CHUNK)
        rows = db.execute(
            "SELECT seq, kind, body, time FROM journal_record WHERE store = ? AND box = ? "
            "AND seq > ? AND seq <= ? AND kind IN (?, ?, ?, ?) ORDER BY seq",
            (store, box, posted, upto, *POSTED_KINDS),
        ).fetchall()
        result.records += len(rows)
        ledger.known.update(
            key
            for (key,) in db.execute(
                "SELECT key FROM stock_movement WHERE store = ? AND box = ? AND seq > ? "
                "AND seq <= ?",
                (store, box, posted, upto),
            ).fetchall()
        )
        # in journal order: a box's count judges the ledger as the records before it left it
        parts: list[list[Movement] | tuple[int, str, GoodsReceiptBody | StockCountBody]] = []
        skus: set[str] = set()
        for seq, kind, body, time in rows:
            if kind in BOX_DOCUMENTS:
                document = _box_document(kind, body, result)
                if document is not None:
                    parts.append((int(seq), str(time), document))
                    skus.update(line.sku for line in document.lines)
                continue
            found = list(_journal_movements(store, box, int(seq), kind, body, time, result))
            skus.update(m.sku for m in found)
            parts.append(found)
        ledger.preload(store, skus)
        for part in parts:
            if isinstance(part, list):
                for movement in part:
                    if ledger.append(_measurable(ledger, movement, result)):
                        result.movements += 1
            else:
                result.movements += _post_box_document(db, now, ledger, store, box, *part)
        db.execute(
            "INSERT INTO stock_posting (store, box, posted_seq, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (store, box) DO UPDATE SET posted_seq = excluded.posted_seq, "
            "updated_at = excluded.updated_at",
            (store, box, upto, now),
        )
    return upto < acked


def _box_document(kind: str, body: str, result: Posted) -> GoodsReceiptBody | StockCountBody | None:
    try:
        if kind == "goods_receipt":
            return GoodsReceiptBody.model_validate_json(body)
        return StockCountBody.model_validate_json(body)
    except ValidationError:
        result.unreadable += 1
        return None


def _post_box_document(
    db: Database,
    now: str,
    ledger: Ledger,
    store: str,
    box: str,
    seq: int,
    time: str,
    doc: GoodsReceiptBody | StockCountBody,
) -> int:
    """A goods receipt or stock count taken at a box (docs/stock.md, "At the box"): one
    movement per line keyed by the journal line, the document recorded once. A receipt's
    line without a cost comes in at its purchase order line's cost, else at the average;
    the order's status moves. A count is recorded `pending` with each line's variance:
    counted minus what the ledger held after the box's record `after_seq` (what this box's
    journal moved since is taken off what the ledger holds now, so the sales during the
    count stay counted); it moves stock when an approver applies it (`decide_count`)."""
    receipt = isinstance(doc, GoodsReceiptBody)
    doc_id = doc.receipt_id if isinstance(doc, GoodsReceiptBody) else doc.count_id
    order = doc.purchase_order if isinstance(doc, GoodsReceiptBody) else None
    known_order = order is not None and _is_order(db, order, store)
    if receipt and known_order:
        assert order is not None
        order_costs = {line.sku: line.unit_cost for line in load_order(db, order).lines}
    else:
        order_costs = {}
    recorded = _box_document_id(db, store, box, seq, doc_id)
    if recorded is None:
        return 0  # this very record is held already (a re-delivery): never a second document
    doc_id = recorded
    body = doc.model_dump(mode="json", by_alias=True)
    body.update(box=box, seq=seq)
    if isinstance(doc, StockCountBody):
        ledger.flush()  # what this box moved since `after_seq` is read back from the table
        body["variance"] = [
            _judged(db, ledger, store, box, seq, doc.after_seq, c) for c in doc.lines
        ]
        if doc.scope == "full":  # what the store holds and nobody counted is not there
            counted = {c.sku for c in doc.lines}
            first = max((c.index for c in doc.lines), default=-1) + 1
            held = db.query(
                "SELECT sku, name, unit FROM stock_position WHERE store = ? ORDER BY sku",
                (store,),
            )
            for n, (sku, name, unit) in enumerate(r for r in held if r[0] not in counted):
                none = CountLine(index=first + n, sku=sku, name=name, unit=unit, counted=ZERO)
                judged = _judged(db, ledger, store, box, seq, doc.after_seq, none)
                if Decimal(str(judged["expected"])) != 0:
                    body["variance"].append(judged)
    db.execute(
        "INSERT INTO stock_document (id, kind, store, other_store, reference, status, "
        "business_day, time, body, created_by, created_at) "
        "VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
        (
            doc_id,
            "goods_receipt" if receipt else "stock_count",
            store,
            order if known_order else None,  # else the body keeps its number
            "done" if receipt else "pending",
            doc.business_day,
            time,
            json.dumps(body, sort_keys=True, ensure_ascii=False),
            doc.staff.id,
            now,
        ),
    )
    where = f"{store}/{box}/{seq}"
    if isinstance(doc, StockCountBody):
        return 0  # judged when recorded (above), moved when approved (`decide_count`)
    moved = 0
    for r in doc.lines:
        cost = r.unit_cost
        if cost is None:
            cost = order_costs.get(r.sku) or ledger.position(store, r.sku).avg_cost
        moved += ledger.append(
            Movement(
                key=f"receipt:{where}/{r.index}",
                store=store,
                sku=r.sku,
                name=r.name,
                kind="receipt",
                quantity=r.quantity,
                unit=r.unit,
                business_day=doc.business_day,
                time=time,
                document=doc_id,
                actor=doc.finished_by.id,
                unit_cost=cost,
                box=box,
                seq=seq,
                line=r.index,
            )
        )
    if known_order:
        assert order is not None
        ledger.flush()  # the order's status counts the receipt's movements
        _update_order_status(db, order)
    return moved


def _box_document_id(db: Database, store: str, box: str, seq: int, number: str) -> str | None:
    """The id head office records a box's document under, or None when this journal
    record (store, box, seq) is recorded already. Box ids repeat across stores and a box
    of an older release numbered its documents `BOX-CODE-N`, without the store, so the
    id is the number with the store put in front unless it starts with it (what a box
    numbers now: `STORE-BOX-CODE-N`); should that be held by another record, `-2`, `-3`
    ... after it. A document recorded under its bare number (before head office put the
    store in) still counts as this record's."""
    own = number if number.startswith(f"{store}-") else f"{store}-{number}"
    if _held_by(db, number) == (store, box, seq):
        return None
    candidate, n = own, 1
    while (holder := _held_by(db, candidate)) is not None:
        if holder == (store, box, seq):
            return None
        n += 1
        candidate = f"{own}-{n}"
    return candidate


def _held_by(db: Database, doc_id: str) -> tuple[str, str, int] | None:
    """The journal record (store, box, seq) a document came from; ("", "", 0) for one
    head office recorded; None when no document has the id."""
    row = db.execute("SELECT store, body FROM stock_document WHERE id = ?", (doc_id,)).fetchone()
    if row is None:
        return None
    body = json.loads(row[1])
    if not isinstance(body, dict) or "box" not in body or "seq" not in body:
        return ("", "", 0)
    return (str(row[0]), str(body["box"]), int(body["seq"]))


def _judged(
    db: Database, ledger: Ledger, store: str, box: str, seq: int, after: int, line: CountLine
) -> dict[str, str | int]:
    """A box count line against the ledger after the box's record `after`: what the ledger
    holds now, less what that box's journal moved of the item since."""
    held = ledger.position(store, line.sku).on_hand
    expected = held - _moved_since(db, store, box, line.sku, after, seq)
    return {
        "index": line.index,
        "sku": line.sku,
        "name": line.name,
        "unit": line.unit,
        "expected": str(expected.quantize(QTY)),
        "counted": str(line.counted.quantize(QTY)),
        "variance": str((line.counted - expected).quantize(QTY)),
    }


@dataclass(frozen=True)
class PendingCount:
    id: str
    store: str
    status: str
    business_day: str
    box: str
    seq: int
    taken_by: str
    lines: list[dict[str, Any]]


def load_box_count(db: Database, doc_id: str) -> PendingCount:
    row = db.execute(
        "SELECT store, status, business_day, body FROM stock_document "
        "WHERE id = ? AND kind = 'stock_count'",
        (doc_id,),
    ).fetchone()
    body = json.loads(row[3]) if row is not None else {}
    if row is None or "variance" not in body:
        raise StockError(
            f"no stock count {doc_id} taken at a box",
            where="cloud stock approve",
            fix="`cloud stock counts` lists the counts boxes sent",
        )
    return PendingCount(
        doc_id,
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(body["box"]),
        int(body["seq"]),
        str(body["staff"]["id"]),
        list(body["variance"]),
    )


def box_counts(db: Database, store: str | None = None) -> list[PendingCount]:
    """Every count a box sent, newest last (`pending`, `approved` or `rejected`)."""
    where, params = ("AND store = ?", [store]) if store else ("", [])
    rows = db.query(
        "SELECT id FROM stock_document WHERE kind = 'stock_count' "
        f"AND status IN ('pending', 'approved', 'rejected') {where} ORDER BY time, id",
        params,
    )
    return [load_box_count(db, str(r[0])) for r in rows]


def decide_count(db: Database, now: str, doc_id: str, by: str, *, approve: bool) -> PendingCount:
    """An approver applies a box's count (one `count` movement per line of its variance,
    keyed `count:STORE/BOX/SEQ/N`, actor the approver) or rejects it (nothing moves).
    The variance is a difference judged when the count was posted, so applying it later
    leaves the sales since then counted."""
    with writing(db, now) as ledger:
        count = load_box_count(db, doc_id)
        if count.status != "pending":
            raise StockError(
                f"stock count {doc_id} is {count.status} already",
                where="cloud stock approve" if approve else "cloud stock reject",
                fix="a count is approved or rejected once; take a new count to correct it",
            )
        if approve:
            ledger.preload(count.store, (str(line["sku"]) for line in count.lines))
            where = f"{count.store}/{count.box}/{count.seq}"
            for line in count.lines:
                ledger.append(
                    Movement(
                        key=f"count:{where}/{line['index']}",
                        store=count.store,
                        sku=str(line["sku"]),
                        name=str(line["name"]),
                        kind="count",
                        quantity=Decimal(str(line["variance"])),
                        unit=str(line["unit"]),
                        business_day=count.business_day,
                        time=now,
                        document=doc_id,
                        actor=by,
                        box=count.box,
                        seq=count.seq,
                        line=int(line["index"]),
                    )
                )
        db.execute(
            "UPDATE stock_document SET status = ? WHERE id = ?",
            ("approved" if approve else "rejected", doc_id),
        )
    return replace(count, status="approved" if approve else "rejected")


def _moved_since(db: Database, store: str, box: str, sku: str, after: int, before: int) -> Decimal:
    """What box `box`'s journal records after `after` and before `before` moved of `sku`."""
    total = ZERO
    for (quantity,) in db.execute(
        "SELECT quantity FROM stock_movement WHERE store = ? AND box = ? AND sku = ? "
        "AND seq > ? AND seq < ?",
        (store, box, sku, after, before),
    ).fetchall():
        total += dec(quantity)
    return total


def _is_order(db: Database, order: str, store: str) -> bool:
    row = db.execute(
        "SELECT store FROM stock_document WHERE id = ? AND kind = 'purchase_order'", (order,)
    ).fetchone()
    return row is not None and row[0] == store


def _measurable(ledger: Ledger, m: Movement, result: Posted) -> Movement:
    """A refund line without a weight of an item stocked in kg was a price-label line
    (a refund line carries no unit): its weight is not known, so it moves nothing."""
    if m.kind == "refund" and m.unit == "each" and ledger.unit_of(m.store, m.sku) == "kg":
        result.unmeasured += 1
        return replace(m, quantity=ZERO, unit="kg", reason=UNMEASURED)
    return m


def _journal_movements(
    store: str, box: str, seq: int, kind: str, body: str, time: str, result: Posted
) -> Iterator[Movement]:
    try:
        parsed = (SaleBody if kind == "sale" else RefundBody).model_validate_json(body)
    except ValidationError:
        result.unreadable += 1
        return
    where = f"{store}/{box}/{seq}"
    if isinstance(parsed, SaleBody):
        for line in parsed.lines:
            qty = line_quantity(line.unit, line.quantity, line.weight)
            result.unmeasured += qty is None
            yield Movement(
                key=f"sale:{where}/{line.index}",
                store=store,
                sku=line.sku,
                name=line.name,
                kind="sale",
                quantity=ZERO if qty is None else -qty,
                unit=stock_unit(line.unit),
                business_day=parsed.business_day,
                time=time,
                document=parsed.receipt_id,
                actor=parsed.staff.id,
                box=box,
                seq=seq,
                line=line.index,
                reason=UNMEASURED if qty is None else None,
            )
        return
    for number, back in enumerate(parsed.lines):
        # A refund line has no unit: a weight says it was weighed (kg), else a count.
        unit = "each" if back.weight is None else "kg"
        qty = back.quantity if back.weight is None else back.weight.quantize(QTY)
        yield Movement(
            key=f"refund:{where}/{number}",
            store=store,
            sku=back.sku,
            name=back.name,
            kind="refund",
            quantity=qty,
            unit=unit,
            business_day=parsed.business_day,
            time=time,
            document=parsed.refund_id,
            actor=parsed.staff.id,
            box=box,
            seq=seq,
            line=number,
            reason=parsed.reason or None,
        )


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class DocumentLine:
    sku: str
    quantity: Decimal
    unit_cost: Decimal | None = None


@dataclass(frozen=True)
class Stamp:
    """Who records a document, when it happened and the business day it counts toward."""

    by: str
    time: str
    business_day: str


def parse_quantity(text: str, where: str, *, allow_zero: bool = False) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise UsageError(
            f"{text!r} is not a quantity", where=where, fix="write e.g. 12 or 1.250 (kg)"
        ) from exc
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(
            f"quantity {text} must be {'0 or more' if allow_zero else 'above 0'}",
            where=where,
            fix="give a positive quantity in the item's unit",
        )
    if value != value.quantize(QTY):
        raise UsageError(
            f"quantity {text} has more than 3 decimals",
            where=where,
            fix="kg are kept to the gram: at most 3 decimals",
        )
    return value


def parse_cost(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise UsageError(f"{text!r} is not a cost", where=where, fix="write e.g. 2.35") from exc
    if not value.is_finite() or value < 0 or value != value.quantize(COST):
        raise UsageError(
            f"unit cost {text} must be 0 or more with at most 4 decimals",
            where=where,
            fix="give the cost per unit (per kg for weighed items), e.g. 2.35",
        )
    return value


def _record_document(
    db: Database,
    now: str,
    doc_id: str,
    kind: DocumentKind,
    store: str,
    stamp: Stamp,
    body: dict[str, Any],
    *,
    other_store: str | None = None,
    reference: str | None = None,
    status: str = "done",
) -> None:
    if not doc_id.strip():
        raise UsageError("a document needs its number", where="--doc", fix="e.g. --doc GR-0001")
    found = db.execute(
        "SELECT kind, store, created_by, created_at FROM stock_document WHERE id = ?", (doc_id,)
    ).fetchone()
    if found is not None:
        raise StockError(
            f"document {doc_id} is already recorded ({found[0]} for {found[1]}, by "
            f"{found[2]} at {found[3]})",
            where="--doc",
            fix="a document is recorded once; give a new number (correct a mistake with "
            "another document, e.g. a count or a loss)",
        )
    db.execute(
        "INSERT INTO stock_document (id, kind, store, other_store, reference, status, "
        "business_day, time, body, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            doc_id,
            kind,
            store,
            other_store,
            reference,
            status,
            stamp.business_day,
            stamp.time,
            json.dumps(body, sort_keys=True, ensure_ascii=False),
            stamp.by,
            now,
        ),
    )


def _unit(ledger: Ledger, store: str, sku: str) -> str:
    return ledger.unit_of(store, sku) or "each"


def _check_each(unit: str, qty: Decimal, sku: str, where: str) -> None:
    if unit == "each" and qty != qty.to_integral_value():
        raise UsageError(
            f"{sku} is counted each: {qty} is not a whole number",
            where=where,
            fix="give whole units, or set the item's unit with "
            "`cloud stock item set --unit kg` if it is weighed",
        )


def lines_body(lines: Sequence[DocumentLine]) -> list[dict[str, str]]:
    out = []
    for line in lines:
        item = {"sku": line.sku, "quantity": str(line.quantity)}
        if line.unit_cost is not None:
            item["unit_cost"] = str(line.unit_cost)
        out.append(item)
    return out


def _movement(
    ledger: Ledger,
    doc: str,
    n: int,
    store: str,
    line: DocumentLine,
    kind: MovementKind,
    sign: int,
    stamp: Stamp,
    *,
    unit_cost: Decimal | None = None,
    reason: str | None = None,
    unit: str | None = None,
    where: str = "--item",
) -> Movement:
    unit = unit or _unit(ledger, store, line.sku)
    _check_each(unit, line.quantity, line.sku, where)
    return Movement(
        key=f"{kind}:{doc}/{n}",
        store=store,
        sku=line.sku,
        name=ledger.name_of(store, line.sku),
        kind=kind,
        quantity=line.quantity * sign,
        unit=unit,
        business_day=stamp.business_day,
        time=stamp.time,
        document=doc,
        actor=stamp.by,
        unit_cost=unit_cost,
        line=n,
        reason=reason,
    )


def receive(
    db: Database,
    now: str,
    doc: str,
    store: str,
    lines: Sequence[DocumentLine],
    stamp: Stamp,
    *,
    order: str | None = None,
    supplier: str | None = None,
) -> int:
    """A goods receipt (进货): each line in at its unit cost; against purchase order
    `order` when given (its status becomes `partial` or `received`)."""
    _need_lines(lines)
    with writing(db, now) as ledger:
        ledger.preload(store, (line.sku for line in lines))
        if order is not None:
            _check_order(db, order, store)
        _record_document(
            db,
            now,
            doc,
            "goods_receipt",
            store,
            stamp,
            {"lines": lines_body(lines), "supplier": supplier},
            reference=order,
        )
        for n, line in enumerate(lines):
            ledger.append(
                _movement(
                    ledger, doc, n, store, line, "receipt", 1, stamp, unit_cost=line.unit_cost
                )
            )
        if order is not None:
            ledger.flush()  # the order's status counts the receipt's movements
            _update_order_status(db, order)
    return len(lines)


def transfer(
    db: Database,
    now: str,
    doc: str,
    source: str,
    target: str,
    lines: Sequence[DocumentLine],
    stamp: Stamp,
) -> int:
    """Goods moved between stores: out of `source` at its average cost, into `target` at
    that same cost (which re-weighs the target's moving average)."""
    _need_lines(lines)
    if source == target:
        raise UsageError(
            f"a transfer from {source} to itself moves nothing",
            where="--to-store",
            fix="name the store the goods go to",
        )
    with writing(db, now) as ledger:
        for store in (source, target):
            ledger.preload(store, (line.sku for line in lines))
        _record_document(
            db,
            now,
            doc,
            "transfer",
            source,
            stamp,
            {"lines": lines_body(lines)},
            other_store=target,
        )
        for n, line in enumerate(lines):
            out = _movement(ledger, doc, n, source, line, "transfer_out", -1, stamp)
            cost = ledger.position(source, line.sku).avg_cost
            ledger.append(out)
            # an item new to the target store comes with the sender's unit and name
            unit = ledger.unit_of(target, line.sku) or out.unit
            into = _movement(
                ledger, doc, n, target, line, "transfer_in", 1, stamp, unit_cost=cost, unit=unit
            )
            if ledger.unit_of(target, line.sku) is None:
                into = replace(into, name=out.name)
            ledger.append(into)
    return len(lines)


def record_loss(
    db: Database,
    now: str,
    doc: str,
    store: str,
    lines: Sequence[DocumentLine],
    stamp: Stamp,
    reason: str,
    note: str | None = None,
) -> int:
    """Loss or damage (报损): each line out at the average cost, with its reason."""
    _need_lines(lines)
    if reason not in LOSS_REASONS:
        raise UsageError(
            f"unknown loss reason {reason!r}",
            where="--reason",
            fix=f"choose one of {', '.join(LOSS_REASONS)}",
        )
    with writing(db, now) as ledger:
        ledger.preload(store, (line.sku for line in lines))
        _record_document(
            db,
            now,
            doc,
            "loss",
            store,
            stamp,
            {"lines": lines_body(lines), "reason": reason, "note": note},
        )
        for n, line in enumerate(lines):
            ledger.append(_movement(ledger, doc, n, store, line, "loss", -1, stamp, reason=reason))
    return len(lines)


@dataclass(frozen=True)
class CountResult:
    sku: str
    expected: Decimal
    counted: Decimal

    @property
    def variance(self) -> Decimal:
        return self.counted - self.expected


def record_count(
    db: Database, now: str, doc: str, store: str, lines: Sequence[DocumentLine], stamp: Stamp
) -> list[CountResult]:
    """A stock count (盘点): each counted item is adjusted to the count by one movement of
    the difference (also of 0, so the count is on the item's trail), at the average cost.
    Post the journal first (`post_journal`), so the sales before the count are in."""
    _need_lines(lines)
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        raise UsageError(
            "an item is counted twice in one count", where="--item", fix="add the counts up first"
        )
    results: list[CountResult] = []
    with writing(db, now) as ledger:
        ledger.preload(store, (line.sku for line in lines))
        _record_document(db, now, doc, "stock_count", store, stamp, {"lines": lines_body(lines)})
        for n, line in enumerate(lines):
            expected = ledger.position(store, line.sku).on_hand
            unit = _unit(ledger, store, line.sku)
            _check_each(unit, line.quantity, line.sku, "--item")
            ledger.append(
                Movement(
                    key=f"count:{doc}/{n}",
                    store=store,
                    sku=line.sku,
                    kind="count",
                    quantity=line.quantity - expected,
                    unit=unit,
                    business_day=stamp.business_day,
                    time=stamp.time,
                    document=doc,
                    actor=stamp.by,
                    line=n,
                    reason=f"counted {line.quantity}, expected {expected}",
                )
            )
            results.append(CountResult(line.sku, expected, line.quantity))
    return results


def _need_lines(lines: Sequence[DocumentLine]) -> None:
    if not lines:
        raise UsageError(
            "the document has no lines", where="--item", fix="give at least one --item"
        )


# ---------------------------------------------------------------- purchase orders


def create_order(
    db: Database,
    now: str,
    doc: str,
    store: str,
    lines: Sequence[DocumentLine],
    stamp: Stamp,
    supplier: str | None = None,
) -> int:
    """A purchase order head office issues; goods are received against it later."""
    _need_lines(lines)
    with writing(db, now):
        _record_document(
            db,
            now,
            doc,
            "purchase_order",
            store,
            stamp,
            {"lines": lines_body(lines), "supplier": supplier},
            status="open",
        )
    return len(lines)


@dataclass(frozen=True)
class OrderLine:
    sku: str
    ordered: Decimal
    received: Decimal
    unit_cost: Decimal | None

    @property
    def outstanding(self) -> Decimal:
        return max(ZERO, self.ordered - self.received)


@dataclass(frozen=True)
class Order:
    id: str
    store: str
    status: str
    business_day: str
    created_by: str
    supplier: str | None
    lines: list[OrderLine]


def load_order(db: Database, order: str) -> Order:
    row = db.execute(
        "SELECT store, status, business_day, created_by, body FROM stock_document "
        "WHERE id = ? AND kind = 'purchase_order'",
        (order,),
    ).fetchone()
    if row is None:
        raise StockError(
            f"no purchase order {order}",
            where="--po",
            fix="list orders with `cloud stock po list`; create one with `cloud stock po create`",
        )
    store, status, day, by, body = row
    received: dict[str, Decimal] = {}
    for sku, qty in db.execute(
        "SELECT m.sku, m.quantity FROM stock_movement m JOIN stock_document d "
        "ON d.id = m.document WHERE d.reference = ? AND d.kind = 'goods_receipt' "
        "AND m.kind = 'receipt'",
        (order,),
    ).fetchall():
        received[sku] = received.get(sku, ZERO) + dec(qty)
    data = json.loads(body)
    lines = [
        OrderLine(
            item["sku"],
            Decimal(item["quantity"]),
            received.get(item["sku"], ZERO),
            Decimal(item["unit_cost"]) if item.get("unit_cost") else None,
        )
        for item in data["lines"]
    ]
    return Order(order, store, status, day, by, data.get("supplier"), lines)


def orders_document(db: Database, store: str, issued_at: str) -> dict[str, Any]:
    """The `storegate.orders/1` document of `store` (gateway.stock.orders): every order
    still to be received (open or partial), each line with its name, unit and what was
    received already; what `cloud stock po publish` signs and sends."""
    from gateway.stock.orders import parse_orders

    names = {lv.sku: (lv.name, lv.unit) for lv in levels(db, store)}
    settings = {
        str(sku): (name, unit)
        for sku, name, unit in db.query(
            "SELECT sku, name, unit FROM stock_item WHERE store = ?", (store,)
        )
    }
    orders = []
    for (order_id,) in db.query(
        "SELECT id FROM stock_document WHERE kind = 'purchase_order' AND store = ? "
        "AND status IN ('open', 'partial') ORDER BY id",
        (store,),
    ):
        order = load_order(db, str(order_id))
        lines = []
        for line in order.lines:
            name, unit = names.get(line.sku) or settings.get(line.sku) or (None, None)
            item: dict[str, Any] = {
                "sku": line.sku,
                "name": name or line.sku,
                "unit": unit or "each",
                "quantity": str(line.ordered),
                "received": str(line.received),
            }
            if line.unit_cost is not None:
                item["unit_cost"] = str(line.unit_cost)
            lines.append(item)
        orders.append(
            {
                "id": order.id,
                "status": order.status,
                "supplier": order.supplier,
                "business_day": order.business_day,
                "lines": lines,
            }
        )
    document = {
        "schema": "storegate.orders/1",
        "version": 1,  # the publisher numbers it
        "store": store,
        "issued_at": issued_at,
        "orders": orders,
    }
    parse_orders(document, f"orders of {store}")
    return document


def _check_order(db: Database, order: str, store: str) -> None:
    found = load_order(db, order)
    if found.store != store:
        raise StockError(
            f"purchase order {order} is for {found.store}, not {store}",
            where="--po",
            fix="receive it in the store it was ordered for",
        )
    if found.status == "received":
        raise StockError(
            f"purchase order {order} is fully received already",
            where="--po",
            fix="record extra goods as a receipt without --po",
        )


def _update_order_status(db: Database, order: str) -> None:
    found = load_order(db, order)
    done = all(line.outstanding == 0 for line in found.lines)
    db.execute(
        "UPDATE stock_document SET status = ? WHERE id = ?",
        ("received" if done else "partial", order),
    )


def on_order(db: Database, store: str) -> dict[str, Decimal]:
    """Per sku: what open or partly received purchase orders of `store` still bring."""
    outstanding: dict[str, Decimal] = {}
    for (order,) in db.query(
        "SELECT id FROM stock_document WHERE kind = 'purchase_order' AND store = ? "
        "AND status IN ('open', 'partial') ORDER BY id",
        (store,),
    ):
        for line in load_order(db, order).lines:
            outstanding[line.sku] = outstanding.get(line.sku, ZERO) + line.outstanding
    return outstanding


# ---------------------------------------------------------------- reading


class Level(NamedTuple):
    """An item's position as reported. A named tuple, not a dataclass: a store's levels
    are tens of thousands of them per read (bench/bench_stock.py --scale)."""

    store: str
    sku: str
    name: str
    unit: str
    on_hand: Decimal
    avg_cost: Decimal

    @property
    def value(self) -> Decimal:
        return stock_value(self.on_hand, self.avg_cost)


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while a read builds tens of thousands of rows
    (tuples and Decimals, no cycles): otherwise it runs every 700 of them, and its full
    passes walk the whole heap, about a fifth of a store's levels read and most of its
    tail (bench/bench_stock.py --scale). Left as found: a caller that paused it keeps it
    paused."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def levels(db: Database, store: str | None = None, as_of: str | None = None) -> list[Level]:
    """Every item's position: now (`stock_position`), or at the end of business day
    `as_of` (its movements of that day and before added up)."""
    where, params = ("WHERE store = ?", [store]) if store else ("", [])
    if as_of is None:
        with _no_collection():
            if store:  # one store's (tens of thousands): its name not sent with each row
                found = db.query(
                    "SELECT sku, name, unit, on_hand, avg_cost FROM stock_position "
                    "WHERE store = ? ORDER BY sku",
                    params,
                )
                if db.dialect == "postgresql":  # NUMERIC arrives as Decimal already
                    make = Level._make  # skips the generated __new__'s keyword handling
                    return [make((store, *r)) for r in found]
                return [Level(store, r[0], r[1], r[2], dec(r[3]), dec(r[4])) for r in found]
            rows = db.query(
                "SELECT store, sku, name, unit, on_hand, avg_cost FROM stock_position "
                "ORDER BY store, sku"
            )
            if db.dialect == "postgresql":
                return list(map(Level._make, rows))
            return [Level(r[0], r[1], r[2], r[3], dec(r[4]), dec(r[5])) for r in rows]
    # At the end of a day: on hand is the sum of the item's movements of that day and
    # before (a document back-dated to an earlier day counts there); the average is the
    # one after the last of them in ledger order.
    names = {
        (r[0], r[1]): (r[2], r[3])
        for r in db.query(f"SELECT store, sku, name, unit FROM stock_position {where}", params)
    }
    cond = " AND ".join(c for c in ("business_day <= ?", "store = ?" if store else "") if c)
    latest: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for s, sku, quantity, avg in db.query(
        f"SELECT store, sku, quantity, avg_cost_after FROM stock_movement WHERE {cond} ORDER BY id",
        [as_of, *params],
    ):
        held = latest.get((s, sku), (ZERO, ZERO))[0]
        latest[(s, sku)] = (held + dec(quantity), dec(avg))
    return [
        Level(s, sku, *names.get((s, sku), (sku, "each")), on_hand, avg)
        for (s, sku), (on_hand, avg) in sorted(latest.items())
    ]


@dataclass(frozen=True)
class StoredMovement:
    id: int
    store: str
    sku: str
    kind: str
    quantity: Decimal
    unit: str
    unit_cost: Decimal
    value: Decimal
    on_hand_after: Decimal
    avg_cost_after: Decimal
    business_day: str
    time: str
    document: str
    box: str | None
    seq: int | None
    line: int | None
    reason: str | None
    actor: str


MOVEMENT_COLUMNS = (
    "id, store, sku, kind, quantity, unit, unit_cost, value, on_hand_after, avg_cost_after, "
    "business_day, time, document, box, seq, line, reason, actor"
)


def movements(
    db: Database,
    *,
    store: str | None = None,
    sku: str | None = None,
    first: str | None = None,
    last: str | None = None,
    kinds: Iterable[str] | None = None,
) -> list[StoredMovement]:
    """Movements in ledger order, filtered by store, sku, business days and kinds."""
    where: list[str] = []
    params: list[Any] = []
    for column, value, op in (
        ("store", store, "="),
        ("sku", sku, "="),
        ("business_day", first, ">="),
        ("business_day", last, "<="),
    ):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(value)
    chosen = list(kinds or ())
    if chosen:
        where.append(f"kind IN ({', '.join('?' for _ in chosen)})")
        params += chosen
    sql = f"SELECT {MOVEMENT_COLUMNS} FROM stock_movement"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [
        StoredMovement(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            dec(r[4]),
            r[5],
            dec(r[6]),
            dec(r[7]),
            dec(r[8]),
            dec(r[9]),
            r[10],
            r[11],
            r[12],
            r[13],
            None if r[14] is None else int(r[14]),
            None if r[15] is None else int(r[15]),
            r[16],
            r[17],
        )
        for r in db.query(sql + " ORDER BY id", params)
    ]


@dataclass(frozen=True)
class Drift:
    store: str
    sku: str
    stored: Position
    derived: Position


def verify(db: Database) -> list[Drift]:
    """Recompute every position from its movements with the same rules; what differs."""
    derived: dict[tuple[str, str], Position] = {}
    for m in movements(db):
        before = derived.get((m.store, m.sku), Position())
        cost = m.unit_cost if m.kind in INCOMING_AT_COST else None
        derived[(m.store, m.sku)] = apply_movement(before, m.kind, m.quantity, cost)[0]
    stored = {(lv.store, lv.sku): Position(lv.on_hand, lv.avg_cost) for lv in levels(db)}
    return [
        Drift(s, sku, stored.get((s, sku), Position()), derived.get((s, sku), Position()))
        for s, sku in sorted(set(stored) | set(derived))
        if stored.get((s, sku), Position()) != derived.get((s, sku), Position())
    ]


# ---------------------------------------------------------------- item settings


@dataclass(frozen=True)
class ItemSettings:
    """What reorder and the low-stock rule need to know about an item in a store."""

    min_level: Decimal | None = None
    min_cover_days: int | None = None
    lead_days: int = 1
    order_days: int = 7
    pack: Decimal = Decimal(1)
    supplier: str | None = None
    name: str | None = None
    unit: str | None = None


ITEM_FIELDS = (
    "name",
    "unit",
    "min_level",
    "min_cover_days",
    "lead_days",
    "order_days",
    "pack",
    "supplier",
)


def set_item(
    db: Database, now: str, store: str, sku: str, by: str, changes: dict[str, Any]
) -> ItemSettings:
    """Change some of an item's settings (the others keep their values)."""
    current = item_settings(db, store).get(sku)  # outside: `query` ends a transaction
    with writing(db, now) as ledger:
        merged = {f: getattr(current, f) if current else None for f in ITEM_FIELDS}
        merged.update({k: v for k, v in changes.items() if v is not None})
        params = [
            merged["name"],
            merged["unit"],
            None if merged["min_level"] is None else ledger.num(merged["min_level"], QTY),
            merged["min_cover_days"],
            merged["lead_days"],
            merged["order_days"],
            None if merged["pack"] is None else ledger.num(merged["pack"], QTY),
            merged["supplier"],
        ]
        db.execute(
            "INSERT INTO stock_item (store, sku, name, unit, min_level, min_cover_days, "
            "lead_days, order_days, pack, supplier, updated_by, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, sku) DO UPDATE SET "
            "name = excluded.name, unit = excluded.unit, min_level = excluded.min_level, "
            "min_cover_days = excluded.min_cover_days, lead_days = excluded.lead_days, "
            "order_days = excluded.order_days, pack = excluded.pack, "
            "supplier = excluded.supplier, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at",
            (store, sku, *params, by, now),
        )
    return item_settings(db, store)[sku]


def item_settings(db: Database, store: str | None = None) -> dict[str, ItemSettings]:
    """Settings by sku for one store (by (store, sku) key text 'STORE\\tSKU' for all)."""
    where, params = ("WHERE store = ?", [store]) if store else ("", [])
    out: dict[str, ItemSettings] = {}
    for row in db.query(
        "SELECT store, sku, name, unit, min_level, min_cover_days, lead_days, order_days, "
        f"pack, supplier FROM stock_item {where}",
        params,
    ):
        s, sku, name, unit, min_level, cover, lead, order_days, pack, supplier = row
        settings = ItemSettings(
            None if min_level is None else dec(min_level),
            None if cover is None else int(cover),
            1 if lead is None else int(lead),
            7 if order_days is None else int(order_days),
            Decimal(1) if pack is None else dec(pack),
            supplier,
            name,
            unit,
        )
        out[sku if store else f"{s}\t{sku}"] = settings
    return out


# ---------------------------------------------------------------- what a person typed


def parse_lines(
    items: Sequence[Sequence[str]], *, cost: bool = False, zero: bool = False, label: str = "--item"
) -> list[DocumentLine]:
    """A document's lines as typed (sku, quantity and, where `cost`, the unit cost), each
    checked with the line named (`label #N (...)`); what `cloud stock` and the page both
    parse, so a line the one refuses the other refuses with the same words."""
    lines = []
    for n, item in enumerate(items, 1):
        where = f"{label} #{n} ({' '.join(item)})"
        sku = item[0].strip()
        if not sku:
            raise UsageError("blank sku", where=where, fix="give the item's sku first")
        qty = parse_quantity(item[1], where, allow_zero=zero)
        lines.append(DocumentLine(sku, qty, parse_cost(item[2], where) if cost else None))
    return lines


DAY_FIELDS = ("min_cover_days", "lead_days", "order_days")


def item_changes(given: dict[str, str | None], label: dict[str, str]) -> dict[str, Any]:
    """An item's settings as typed (None: left as it is) checked into what `set_item`
    takes; `label` names each field as the caller shows it (`--min`, or the form's)."""
    min_level, pack = given.get("min_level"), given.get("pack")
    unit = given.get("unit")
    if unit is not None and unit not in UNITS:
        raise UsageError(
            f"unknown unit {unit!r}", where=label["unit"], fix=f"one of {', '.join(UNITS)}"
        )
    changes: dict[str, Any] = {
        "name": given.get("name"),
        "unit": unit,
        "supplier": given.get("supplier"),
        "min_level": None
        if min_level is None
        else parse_quantity(min_level, label["min_level"], allow_zero=True),
        "pack": None if pack is None else parse_quantity(pack, label["pack"]),
    }
    for name in DAY_FIELDS:
        text = given.get(name)
        if text is None:
            changes[name] = None
            continue
        try:
            value = int(text)
        except ValueError as exc:
            raise UsageError(
                f"{label[name]} {text!r} is not a number of days",
                where=label[name],
                fix="give whole days, 0 or more",
            ) from exc
        if value < 0:
            raise UsageError(
                f"{label[name]} {value} is negative", where=label[name], fix="give 0 or more days"
            )
        changes[name] = value
    return changes


def list_orders(db: Database, store: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """Purchase orders (id, store, business day, status, issued by), by day then id."""
    where, params = ("AND store = ?", [store]) if store else ("", [])
    rows = db.query(
        "SELECT id, store, business_day, status, created_by FROM stock_document "
        f"WHERE kind = 'purchase_order' {where} ORDER BY business_day, id",
        params,
    )
    return [(str(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in rows]


def publish_orders(
    db: Database,
    order_id: str,
    *,
    broker: BrokerOptions,
    root: str,
    key: SigningKey,
    now: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send the store of `order_id` every order of it still to be received, as one signed
    `orders` document on `{root}/{store}/orders` (`cloud.publish.publish_document`, what
    `cloud publish` runs); (the document, the signed message). What `cloud stock po
    publish` and the page's Publish do."""
    from cloud.publish import publish_document

    order = load_order(db, order_id)
    if order.status == "received":
        raise StockError(
            f"purchase order {order.id} is fully received: there is nothing to send",
            where="cloud stock po publish",
            fix="`cloud stock po list` shows the open ones",
        )
    document = orders_document(db, order.store, now)
    [message] = publish_document(
        db=db,
        broker=broker,
        root=root,
        kind="orders",
        document=document,
        stores=[order.store],
        box=None,
        key=key,
    )
    return document, message
