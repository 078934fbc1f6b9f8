"""`/staff` in head office's pages: the central cashiers and supervisors of each store
group, listed per group; a person added or replaced (the PIN typed twice in password
fields), disabled, enabled or removed; a group's staff document signed and published.

Every change is `cloud.staff`'s (what `cloud staff` runs): the PIN is checked by the box's
own policy (`gateway.lane.pins`, at least `DEFAULT_PIN_MIN_DIGITS` digits, the CLI's
default) and hashed there with the box's rule; the page never keeps, audits, logs or shows
it again (a refused form comes back without it). `cloud.staff` audits each change with the
signed-in account.

Who may: an admin every group; a regional manager its own group (another group's person
or publication answers 404); an auditor reads every group and changes nothing (403);
a store manager neither (403: central staff are a group's, not a store's).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud import staff
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.stores import group_stores, groups
from cloud.web.accounts import Account
from cloud.web.publish_page import OFF, Publisher
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError
from gateway.lane.staff_document import CENTRAL_ROLES

NOT_YOURS = "Central staff belong to a store group: a store manager does not manage them."
READ_ONLY = "An auditor reads; changing staff is for admins and regional managers."
NO_GROUP = "No such group."
NO_PERSON = "No such person."


def visible_groups(db: Database, account: Account) -> list[str]:
    """The store groups whose staff an account reads: all for an admin or an auditor, its
    own for a regional manager, none for a store manager."""
    if account.role in ("admin", "auditor"):
        return sorted(groups(db))
    if account.role == "regional" and account.scope:
        return [account.scope]
    return []


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    publisher: Publisher | None,
) -> list[Route]:
    """`/staff` and its POSTs, for `create_app`."""

    refuse = refusal(page)

    def list_page(
        session: Any,
        account: Account,
        status: int = 200,
        error: str | None = None,
        done: str | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        db = open_db()
        try:
            shown = visible_groups(db, account)
            people = {g: staff.people(db, g) for g in shown}
        finally:
            db.close()
        return page(
            "staff.html",
            status,
            account=account,
            csrf=session.csrf,
            people=people,
            roles=CENTRAL_ROLES,
            min_digits=staff.DEFAULT_PIN_MIN_DIGITS,
            publishing=publisher is not None,
            changes=account.role in ("admin", "regional"),
            error=error,
            done=done,
            form=form or {},
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role == "store":
            return refuse(403, NOT_YOURS, session, account)
        return list_page(session, account)

    def change_post(
        handler: Callable[[Database, Account, FormData, str], str | None],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST that changes central staff: signed in, the CSRF token, the role (store
        manager, auditor: 403), then the group (not the account's: 404); `handler` makes the
        change and says what was done (None: back to the list)."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if account.role == "store":
                return refuse(403, NOT_YOURS, session, account)
            if not account.may_change:
                return refuse(403, READ_ONLY, session, account)
            db = open_db()
            refused: str | None = None
            try:
                done = handler(db, account, form, iso(clock()))
            except Hidden as exc:
                return refuse(404, str(exc), session, account)
            except StoregateError as exc:
                refused = exc.describe()
            finally:
                db.close()
            if refused is not None:
                again = {k: form_text(form, k) for k in ("id", "name", "role", "group", "card")}
                again["ceiling"] = form_text(form, "ceiling")
                return list_page(session, account, 400, error=refused, form=again)
            if done is None:
                return RedirectResponse("/staff", status_code=303)
            return list_page(session, account, done=done)

        return endpoint

    def own_group(db: Database, account: Account, group: str) -> None:
        if group not in visible_groups(db, account):
            raise Hidden(NO_GROUP)

    def own_person(db: Database, account: Account, staff_id: str) -> None:
        row = db.one("SELECT grp FROM staff_person WHERE id = ?", (staff_id,))
        if row is None or str(row[0]) not in visible_groups(db, account):
            raise Hidden(NO_PERSON)

    def add(db: Database, account: Account, form: FormData, now: str) -> str | None:
        group, staff_id = form_text(form, "group"), form_text(form, "id")
        own_group(db, account, group)
        existing = db.one("SELECT grp FROM staff_person WHERE id = ?", (staff_id,))
        if existing is not None:
            own_person(db, account, staff_id)  # never replace another group's person
        pin, again = form.get("pin"), form.get("pin_again")
        pin = pin if isinstance(pin, str) and pin else None
        if pin is not None and pin != again:
            raise UsageError("the PINs differ", where="PIN", fix="type the same PIN twice")
        staff.add_person(
            db,
            staff_id,
            form_text(form, "name"),
            form_text(form, "role"),
            group,
            pin=pin,
            card=form_text(form, "card") or None,
            ceiling=form_text(form, "ceiling") or None,
            by=account.name,
            now=now,
        )
        return None

    def active(flag: bool) -> Callable[[Database, Account, FormData, str], str | None]:
        def change(db: Database, account: Account, form: FormData, now: str) -> str | None:
            staff_id = form_text(form, "id")
            own_person(db, account, staff_id)
            staff.set_active(db, staff_id, flag, by=account.name, now=now)
            return None

        return change

    def remove(db: Database, account: Account, form: FormData, now: str) -> str | None:
        staff_id = form_text(form, "id")
        own_person(db, account, staff_id)
        staff.remove_person(db, staff_id, by=account.name, now=now)
        return None

    def publish(db: Database, account: Account, form: FormData, now: str) -> str | None:
        group = form_text(form, "group")
        own_group(db, account, group)
        if publisher is None:
            raise UsageError(OFF, where="publish", fix="ask the operator to start it with a key")
        sent = staff.publish_staff(
            db,
            group_stores(db, group),
            broker=publisher.broker,
            root=publisher.root,
            key=publisher.key,
            by=account.name,
            clock=clock,
        )
        return "; ".join(f"published staff version {v} for {s}: {n} person(s)" for s, v, n in sent)

    return [
        Route("/staff", signed_in(show), methods=["GET"]),
        Route("/staff/add", change_post(add), methods=["POST"]),
        Route("/staff/disable", change_post(active(False)), methods=["POST"]),
        Route("/staff/enable", change_post(active(True)), methods=["POST"]),
        Route("/staff/remove", change_post(remove), methods=["POST"]),
        Route("/staff/publish", change_post(publish), methods=["POST"]),
    ]


class Hidden(Exception):
    """A group or person the account may not see: answered 404, like a missing one."""
