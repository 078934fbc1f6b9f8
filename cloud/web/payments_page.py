"""`/payments` in head office's pages: an admin uploads a WeChat Pay or Alipay settlement
statement (对账单) for a store, what `cloud payments import` does, and reads at once the
matching of its days: the wallet payments the boxes journalled against the statement's
lines (`cloud report payments` for those days: what does not match, what is in doubt,
what was refunded; every line with *the matched ones too*).

The file is read and kept by `cloud.settlement` (`read_statement`, `store_lines`: each
line once however often it is imported) and matched by `cloud.payments_cli.payments_table`,
the CLI's and `/reports`' own. A merchant account's statement is finance: only an admin
imports (403 for every other role, by page and by POST, after the CSRF check); the
matching stays readable to each role on `/reports` (report *payments*) for its own
stores. Each import is audited with the signed-in admin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.payments_cli import payments_table
from cloud.sales import Period
from cloud.settlement import read_statement, store_lines
from cloud.stores import known_stores
from cloud.web.accounts import Account, audit
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

ADMINS_ONLY = "Only an admin imports settlement statements."
PROVIDERS = ("wechat", "alipay")
MAX_STATEMENT = 16 * 2**20  # bytes: a month of a busy store's statement fits


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
) -> list[Route]:
    """`/payments` and its POST, for `create_app`."""

    refuse = refusal(page)

    def form_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            stores = sorted(known_stores(db))
        finally:
            db.close()
        return page(
            "payments.html",
            status,
            account=account,
            csrf=session.csrf,
            stores=stores,
            providers=PROVIDERS,
            error=extra.pop("error", None),
            done=extra.pop("done", None),
            table=extra.pop("table", None),
            form=extra.pop("form", {}),
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        return form_page(session, account)

    async def upload(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page, max_part_size=MAX_STATEMENT)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        provider, store = form_text(form, "provider"), form_text(form, "store")
        everything = form.get("all") == "1"
        kept = {"provider": provider, "store": store, "all": "1" if everything else ""}
        file = form.get("file")
        now = iso(clock())
        db = open_db()
        try:
            if store not in known_stores(db):
                raise UsageError(
                    f"unknown store {store!r}", where="store", fix="choose one of the stores"
                )
            if not isinstance(file, UploadFile) or not file.filename:
                raise UsageError(
                    "no statement file", where="file", fix="choose the provider's CSV file"
                )
            name = file.filename
            lines = read_statement(provider, await file.read(), name)
            added = store_lines(db, store, lines, name, now)
            days = sorted(line.business_day for line in lines)
            period = (
                Period(date.fromisoformat(days[0]), date.fromisoformat(days[-1])) if days else None
            )
            table = (
                None if period is None else payments_table(db, period, store, everything=everything)
            )
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "payments.import",
                    {
                        "provider": provider,
                        "store": store,
                        "file": name,
                        "lines": len(lines),
                        "new": added,
                    },
                    now,
                )
        except StoregateError as exc:
            return form_page(session, account, 400, error=exc.describe(), form=kept)
        finally:
            db.close()
        done = (
            f"{name}: {len(lines)} {provider} lines for store {store} "
            f"({added} new, {len(lines) - added} already imported)"
            + (f"; matched for {period.first} – {period.last} below." if period else ".")
        )
        return form_page(session, account, done=done, table=table, form=kept)

    return [
        Route("/payments", signed_in(show), methods=["GET"]),
        Route("/payments", upload, methods=["POST"]),
    ]
