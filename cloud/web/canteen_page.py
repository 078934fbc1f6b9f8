"""`/canteen/STORE` in head office's pages: an enterprise canteen's accounts, what `cloud
members department|grant|plan|budgets` and `cloud close month|list` do: the departments
with their monthly budget and what was spent of it in a month, a subsidy grant for a
group and month, the monthly plans and the grants made, running the plans due, checking
the budgets (the 80 % and 100 % alerts) and closing a month, with the closed months.

Every step is the CLI's own function with its checks (`cloud.departments`,
`cloud.subsidies`, `cloud.month_close`). Subsidies and month close are money: only an
admin changes anything (403 for every other role, by POST, after the CSRF check); every
role reads the canteen of its own stores (another store is 404). Each change is audited
with the signed-in admin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud import departments, month_close, subsidies
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

ADMINS_ONLY = "Only an admin changes subsidies, budgets and month closes."
NO_SUCH = "No such store."
NO_STORES = "No store yet: an admin registers stores on the Stores page (or `cloud stores add`)."

Change = Callable[[Database, str, FormData, str, str], tuple[str, dict[str, Any], str]]


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
) -> list[Route]:
    """`/canteen`, `/canteen/STORE` and its POSTs, for `create_app`."""

    refuse = refusal(page)

    def store_page(
        session: Any,
        account: Account,
        store: str,
        month: str,
        status: int = 200,
        **extra: Any,
    ) -> Response:
        db = open_db()
        try:
            stores = visible_stores(db, account)
            if store not in stores:
                return refuse(404, NO_SUCH, session, account)
            rows = departments.budget_rows(db, store, month)
            plans, grants = subsidies.plans(db, store), subsidies.grants(db, store)
            closed = month_close.closed_months(db, store)
        finally:
            db.close()
        return page(
            "canteen.html",
            status,
            account=account,
            csrf=session.csrf,
            store=store,
            stores=stores,
            month=month,
            rows=rows,
            plans=plans,
            grants=grants,
            closed=closed,
            modes=subsidies.MODES,
            error=extra.pop("error", None),
            done=extra.pop("done", None),
            form=extra.pop("form", {}),
        )

    def first(request: Request, session: Any, account: Account) -> Response:
        db = open_db()
        try:
            stores = visible_stores(db, account)
        finally:
            db.close()
        if not stores:
            return refuse(404, NO_STORES, session, account)
        return RedirectResponse(f"/canteen/{stores[0]}", status_code=303)

    def show(request: Request, session: Any, account: Account) -> Response:
        month = request.query_params.get("month") or iso(clock())[:7]
        store = request.path_params["store"]
        try:
            subsidies.period_of(month, "month")
        except UsageError as exc:
            return store_page(session, account, store, iso(clock())[:7], 400, error=exc.describe())
        return store_page(session, account, store, month)

    def admin_post(change: Change) -> Callable[[Request], Awaitable[Response]]:
        """A POST only an admin makes: signed in, the CSRF token, the role, the store;
        `change` does it and returns what to say, the audit detail and its action."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if account.role != "admin":
                return refuse(403, ADMINS_ONLY, session, account)
            store = request.path_params["store"]
            now = iso(clock())
            month = form_text(form, "month") or now[:7]
            db = open_db()
            try:
                if store not in visible_stores(db, account):
                    return refuse(404, NO_SUCH, session, account)
                said, detail, action = change(db, store, form, account.name, now)
                with db.transaction():
                    audit(db, account.name, action, {"store": store, **detail}, now)
            except StoregateError as exc:
                shown = month if subsidies.PERIOD.match(month) else now[:7]
                return store_page(
                    session, account, store, shown, 400, error=exc.describe(), form=dict(form)
                )
            finally:
                db.close()
            shown = month if subsidies.PERIOD.match(month) else now[:7]
            return store_page(session, account, store, shown, done=said)

        return endpoint

    def department(
        db: Database, store: str, form: FormData, by: str, now: str
    ) -> tuple[str, dict[str, Any], str]:
        dept, name = form_text(form, "department"), form_text(form, "name")
        budget_text, allowance_text = form_text(form, "budget"), form_text(form, "allowance")
        budget = departments.amount(budget_text, "budget") if budget_text else None
        allowance = (
            departments.amount(allowance_text, "offline allowance") if allowance_text else None
        )
        departments.set_department(
            db, store, dept, name, budget, allowance=allowance, by=by, now=now
        )
        detail = {
            "department": dept,
            "name": name or dept,
            "budget": None if budget is None else str(budget),
            "offline_allowance": None if allowance is None else str(allowance),
        }
        return f"Department {dept}: budget {budget or 'none'}.", detail, "canteen.department"

    def grant(
        db: Database, store: str, form: FormData, by: str, now: str
    ) -> tuple[str, dict[str, Any], str]:
        period = subsidies.period_of(form_text(form, "month"), "month")
        amount = departments.amount(form_text(form, "amount"), "amount")
        expires = subsidies.expires_of(form_text(form, "expires") or "month-end", period, "expires")
        made = subsidies.grant(
            db,
            store,
            form_text(form, "id"),
            form_text(form, "group"),
            amount,
            form_text(form, "mode"),
            period,
            expires=expires,
            by=by,
            now=now,
        )
        return subsidies.described(made), _grant_detail(made), "canteen.grant"

    def plan(
        db: Database, store: str, form: FormData, by: str, now: str
    ) -> tuple[str, dict[str, Any], str]:
        amount = departments.amount(form_text(form, "amount"), "amount")
        day_text = form_text(form, "day") or "1"
        if not day_text.isdigit():
            raise UsageError(
                f"day {day_text!r} is not a day of the month", where="day", fix="1 to 28"
            )
        plan_id, group, mode = (
            form_text(form, "plan"),
            form_text(form, "group"),
            form_text(form, "mode"),
        )
        subsidies.add_plan(db, store, plan_id, group, amount, mode, int(day_text), by=by, now=now)
        detail = {"plan": plan_id, "group": group, "amount": str(amount), "mode": mode}
        detail["day"] = day_text
        return (
            f"Plan {plan_id}: {amount} to {group} on day {day_text} ({mode}).",
            detail,
            "canteen.plan",
        )

    def run(
        db: Database, store: str, form: FormData, by: str, now: str
    ) -> tuple[str, dict[str, Any], str]:
        made = subsidies.run_plans(db, store, by=by, now=now)
        said = " ".join(subsidies.described(g) for g in made) or "No plan is due."
        return said, {"grants": [_grant_detail(g) for g in made]}, "canteen.plans_run"

    def budgets(
        db: Database, store: str, form: FormData, by: str, now: str
    ) -> tuple[str, dict[str, Any], str]:
        period = subsidies.period_of(form_text(form, "month") or now[:7], "month")
        holding = departments.check_budgets(db, store, period, now=now)
        detail = {"month": period, "alerts": len(holding)}
        return f"{len(holding)} budget alert(s) holding for {period}.", detail, "canteen.budgets"

    def close(
        db: Database, store: str, form: FormData, by: str, now: str
    ) -> tuple[str, dict[str, Any], str]:
        period = subsidies.period_of(form_text(form, "close"), "month to close")
        closed = month_close.close_month(db, store, period, by=by, now=now)
        said = "was closed" if closed.already else "closed"
        bills = "; ".join(f"{b['department']} {b['total']}" for b in closed.figures["bills"])
        text = (
            f"{store} {period} {said} at {closed.closed_at} by {closed.closed_by}: "
            f"{len(closed.figures['statements'])} statement(s), "
            f"{len(closed.figures['bills'])} bill(s) ({bills or 'none'}), "
            f"sha256 {closed.digest}."
        )
        detail = {"month": period, "already": closed.already, "sha256": closed.digest}
        return text, detail, "month.close"

    return [
        Route("/canteen", signed_in(first), methods=["GET"]),
        Route("/canteen/{store}", signed_in(show), methods=["GET"]),
        Route("/canteen/{store}/department", admin_post(department), methods=["POST"]),
        Route("/canteen/{store}/grant", admin_post(grant), methods=["POST"]),
        Route("/canteen/{store}/plan", admin_post(plan), methods=["POST"]),
        Route("/canteen/{store}/plans/run", admin_post(run), methods=["POST"]),
        Route("/canteen/{store}/budgets", admin_post(budgets), methods=["POST"]),
        Route("/canteen/{store}/close", admin_post(close), methods=["POST"]),
    ]


def _grant_detail(made: subsidies.Grant) -> dict[str, Any]:
    return {
        "grant": made.id,
        "month": made.period,
        "group": made.group,
        "amount": str(made.amount),
        "mode": made.mode,
        "members": made.members,
        "granted": str(made.granted),
        "forfeited": str(made.forfeited),
    }
