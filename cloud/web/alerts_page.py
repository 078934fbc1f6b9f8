"""`/alerts` in head office's pages: the alerts an account may see, filtered (active or
cleared, acknowledged or not, store, rule), one alert's page (its state, history,
assignee, comments and the notifications sent about it with their delivery state), and
acknowledging, assigning and commenting — what `cloud alerts list|show|ack|assign|comment`
do, through the same `cloud.alerts` functions. An admin also sends a test message to a
configured notification channel (`cloud notify test`, through `cloud.notify.send_test`).

Scope: a store or regional manager sees and changes only its stores' alerts (another
store's alert answers 404, by page and by POST alike: the page does not tell that it
exists); head office's own alerts (no store) are for the admins and auditors; an auditor
reads only (every POST 403). Every POST checks the session's CSRF token first, and every
change is audited with the person who signed in (the CLI's `--by`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud import notify
from cloud.alerts import (
    Alert,
    acknowledge,
    alert_kinds,
    assign,
    comment,
    comments,
    get_alert,
    list_alerts,
)
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.web.accounts import Account, account_rows, audit, visible_stores
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, local_path, posted, refusal
from cloud.web.views import alert_visible
from gateway.errors import StoregateError

SHOWN = 200  # the newest so many alerts of a filter are listed
READS_ONLY = "An auditor reads; acknowledging, assigning and commenting are for managers."
STATES = {"active": False, "cleared": True, "any": None}  # -> list_alerts' `cleared`
ACKS = {"no": False, "yes": True, "any": None}  # -> list_alerts' `acknowledged`


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    settings: notify.NotifySettings | None,
) -> list[Route]:
    """`/alerts`, `/alerts/{id}` and their POSTs, for `create_app`. `settings`: the
    `[notify]` channels an admin may send a test message to (None: none)."""
    channels = [] if settings is None else [c.name for c in settings.channels]

    refuse = refusal(page)

    def list_page(
        request: Request, session: Any, account: Account, status: int = 200, **extra: Any
    ) -> Response:
        query = request.query_params
        state = query.get("state", "active")
        acked = query.get("ack", "no")
        store, kind = query.get("store", ""), query.get("kind", "")
        db = open_db()
        try:
            stores = visible_stores(db, account)
            found = list_alerts(
                db,
                include_acknowledged=True,
                cleared=STATES.get(state),
                acknowledged=ACKS.get(acked),
                store=store or None,
                kind=kind or None,
            )
            kinds = alert_kinds(db)
        finally:
            db.close()
        mine = [a for a in reversed(found) if alert_visible(account, a, stores)]
        return page(
            "alerts.html",
            status,
            account=account,
            csrf=session.csrf,
            alerts=mine[:SHOWN],
            total=len(mine),
            shown=SHOWN,
            filter={"state": state, "ack": acked, "store": store, "kind": kind},
            stores=stores,
            kinds=kinds,
            channels=channels if account.role == "admin" else [],
            back=str(request.url.path) + ("?" + str(query) if str(query) else ""),
            error=extra.pop("error", None),
            **extra,
        )

    def alert_of(db: Database, request: Request, account: Account) -> Alert | None:
        """The alert of the URL when the account may see it, else None (-> 404)."""
        try:
            alert = get_alert(db, int(request.path_params["alert"]), "/alerts")
        except StoregateError:
            return None
        return alert if alert_visible(account, alert, visible_stores(db, account)) else None

    def one_page(
        request: Request, session: Any, account: Account, status: int = 200, **extra: Any
    ) -> Response:
        db = open_db()
        try:
            alert = alert_of(db, request, account)
            if alert is None:
                return refuse(404, "No such alert.", session, account)
            notes = comments(db, alert.id)
            sent = notify.deliveries(db, alert.id)
            people = [a.name for a in account_rows(db, clock())]
        finally:
            db.close()
        history = [(alert.raised_at, "raised", alert.message)]
        if alert.acknowledged_at:
            history.append((alert.acknowledged_at, "acknowledged", f"by {alert.acknowledged_by}"))
        if alert.cleared_at:
            history.append((alert.cleared_at, "cleared", "the condition ended"))
        history += [(at, "comment", f"{author}: {text}") for at, author, text in notes]
        history.sort(key=lambda h: h[0])
        return page(
            "alert.html",
            status,
            account=account,
            csrf=session.csrf,
            alert=alert,
            history=history,
            sent=sent,
            people=people,
            error=extra.pop("error", None),
            form=extra.pop("form", {}),
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        return one_page(request, session, account)

    def listing(request: Request, session: Any, account: Account) -> Response:
        return list_page(request, session, account)

    def change(
        act: Callable[[Database, Alert, Account, FormData, str], dict[str, object]],
        action: str,
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST on one alert: signed in, the CSRF token, a role that changes, an alert the
        account may see; then `act` (a `cloud.alerts` function) and its audit row. A
        refused change shows the alert's page again with the error, nothing changed."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if not account.may_change:
                return refuse(403, READS_ONLY, session, account)
            refused: str | None = None
            db = open_db()
            try:
                alert = alert_of(db, request, account)
                if alert is None:
                    return refuse(404, "No such alert.", session, account)
                now = iso(clock())
                try:
                    detail = act(db, alert, account, form, now)
                except StoregateError as exc:
                    refused = exc.describe()
                else:
                    with db.transaction():
                        audit(db, account.name, action, {"alert": alert.id, **detail}, now)
            finally:
                db.close()
            if refused is not None:
                return one_page(request, session, account, 400, error=refused, form=dict(form))
            back = form_text(form, "back")
            return RedirectResponse(local_path(back), status_code=303)

        return endpoint

    def ack(
        db: Database, alert: Alert, account: Account, form: FormData, now: str
    ) -> dict[str, object]:
        acknowledge(db, alert.id, who=account.name, now=now)
        return {}

    def give(
        db: Database, alert: Alert, account: Account, form: FormData, now: str
    ) -> dict[str, object]:
        to = form_text(form, "to")
        assign(db, alert.id, to=to, by=account.name, now=now)
        return {"to": to}

    def note(
        db: Database, alert: Alert, account: Account, form: FormData, now: str
    ) -> dict[str, object]:
        text = form_text(form, "text")
        comment(db, alert.id, text=text, by=account.name, now=now)
        return {"text": text}

    async def test_channel(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, "Only an admin sends test notifications.", session, account)
        name = form_text(form, "channel")
        at = clock()
        error: str | None = None
        try:
            notify.send_test(
                settings or notify.NotifySettings(), name, at, f"{account.name} on the alerts page"
            )
        except StoregateError as exc:
            error = exc.describe()
        ok = error is None
        db = open_db()
        try:
            with db.transaction():
                audit(db, account.name, "notify.test", {"channel": name, "sent": ok}, iso(at))
        finally:
            db.close()
        if not ok:
            return list_page(request, session, account, 400, error=error)
        return list_page(request, session, account, tested=name)

    return [
        Route("/alerts", signed_in(listing), methods=["GET"]),
        Route("/alerts/{alert:int}", signed_in(show), methods=["GET"]),
        Route("/alerts/{alert:int}/ack", change(ack, "alert.ack"), methods=["POST"]),
        Route("/alerts/{alert:int}/assign", change(give, "alert.assign"), methods=["POST"]),
        Route("/alerts/{alert:int}/comment", change(note, "alert.comment"), methods=["POST"]),
        Route("/alerts/notify-test", test_channel, methods=["POST"]),
    ]
