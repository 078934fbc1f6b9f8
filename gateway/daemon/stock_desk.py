"""The box's stock desk: carries out the stock-session core on the daemon's main loop.

Owns turning a control request (`gateway stock ...`) or a scan from the scanner into an
input of gateway.stock.session — the person authenticated (staff number and PIN, the
`stock` permission of `[lane.permissions]`), the code resolved from the catalog in force,
a weighed item's quantity from the scale's stable reading, the purchase order from the
orders head office pushed — and journalling what the step returns (the daemon's journal
is the one writer; the steps go up to head office with the rest of the journal). At start
it replays the open session from the journal, so a restart loses no scan. Called on the
main loop only; it never touches the lane.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.barcodes import Misread, parse_scan
from gateway.catalog.catalog import Catalog
from gateway.catalog.document import Product
from gateway.journal import Journal
from gateway.lane.events import Credential, Refusal
from gateway.lane.items import card_code_refusal, find_product
from gateway.lane.records import LaneRef, StaffRef
from gateway.lane.staff import StaffDirectory
from gateway.settings import GatewaySettings
from gateway.stock.orders import OrderStore
from gateway.stock.records import STEP_KIND, STOCK_KINDS, Mode, StepItem
from gateway.stock.session import (
    NO_SESSION,
    Add,
    Cancel,
    Finish,
    Given,
    Refused,
    Section,
    Session,
    Start,
    parse_decimal,
    replay,
    step,
    view,
)

log = logging.getLogger("storegate.daemon")
STOCK_PERMISSION = "stock"
ACTIONS = ("receive", "count", "scan", "set", "section", "finish", "cancel", "status", "orders")
MAX_TEXT = 256


def _refused(code: str, message: str, exit_code: int = 1) -> dict[str, Any]:
    return {"ok": False, "refused": code, "error": message, "exit_code": exit_code}


class StockDesk:
    """The open stock session of this box and the way in for its inputs."""

    def __init__(
        self,
        journal: Journal,
        conn: sqlite3.Connection,
        staff: StaffDirectory,
        settings: GatewaySettings,
        orders: OrderStore,
        catalog: Callable[[], Catalog],
        local: Callable[[], datetime],
    ) -> None:
        self.journal = journal
        self.conn = conn
        self.staff = staff
        self.settings = settings
        self.orders = orders
        self.catalog = catalog
        self.local = local
        self.session: Session | None = None
        self.last: dict[str, Any] | None = None  # what the last scan from the scanner said

    @property
    def lane(self) -> LaneRef:
        return LaneRef(store=self.settings.store.id, box=self.settings.store.box)

    def restore(self) -> None:
        """The open session after a restart, folded from the journal."""
        self.session = session_in(self.conn)
        if self.session is not None:
            log.info(
                "stock session %s (%s) open since %s: carried on after the restart",
                self.session.id,
                self.session.mode,
                self.session.started_at,
            )

    # -- the way in -----------------------------------------------------------------------

    def request(
        self, fields: Mapping[str, Any], weight: Decimal | None, sale_open: bool
    ) -> dict[str, Any]:
        """One `{"command": "stock", "action": ...}` request; its answer for the socket."""
        action = str(fields.get("action") or "")
        if action not in ACTIONS:
            return _refused(
                "bad_input", f"unknown stock action {action[:40]!r}: one of {', '.join(ACTIONS)}", 2
            )
        if action == "status":
            return {"ok": True, "stock": view(self.session)}
        if action == "orders":
            return {"ok": True, "orders": [o.model_dump(mode="json") for o in self.orders.all()]}
        now = self.local()
        if action in ("receive", "count"):
            if sale_open:
                return _refused(
                    "sale_open", "A sale is open at the till: finish or suspend it first."
                )
            return self._start("receive" if action == "receive" else "count", fields, now)
        if action in ("scan", "set"):
            return self._item(fields, weight, now, replace=action == "set")
        if action == "section":
            return self._take(Section(str(fields.get("name") or ""), now.isoformat("T", "seconds")))
        who = self._person(fields, now)
        if isinstance(who, dict):
            return who
        stamp = now.isoformat("T", "seconds")
        if action == "finish":
            return self._take(Finish(stamp, who, self.lane))
        reason = str(fields.get("reason") or "")[:500] or None
        return self._take(Cancel(stamp, who, reason))

    def scan(self, raw: str, weight: Decimal | None) -> dict[str, Any]:
        """A scan from the scanner while the session is open: the item, one more."""
        answer = self._item({"code": raw}, weight, self.local(), replace=False)
        self.last = {k: v for k, v in answer.items() if k != "stock"}
        return answer

    # -- steps ------------------------------------------------------------------------------

    def _person(self, fields: Mapping[str, Any], now: datetime) -> StaffRef | dict[str, Any]:
        staff_id, pin = fields.get("staff"), fields.get("pin")
        if not staff_id or not pin:
            return _refused(
                "no_credential",
                "This needs a supervisor's staff number and PIN (gateway stock ... --staff N).",
                2,
            )
        who = self.staff.identify(Credential(staff_id=str(staff_id), pin=str(pin)), now)
        if isinstance(who, Refusal):
            return _refused(who.code, who.message)
        if not self.settings.lane.allows(who.role, STOCK_PERMISSION):
            return _refused(
                "not_permitted",
                f"{who.name} ({who.role}) may not receive goods or count stock "
                "([lane.permissions] stock).",
            )
        return who.ref()

    def _start(self, mode: Mode, fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        if self.session is not None:  # said before a PIN is asked for nothing
            return _refused(
                "session_open",
                f"{self.session.id} is open already: finish or cancel it first.",
            )
        who = self._person(fields, now)
        if isinstance(who, dict):
            return who
        head = self.journal.state().head_seq
        code = "GR" if mode == "receive" else "C"
        where = self.settings.store  # its id in the number: box ids repeat across stores
        order_id = _text(fields.get("po"))
        order_lines: tuple[Any, ...] = ()
        supplier = _text(fields.get("supplier"))
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None:
                return _refused(
                    "unknown_order",
                    f"Purchase order {order_id} is not on this box: head office publishes it "
                    "with `cloud stock po publish`; `gateway stock orders` lists those here.",
                )
            order_lines = order.refs()
            supplier = supplier or order.supplier
        return self._take(
            Start(
                mode=mode,
                session_id=f"{where.id}-{where.box}-{code}-{head + 1:06d}",
                staff=who,
                local_time=now.isoformat("T", "seconds"),
                business_day=now.date().isoformat(),
                after_seq=head,
                blind=fields.get("blind") in (True, "true", "1", "yes"),
                purchase_order=order_id,
                supplier=supplier,
                delivery_note=_text(fields.get("delivery_note")),
                order_lines=order_lines,
                section=_text(fields.get("section")),
                full=fields.get("full") in (True, "true", "1", "yes"),
            )
        )

    def _item(
        self, fields: Mapping[str, Any], weight: Decimal | None, now: datetime, *, replace: bool
    ) -> dict[str, Any]:
        if self.session is None:
            return _refused(NO_SESSION.code, NO_SESSION.message)
        code = _text(fields.get("code"))
        if code is None:
            return _refused("bad_input", "Scan or key the item's barcode, PLU or SKU (code=).", 2)
        product, label = self._lookup(code)
        if isinstance(product, Refused):
            return _refused(product.code, product.message)
        item = StepItem(
            sku=product.sku,
            name=product.name,
            unit="kg" if product.unit in ("kg", "g") else "each",
        )
        quantity: Decimal | Refused
        if fields.get("quantity") not in (None, ""):
            quantity = parse_decimal(str(fields["quantity"]), "Quantity")
        elif item.unit == "kg":
            found = label if label is not None else weight
            if found is None:
                return _refused(
                    "needs_weight",
                    f"{item.name} is weighed: put it on the scale (a stable reading), "
                    "or key the weight (quantity=KG).",
                )
            quantity = found
        else:
            quantity = Decimal(1)
        if isinstance(quantity, Refused):
            return _refused(quantity.code, quantity.message, 2)
        cost: Decimal | None = None
        if fields.get("cost") not in (None, ""):
            keyed = parse_decimal(str(fields["cost"]), "Unit cost")
            if isinstance(keyed, Refused):
                return _refused(keyed.code, keyed.message, 2)
            cost = keyed
        return self._take(
            Add(
                item,
                quantity,
                now.isoformat("T", "seconds"),
                code=code if card_code_refusal(code) is None else None,
                unit_cost=cost,
                replace=replace,
            )
        )

    def _lookup(self, code: str) -> tuple[Product | Refused, Decimal | None]:
        """The product a scanned or keyed code names, and a weight its label carries (kg)."""
        catalog = self.catalog()
        parsed = parse_scan(code, self.settings.barcodes)
        product = None if isinstance(parsed, Misread) else catalog.lookup(parsed.lookup_keys)
        if product is None:
            product = find_product(catalog, code)
        if product is None:
            refusal = card_code_refusal(code)
            if refusal is not None:  # a card's number is never echoed nor kept
                return Refused(refusal.code, refusal.message), None
            return Refused("unknown_item", "Unknown item: it is not in the catalog."), None
        label = None if isinstance(parsed, Misread) else parsed.weight
        if label is None and not isinstance(parsed, Misread) and parsed.price is not None:
            return Refused(
                "needs_weight",
                f"{product.name}: a price label says no weight - weigh it on the scale "
                "and key its PLU, or key the weight (quantity=KG).",
            ), None
        return product, label

    def _take(self, given: Given) -> dict[str, Any]:
        """Run one input through the core; journal its records; the answer."""
        result = step(self.session, given)
        if isinstance(result, Refused):
            return _refused(result.code, result.message)
        written = self.journal.append_many(list(result.records)) if result.records else []
        self.session = result.session
        answer: dict[str, Any] = {
            "ok": True,
            "said": result.said,
            "notices": list(result.notices),
            "records": [r.seq for r in written],
            "stock": view(self.session),
        }
        finished = [r for r in written if r.kind != STEP_KIND]
        if finished:
            answer["document"] = finished[0].body
        return answer

    def view(self) -> dict[str, Any] | None:
        shown = view(self.session)
        if shown is not None and self.last is not None:
            shown["last_scan"] = self.last
        return shown


def session_in(conn: sqlite3.Connection) -> Session | None:
    """The open stock session of a box's database: its journal's stock records since the
    newest session start, folded by the core (also read-only, for a stopped box)."""
    row = conn.execute(
        "SELECT max(seq) FROM journal_record WHERE kind = ? "
        "AND json_extract(body, '$.action') = 'start'",
        (STEP_KIND,),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    rows = conn.execute(
        "SELECT kind, body FROM journal_record WHERE seq >= ? AND kind IN (?, ?, ?) ORDER BY seq",
        (int(row[0]), *STOCK_KINDS),
    ).fetchall()
    return replay([(kind, json.loads(body)) for kind, body in rows])


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:MAX_TEXT]
