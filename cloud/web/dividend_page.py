"""`/dividend` in head office's pages: every member dividend run so far (`cloud dividend
list`) and a dry run of a new one (`cloud dividend run --dry-run`): the payouts a pool
shared by weighted spend over a period would give, with the CLI's checks, recording and
crediting nothing.

The run itself (recorded once per period, its CSV written on the server, optionally
credited to a wallet) stays on the command line: the page computes with the same
functions (`cloud.dividend.run` with `dry_run`). The figures are every store's members':
admins and auditors read the page, every other role gets 403. A dry run changes nothing,
so it is a GET (no CSRF, no audit row).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud import reports
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.dividend import DividendRules, parse_pool, past_runs, run
from cloud.sales import Period, load
from cloud.stores import known_stores
from cloud.web.accounts import Account
from cloud.web.routing import Guard, Page
from gateway.errors import StoregateError, UsageError

READERS = ("admin", "auditor")


def routes(
    open_db: Callable[[], Database], clock: Clock, signed_in: Guard, page: Page
) -> list[Route]:
    """`/dividend`, for `create_app`."""

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role not in READERS:
            return page(
                "message.html",
                403,
                text="Member dividends are head office's: admins and auditors read them.",
                account=account,
                csrf=session.csrf,
            )
        q = request.query_params
        asked = {k: q.get(k, "") for k in ("from", "to", "store", "pool", "weights", "min_spend")}
        error, payouts, said = None, None, None
        db = open_db()
        try:
            runs, stores = past_runs(db), sorted(known_stores(db))
            if asked["pool"]:
                try:
                    if asked["store"] and asked["store"] not in stores:
                        raise UsageError(
                            f"unknown store {asked['store']!r}",
                            where="store",
                            fix="choose a store, or every store",
                        )
                    period = Period.parse(asked["from"] or None, asked["to"] or None)
                    pool = parse_pool(asked["pool"], "pool")
                    weights = [w.strip() for w in asked["weights"].replace(",", "\n").split("\n")]
                    rules = DividendRules.parse(
                        [w for w in weights if w], asked["min_spend"] or "0"
                    )
                    store = asked["store"] or None
                    payouts, _ = run(
                        db,
                        period=period,
                        label=reports.span(period),
                        scope=store or "*",
                        pool=pool,
                        rules=rules,
                        loaded=load(db, period, store),
                        csv_path=None,
                        now=iso(clock()),
                        dry_run=True,
                    )
                    paid = sum((p.amount for p in payouts), Decimal(0))
                    said = (
                        f"dividend {reports.span(period)} (dry run): {paid} among "
                        f"{len(payouts)} members; nothing recorded"
                    )
                except StoregateError as exc:
                    error = exc.describe()
        finally:
            db.close()
        return page(
            "dividend.html",
            400 if error else 200,
            account=account,
            csrf=session.csrf,
            runs=runs,
            stores=stores,
            asked=asked,
            payouts=payouts,
            said=said,
            error=error,
        )

    return [Route("/dividend", signed_in(show), methods=["GET"])]
