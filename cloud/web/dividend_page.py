"""`/dividend` in head office's pages: every member dividend run so far (`cloud dividend
list`), a dry run of a new one (`cloud dividend run --dry-run`): the payouts a pool shared
by weighted spend over a period would give, recording and crediting nothing; and, for an
admin who has seen the dry run, the run itself (`cloud dividend run`): recorded once per
period and scope, optionally credited to a wallet, audited (`dividend.run`).

The page computes with the CLI's own function (`cloud.dividend.run`), so the checks and
the refusal of a period already paid are the CLI's words. The web writes no file on the
server: each run's payout CSV is made again from what the run recorded (`recorded_payouts`
through `payout_csv`, the text the CLI writes to `--out`) and downloaded from the list.
The figures are every store's members': admins and auditors read the page and download the
CSVs, only an admin pays (the POST: CSRF first, then the role), every other role gets 403.
A dry run changes nothing, so it is a GET (no CSRF, no audit row).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud import reports
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.dividend import (
    AlreadyPaid,
    DividendRules,
    Payout,
    parse_pool,
    past_runs,
    payout_csv,
    recorded_payouts,
    run,
)
from cloud.sales import Period, load
from cloud.stores import known_stores
from cloud.web.accounts import Account, audit
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

READERS = ("admin", "auditor")
FIELDS = ("from", "to", "store", "pool", "weights", "min_spend", "period", "credit")
WALLETS = ("cash", "subsidy")  # `cloud dividend run --credit`'s choices
ADMINS_PAY = "Only an admin pays a dividend."


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
) -> list[Route]:
    """`/dividend`, its POST `/dividend/run` and `/dividend/csv`, for `create_app`."""

    refuse = refusal(page)

    def render(
        session: Any, account: Account, asked: dict[str, str], status: int = 200, **shown: Any
    ) -> Response:
        db = open_db()
        try:
            runs, stores = past_runs(db), sorted(known_stores(db))
        finally:
            db.close()
        return page(
            "dividend.html",
            status,
            account=account,
            csrf=session.csrf,
            runs=runs,
            stores=stores,
            wallets=WALLETS,
            asked=asked,
            payouts=shown.get("payouts"),
            said=shown.get("said"),
            paid=shown.get("paid"),
            error=shown.get("error"),
        )

    def compute(db: Database, asked: dict[str, str], **how: Any) -> tuple[list[Payout], str]:
        """The CLI's `dividend run` from the form's fields; returns payouts and label."""
        store = asked["store"] or None
        if store is not None and store not in known_stores(db):
            raise UsageError(
                f"unknown store {store!r}", where="store", fix="choose a store, or every store"
            )
        if asked["credit"] and asked["credit"] not in WALLETS:
            raise UsageError(
                f"unknown wallet {asked['credit']!r}", where="credit", fix="cash or subsidy"
            )
        period = Period.parse(asked["from"] or None, asked["to"] or None)
        pool = parse_pool(asked["pool"], "pool")
        weights = [w.strip() for w in asked["weights"].replace(",", "\n").split("\n")]
        rules = DividendRules.parse([w for w in weights if w], asked["min_spend"] or "0")
        label = asked["period"] or reports.span(period)
        payouts, _ = run(
            db,
            period=period,
            label=label,
            scope=store or "*",
            pool=pool,
            rules=rules,
            loaded=load(db, period, store),
            csv_path=None,
            now=iso(clock()),
            **how,
        )
        return payouts, label

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role not in READERS:
            return refuse(
                403, "Member dividends are head office's: admins and auditors read them.",
                session, account,
            )  # fmt: skip
        asked = _asked(request.query_params)
        if not asked["pool"]:
            return render(session, account, asked)
        db = open_db()
        try:
            payouts, label = compute(db, asked, dry_run=True)
        except StoregateError as exc:
            return render(session, account, asked, 400, error=exc.describe())
        finally:
            db.close()
        paid = sum((p.amount for p in payouts), Decimal(0))
        said = f"dividend {label} (dry run): {paid} among {len(payouts)} members; nothing recorded"
        return render(session, account, asked, payouts=payouts, said=said)

    async def pay(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, ADMINS_PAY, session, account)
        asked = _asked(form)
        db = open_db()
        try:
            if not asked["pool"]:
                raise UsageError("no pool", where="pool", fix="make a dry run first, e.g. 1000.00")

            def audited(tx: Database) -> None:
                detail: dict[str, object] = {
                    "period": asked["period"]
                    or reports.span(Period.parse(asked["from"] or None, asked["to"] or None)),
                    "scope": asked["store"] or "*",
                    "pool": asked["pool"],
                    "from": asked["from"],
                    "to": asked["to"],
                    "weights": asked["weights"],
                    "min_spend": asked["min_spend"] or "0",
                    "credit": asked["credit"] or None,
                }
                audit(tx, account.name, "dividend.run", detail, iso(clock()))

            payouts, label = compute(db, asked, credit=asked["credit"] or None, audit=audited)
        except StoregateError as exc:
            status = 409 if isinstance(exc, AlreadyPaid) else 400
            return render(session, account, asked, status, error=exc.describe())
        finally:
            db.close()
        paid = sum((p.amount for p in payouts), Decimal(0))
        credited = f"; credited to {asked['credit']}" if asked["credit"] else ""
        said = f"dividend {label}: {paid} shared among {len(payouts)} members{credited}"
        paid_run = {"period": label, "scope": asked["store"] or "*"}
        return render(session, account, asked, said=said, paid=paid_run)

    def download(request: Request, session: Any, account: Account) -> Response:
        if account.role not in READERS:
            return refuse(403, "Member dividends are head office's.", session, account)
        label = request.query_params.get("period", "")
        scope = request.query_params.get("scope", "")
        db = open_db()
        try:
            payouts = recorded_payouts(db, label, scope)
        finally:
            db.close()
        if payouts is None:
            return refuse(404, f"No dividend run for {label!r} ({scope!r}).", session, account)
        name = _safe(f"dividend-{label}-{'all' if scope == '*' else scope}.csv")
        return Response(
            payout_csv(payouts, label, scope).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return [
        Route("/dividend", signed_in(show), methods=["GET"]),
        Route("/dividend/run", pay, methods=["POST"]),
        Route("/dividend/csv", signed_in(download), methods=["GET"]),
    ]


def _asked(fields: QueryParams | FormData) -> dict[str, str]:
    """The form's fields as typed (a dry run's query or the run's POST), "" when missing."""
    return {k: form_text(fields, k) if isinstance(fields, FormData) else fields.get(k, "").strip()
            for k in FIELDS}  # fmt: skip


def _safe(name: str) -> str:
    """A download's file name without quotes, slashes, spaces or control characters."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
