"""`/stock` in head office's pages: what `cloud stock ...` does (docs/stock.md), in the
browser. A store's levels (on hand, value, minimum, days of cover; paged and searched), an
item's settings, the documents head office records (goods receipt 进货, transfer, loss
报损), the stock counts (盘点) boxes sent with their variances to approve or reject, the
movements, reorder suggestions, and purchase orders: issued from the suggestions, shown,
downloaded (CSV with a BOM, xlsx) and published to the store's boxes.

Every figure and every change is `cloud.stock`'s or `cloud.stock_plan`'s, the functions
the CLI calls, with their checks (a document number is recorded once, a count decided
once); the signed-in account is the `--by` of each and the actor of its audit row.
Scope is the account's stores (`visible_stores`): a store manager its own, a regional
manager its group's, admins and auditors every store; another store answers 404, by page
and by POST alike. An auditor reads: every POST of it is refused (403), after the CSRF
check every POST has. The GETs never write: the reorder page reads what is posted (the
journal is posted by ingest and `cloud stock check`), issuing an order posts it first, as
`cloud stock po create` does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud import stock, stock_plan
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.reports import Table
from cloud.stock_rules import days_of_cover
from cloud.stores import known_stores
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.publish_page import OFF, Publisher
from cloud.web.report_page import MEDIA, file_of, scoped_store
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

PAGE_SIZE = 100  # levels shown per page (a store holds some 20,000 items)
MOVEMENTS_SHOWN = 500  # the newest; the downloads hold them all
LINES = 8  # rows of a document's form; blank ones are left out
READS_ONLY = "An auditor reads; stock is changed by managers."
NO_STORE = "No such store."
ITEM_LABELS = {f: f.replace("_", " ") for f in stock.ITEM_FIELDS}
# A POST's work, once it is signed in, CSRF-checked and not an auditor's.
Handler = Callable[[Request, Database, Any, Account, FormData, str], Response]
DOCUMENTS = {
    "receive": "Goods receipt (进货)",
    "transfer": "Transfer to another store",
    "loss": "Loss or damage (报损)",
}


@dataclass(frozen=True)
class LevelRow:
    sku: str
    name: str
    unit: str
    on_hand: Decimal
    avg_cost: Decimal
    value: Decimal
    min_level: Decimal | None
    cover: Decimal | None  # days; None: nothing sells


@dataclass
class LevelsView:
    store: str
    stores: list[str]
    search: str
    page: int
    pages: int
    found: int
    rows: list[LevelRow]
    value: Decimal  # of the whole store


def levels_view(
    db: Database, store: str, stores: list[str], search: str, number: int, day: date
) -> LevelsView:
    """One page of a store's levels matching `search` (in sku or name, any case), with
    days of cover (`cloud.stock_rules.days_of_cover`) over the sales velocity reorder uses."""
    window = stock_plan.velocity_window(day)
    sold = stock_plan.sold_by_weekday(
        stock.movements(
            db,
            store=store,
            first=str(window.first),
            last=str(window.last),
            kinds=stock_plan.SOLD_KINDS,
        )
    )
    settings = stock.item_settings(db, store)
    every = stock.levels(db, store)
    wanted = search.casefold()
    found = [
        lv
        for lv in every
        if not wanted or wanted in lv.sku.casefold() or wanted in lv.name.casefold()
    ]
    pages = max(1, -(-len(found) // PAGE_SIZE))
    number = min(max(1, number), pages)
    rows = []
    for lv in found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]:
        per_day = sum(sold.get((store, lv.sku), [stock.ZERO] * 7), stock.ZERO) / 7
        item = settings.get(lv.sku)
        rows.append(
            LevelRow(
                lv.sku,
                lv.name,
                lv.unit,
                lv.on_hand,
                lv.avg_cost,
                lv.value,
                item.min_level if item else None,
                days_of_cover(lv.on_hand, per_day),
            )
        )
    total = sum((lv.value for lv in every), stock.ZERO)
    return LevelsView(store, stores, search, number, pages, len(found), rows, total)


def document_lines(form: FormData, cost: bool) -> list[list[str]]:
    """The form's lines as typed (sku, quantity[, cost]), the blank rows left out."""
    skus, quantities, costs = form.getlist("sku"), form.getlist("qty"), form.getlist("cost")
    rows = []
    for n, sku in enumerate(skus):
        qty = str(quantities[n]) if n < len(quantities) else ""
        each = [str(sku).strip(), qty.strip()]
        if cost:
            each.append(str(costs[n]).strip() if n < len(costs) else "")
        if any(each):
            rows.append(each)
    return rows


def business_day(text: str, today: date) -> date:
    if not text:
        return today
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"day {text!r} is not a day", where="day", fix="YYYY-MM-DD") from exc


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    publisher: Publisher | None,
) -> list[Route]:
    """`/stock` and its pages and POSTs, for `create_app`."""

    refuse = refusal(page)

    def mine(db: Database, account: Account, asked: str) -> tuple[str | None, list[str]]:
        """The store asked for (the account's first when none) if the account may see it."""
        stores = visible_stores(db, account)
        store = asked or (stores[0] if stores else "")
        return (store if store in stores else None), stores

    # ------------------------------------------------------------ levels and items

    def levels_page(request: Request, session: Any, account: Account) -> Response:
        params = request.query_params
        number = params.get("page", "1")
        db = open_db()
        try:
            store, stores = mine(db, account, params.get("store", ""))
            if store is None:
                return refuse(404, NO_STORE, session, account)
            view = levels_view(
                db,
                store,
                stores,
                params.get("q", "").strip(),
                int(number) if number.isdigit() else 1,
                clock().date(),
            )
        finally:
            db.close()
        return page("stock_levels.html", view=view, account=account, csrf=session.csrf)

    def item_form(
        session: Any, account: Account, store: str, sku: str, status: int = 200, **extra: Any
    ) -> Response:
        db = open_db()
        try:
            item = stock.item_settings(db, store).get(sku, stock.ItemSettings())
            level = next((lv for lv in stock.levels(db, store) if lv.sku == sku), None)
        finally:
            db.close()
        values = {
            f: "" if getattr(item, f) is None else str(getattr(item, f)) for f in stock.ITEM_FIELDS
        }
        values |= extra.get("typed", {})  # a refused form shows what was typed
        return page(
            "stock_item.html",
            status,
            account=account,
            csrf=session.csrf,
            store=store,
            sku=sku,
            item=item,
            values=values,
            level=level,
            units=stock.UNITS,
            error=extra.get("error"),
        )

    def item_page(request: Request, session: Any, account: Account) -> Response:
        sku = request.query_params.get("sku", "").strip()
        db = open_db()
        try:
            store, _ = mine(db, account, request.query_params.get("store", ""))
        finally:
            db.close()
        if store is None:
            return refuse(404, NO_STORE, session, account)
        if not sku:
            return refuse(400, "Which item? Give its sku.", session, account)
        return item_form(session, account, store, sku)

    def changing(
        handler: Handler,
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST that changes stock: signed in, then the session's CSRF token, then the
        role (an auditor reads); `handler` gets the database and the instant."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if not account.may_change:
                return refuse(403, READS_ONLY, session, account)
            db = open_db()
            try:
                return handler(request, db, session, account, form, iso(clock()))
            finally:
                db.close()

        return endpoint

    def item_post(
        request: Request, db: Database, session: Any, account: Account, form: FormData, now: str
    ) -> Response:
        store, _ = mine(db, account, form_text(form, "store") or "-")
        sku = form_text(form, "sku")
        if store is None:
            return refuse(404, NO_STORE, session, account)
        given = {f: form_text(form, f) or None for f in stock.ITEM_FIELDS}
        try:
            if not sku:
                raise UsageError("blank sku", where="sku", fix="give the item's sku")
            changes = stock.item_changes(given, ITEM_LABELS)
            stock.set_item(db, now, store, sku, account.name, changes)
            with db.transaction():
                done = {k: str(v) for k, v in changes.items() if v is not None}
                audit(db, account.name, "stock.item", {"store": store, "sku": sku, **done}, now)
        except StoregateError as exc:
            typed = {f: form_text(form, f) for f in stock.ITEM_FIELDS}
            return item_form(session, account, store, sku, 400, error=exc.describe(), typed=typed)
        return RedirectResponse(
            "/stock/item?" + urlencode({"store": store, "sku": sku}), status_code=303
        )

    # ------------------------------------------------------------ documents

    def document_form(
        session: Any,
        account: Account,
        kind: str,
        status: int = 200,
        error: str | None = None,
        form: FormData | None = None,
    ) -> Response:
        db = open_db()
        try:
            stores, every = visible_stores(db, account), sorted(known_stores(db))
        finally:
            db.close()
        given = form or FormData()
        lines = document_lines(given, cost=True)
        lines += [["", "", ""]] * max(0, LINES - len(lines))
        return page(
            "stock_document.html",
            status,
            account=account,
            csrf=session.csrf,
            kind=kind,
            title=DOCUMENTS[kind],
            stores=stores,
            every=every,
            reasons=stock.LOSS_REASONS,
            lines=lines,
            form={k: str(v) for k, v in given.items()},
            error=error,
        )

    def document_page(kind: str) -> Callable[[Request, Any, Account], Response]:
        def handler(request: Request, session: Any, account: Account) -> Response:
            if not account.may_change:
                return refuse(403, READS_ONLY, session, account)
            return document_form(session, account, kind)

        return handler

    def document_post(kind: str) -> Handler:
        def handler(
            request: Request,
            db: Database,
            session: Any,
            account: Account,
            form: FormData,
            now: str,
        ) -> Response:
            store, _ = mine(db, account, form_text(form, "store") or "-")
            if store is None:
                return refuse(404, NO_STORE, session, account)
            doc = form_text(form, "doc")
            detail: dict[str, object] = {"doc": doc, "store": store}
            try:
                day = business_day(form_text(form, "day"), clock().date())
                stamp = stock.Stamp(account.name, now, str(day))
                typed = document_lines(form, cost=kind == "receive")
                lines = stock.parse_lines(typed, cost=kind == "receive", label="line")
                if kind == "receive":
                    po, supplier = form_text(form, "po") or None, form_text(form, "supplier")
                    stock.receive(
                        db, now, doc, store, lines, stamp, order=po, supplier=supplier or None
                    )
                    detail |= {"po": po, "supplier": supplier or None}
                elif kind == "transfer":
                    target = form_text(form, "to_store")
                    if target not in known_stores(db):
                        raise UsageError(
                            f"no store {target!r} to send to",
                            where="to store",
                            fix="choose a known store",
                        )
                    stock.transfer(db, now, doc, store, target, lines, stamp)
                    detail["to_store"] = target
                else:
                    reason, note = form_text(form, "reason"), form_text(form, "note") or None
                    stock.record_loss(db, now, doc, store, lines, stamp, reason, note)
                    detail |= {"reason": reason, "note": note}
            except StoregateError as exc:
                return document_form(session, account, kind, 400, exc.describe(), form)
            detail |= {"day": str(day), "lines": stock.lines_body(lines)}
            with db.transaction():
                audit(db, account.name, f"stock.{kind}", detail, now)
            query = urlencode({"store": store, "document": doc})
            return RedirectResponse(f"/stock/movements?{query}", status_code=303)

        return handler

    # ------------------------------------------------------------ counts

    def visible_count(db: Database, account: Account, count_id: str) -> stock.PendingCount | None:
        try:
            count = stock.load_box_count(db, count_id)
        except StoregateError:
            return None
        return count if count.store in visible_stores(db, account) else None

    def counts_page(request: Request, session: Any, account: Account) -> Response:
        every = request.query_params.get("all") == "1"
        db = open_db()
        try:
            stores = visible_stores(db, account)
            shown = [
                c
                for c in stock.box_counts(db)
                if c.store in stores and (every or c.status == "pending")
            ]
        finally:
            db.close()
        return page(
            "stock_counts.html", counts=shown, every=every, account=account, csrf=session.csrf
        )

    def count_page(request: Request, session: Any, account: Account) -> Response:
        db = open_db()
        try:
            count = visible_count(db, account, request.path_params["count"])
        finally:
            db.close()
        if count is None:
            return refuse(404, "No such stock count.", session, account)
        return page("stock_count.html", count=count, account=account, csrf=session.csrf)

    def decide(approve: bool) -> Handler:
        def handler(
            request: Request,
            db: Database,
            session: Any,
            account: Account,
            form: FormData,
            now: str,
        ) -> Response:
            count_id = str(request.path_params["count"])
            if visible_count(db, account, count_id) is None:
                return refuse(404, "No such stock count.", session, account)
            try:
                count = stock.decide_count(db, now, count_id, account.name, approve=approve)
            except StoregateError as exc:
                return refuse(409, exc.describe(), session, account)
            action = "stock.count.approve" if approve else "stock.count.reject"
            with db.transaction():
                audit(db, account.name, action, {"count": count.id, "store": count.store}, now)
            return RedirectResponse(f"/stock/counts/{count.id}", status_code=303)

        return handler

    # ------------------------------------------------------------ tables: movements, reorder

    def table_page(
        session: Any, account: Account, table: Table, template: str, **extra: Any
    ) -> Response:
        return page(template, table=table, account=account, csrf=session.csrf, **extra)

    def movements_answer(request: Request, account: Account) -> tuple[Table, dict[str, str]] | None:
        params = {
            k: request.query_params.get(k, "").strip()
            for k in ("store", "sku", "from", "to", "document")
        }
        db = open_db()
        try:
            store, allowed = scoped_store(db, account, params["store"] or None)
            if not allowed:
                return None
            for name in ("from", "to"):
                if params[name]:
                    business_day(params[name], clock().date())
            found = stock.movements(
                db,
                store=store,
                sku=params["sku"] or None,
                first=params["from"] or None,
                last=params["to"] or None,
            )
            if store is None:  # every store: only those the account sees (all of them)
                seen = set(visible_stores(db, account))
                found = [m for m in found if m.store in seen]
        finally:
            db.close()
        if params["document"]:
            found = [m for m in found if m.document == params["document"]]
        params["store"] = store or ""
        return stock_plan.movements_table(found), params

    def movements_page(request: Request, session: Any, account: Account) -> Response:
        try:
            answer = movements_answer(request, account)
        except StoregateError as exc:
            return refuse(400, exc.describe(), session, account)
        if answer is None:
            return refuse(404, NO_STORE, session, account)
        table, params = answer
        db = open_db()
        try:
            stores = visible_stores(db, account)
        finally:
            db.close()
        total = len(table.rows)
        table.rows = table.rows[-MOVEMENTS_SHOWN:]
        return table_page(
            session,
            account,
            table,
            "stock_movements.html",
            params=params,
            stores=stores,
            every_store=account.role in ("admin", "auditor"),
            total=total,
            query=urlencode(params),
        )

    def movements_file(suffix: str) -> Callable[[Request, Any, Account], Response]:
        def handler(request: Request, session: Any, account: Account) -> Response:
            try:
                answer = movements_answer(request, account)
            except StoregateError as exc:
                return refuse(400, exc.describe(), session, account)
            if answer is None:
                return refuse(404, NO_STORE, session, account)
            return download(answer[0], f"stock-movements{suffix}", suffix)

        return handler

    def download(table: Table, name: str, suffix: str) -> Response:
        return Response(
            file_of(table, suffix),
            media_type=MEDIA[suffix],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def reorder_page(request: Request, session: Any, account: Account) -> Response:
        params = request.query_params
        db = open_db()
        try:
            store, stores = mine(db, account, params.get("store", ""))
            if store is None:
                return refuse(404, NO_STORE, session, account)
            try:
                day = business_day(params.get("day", "").strip(), clock().date())
            except StoregateError as exc:
                return refuse(400, exc.describe(), session, account)
            every = params.get("all") == "1"
            table = stock_plan.reorder_table(stock_plan.reorder(db, store, day), day, every)
        finally:
            db.close()
        return table_page(
            session,
            account,
            table,
            "stock_reorder.html",
            store=store,
            stores=stores,
            day=day,
            every=every,
            error=None,
        )

    # ------------------------------------------------------------ purchase orders

    def visible_order(db: Database, account: Account, order_id: str) -> stock.Order | None:
        try:
            order = stock.load_order(db, order_id)
        except StoregateError:
            return None
        return order if order.store in visible_stores(db, account) else None

    def po_create(
        request: Request, db: Database, session: Any, account: Account, form: FormData, now: str
    ) -> Response:
        store, _ = mine(db, account, form_text(form, "store") or "-")
        if store is None:
            return refuse(404, NO_STORE, session, account)
        doc, supplier = form_text(form, "doc"), form_text(form, "supplier") or None
        try:
            day = business_day(form_text(form, "day"), clock().date())
            stock.post_journal(db, now, store)
            lines = stock_plan.order_suggested(db, now, doc, store, day, account.name, supplier)
        except StoregateError as exc:
            return refuse(400, exc.describe(), session, account)
        with db.transaction():
            detail: dict[str, object] = {"doc": doc, "store": store, "day": str(day)}
            detail |= {"supplier": supplier, "lines": stock.lines_body(lines)}
            audit(db, account.name, "stock.po.create", detail, now)
        return RedirectResponse(f"/stock/po/{doc}", status_code=303)

    def orders_page(request: Request, session: Any, account: Account) -> Response:
        db = open_db()
        try:
            stores = set(visible_stores(db, account))
            rows = [r for r in stock.list_orders(db) if r[1] in stores]
        finally:
            db.close()
        return page("stock_orders.html", rows=rows, account=account, csrf=session.csrf)

    def order_answer(request: Request, account: Account) -> Table | None:
        db = open_db()
        try:
            order = visible_order(db, account, request.path_params["order"])
            return None if order is None else stock_plan.order_table(db, order.id)
        finally:
            db.close()

    def order_page(request: Request, session: Any, account: Account) -> Response:
        table = order_answer(request, account)
        if table is None:
            return refuse(404, "No such purchase order.", session, account)
        return table_page(
            session,
            account,
            table,
            "stock_order.html",
            order=request.path_params["order"],
            publishing=publisher is not None,
            published=request.query_params.get("published", ""),
        )

    def order_file(suffix: str) -> Callable[[Request, Any, Account], Response]:
        def handler(request: Request, session: Any, account: Account) -> Response:
            table = order_answer(request, account)
            if table is None:
                return refuse(404, "No such purchase order.", session, account)
            return download(table, f"purchase-order-{request.path_params['order']}{suffix}", suffix)

        return handler

    def po_publish(
        request: Request, db: Database, session: Any, account: Account, form: FormData, now: str
    ) -> Response:
        order = visible_order(db, account, str(request.path_params["order"]))
        if order is None:
            return refuse(404, "No such purchase order.", session, account)
        if publisher is None:
            return refuse(409, OFF, session, account)
        try:
            document, message = stock.publish_orders(
                db,
                order.id,
                broker=publisher.broker,
                root=publisher.root,
                key=publisher.key,
                now=now,
            )
        except StoregateError as exc:
            return refuse(409, exc.describe(), session, account)
        detail = {
            "order": order.id,
            "store": order.store,
            "orders": [o["id"] for o in document["orders"]],
            "version": message["version"],
            "key": publisher.key.key_id,
        }
        with db.transaction():
            audit(db, account.name, "stock.po.publish", detail, now)
        query = urlencode({"published": str(message["version"])})
        return RedirectResponse(f"/stock/po/{order.id}?{query}", status_code=303)

    document_routes = []
    for kind in DOCUMENTS:
        document_routes += [
            Route(f"/stock/{kind}", signed_in(document_page(kind)), methods=["GET"]),
            Route(f"/stock/{kind}", changing(document_post(kind)), methods=["POST"]),
        ]
    return [
        Route("/stock", signed_in(levels_page)),
        Route("/stock/item", signed_in(item_page), methods=["GET"]),
        Route("/stock/item", changing(item_post), methods=["POST"]),
        *document_routes,
        Route("/stock/counts", signed_in(counts_page)),
        Route("/stock/counts/{count}", signed_in(count_page)),
        Route("/stock/counts/{count}/approve", changing(decide(True)), methods=["POST"]),
        Route("/stock/counts/{count}/reject", changing(decide(False)), methods=["POST"]),
        Route("/stock/movements", signed_in(movements_page)),
        Route("/stock/movements/movements.csv", signed_in(movements_file(".csv"))),
        Route("/stock/movements/movements.xlsx", signed_in(movements_file(".xlsx"))),
        Route("/stock/reorder", signed_in(reorder_page)),
        Route("/stock/po", signed_in(orders_page)),
        Route("/stock/po", changing(po_create), methods=["POST"]),
        Route("/stock/po/{order}", signed_in(order_page)),
        Route("/stock/po/{order}/order.csv", signed_in(order_file(".csv"))),
        Route("/stock/po/{order}/order.xlsx", signed_in(order_file(".xlsx"))),
        Route("/stock/po/{order}/publish", changing(po_publish), methods=["POST"]),
    ]
