"""`/boxes` in head office's pages: the enrolled boxes (`cloud boxes list`), and for an
admin the boxes waiting with a pairing code (`cloud boxes pending`), approving a code as
a store's box (`cloud boxes approve CODE --store S --box B`) and revoking a box after a
confirmation (`cloud boxes revoke STORE/BOX`).

Approving and revoking are `cloud.boxes`' (`enrol_code`, `revoke_box`: the CLI's own
steps, in its order, so the page refuses what the CLI refuses: a mistyped, unknown or
spent code, an unknown store, a box enrolled already). They talk to the broker as head
office's enrolment service, the `storegate-admin` certificate given to `cloud web serve
--enrol-cert-file/--enrol-key-file`, and sign the answer with head office's key (`--key`);
without them the page lists the enrolled boxes and says where approving is done. The
broker's answers are waited for (at most `cloud.boxes.WAIT_S`) in the server's thread
pool, never in its event loop. Every role reads its own stores' enrolled boxes; only an
admin sees the pending codes, approves or revokes (403 otherwise, after the CSRF check
every POST has). Each approval and revocation is audited with the admin signed in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud.boxes import BrokerAdmin, enrol_code, enrolled, parse_identity, revoke_box
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import SigningKey
from cloud.stores import known_stores
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError
from gateway.sync.enrolment import EnrolmentRequest

ADMINS_ONLY = "Only an admin approves or revokes boxes."
OFF = (
    "Approving and revoking are off: `cloud web serve` has no enrolment certificate "
    "(--enrol-cert-file, --enrol-key-file) and signing key (--key); use `cloud boxes`."
)
WHERE = "/boxes"


@dataclass(frozen=True)
class Enroller:
    """How the page reaches the broker as head office's enrolment service, and the key
    that signs an approval's answer (loaded by `cloud web serve`)."""

    broker: BrokerOptions
    root: str
    key: SigningKey


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    enroller: Enroller | None,
) -> list[Route]:
    """`/boxes` and its POSTs, for `create_app`."""

    refuse = refusal(page)

    def list_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            seen = set(visible_stores(db, account))
            rows = [b for b in enrolled(db) if b.store in seen]
            stores = sorted(known_stores(db))
        finally:
            db.close()
        pending: list[EnrolmentRequest] = []
        broker_error: str | None = None
        if account.role == "admin" and enroller is not None:
            try:
                with BrokerAdmin(enroller.broker, enroller.root) as admin:
                    pending = sorted(admin.pending(), key=lambda r: r.code)
            except StoregateError as exc:
                broker_error = exc.describe()
        return page(
            "boxes.html",
            status,
            account=account,
            csrf=session.csrf,
            rows=rows,
            stores=stores,
            pending=pending,
            enrolling=enroller is not None,
            off=OFF,
            broker_error=broker_error,
            error=extra.pop("error", None),
            form=extra.pop("form", {}),
            **extra,
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        return list_page(session, account)

    def confirm(request: Request, session: Any, account: Account) -> Response:
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        try:
            store, box = parse_identity(request.query_params.get("box", ""), WHERE)
        except StoregateError as exc:
            return list_page(session, account, 400, error=exc.describe())
        return page("box_revoke.html", account=account, csrf=session.csrf, store=store, box=box)

    def admin_post(
        change: Callable[[Database, Enroller, Account, FormData, str], None],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if account.role != "admin":
                return refuse(403, ADMINS_ONLY, session, account)
            if enroller is None:
                return refuse(409, OFF, session, account)
            return await run_in_threadpool(work, request, session, account, form, enroller)

        def work(
            request: Request, session: Any, account: Account, form: FormData, via: Enroller
        ) -> Response:
            """The change and the page after it, off the event loop: both wait for the
            broker."""
            refused: str | None = None
            db = open_db()
            try:
                change(db, via, account, form, iso(clock()))
            except StoregateError as exc:
                refused = exc.describe()
            finally:
                db.close()
            if refused is not None:
                typed = {k: form_text(form, k) for k in form if k != "csrf"}
                return list_page(session, account, 400, error=refused, form=typed)
            return RedirectResponse("/boxes", status_code=303)

        return endpoint

    def approve(db: Database, via: Enroller, admin: Account, form: FormData, now: str) -> None:
        store, box = form_text(form, "store"), form_text(form, "box")
        code, request = enrol_code(
            db,
            via.broker,
            via.root,
            code=form_text(form, "code"),
            store=store,
            box=box,
            key=via.key,
            now=now,
            where=f"{WHERE}: Approve",
        )
        detail: dict[str, object] = {
            "code": code,
            "store": store,
            "box": box,
            "host": request.hint.get("host"),
            "key": via.key.key_id,
        }
        with db.transaction():
            audit(db, admin.name, "box.approve", detail, now)

    def revoke(db: Database, via: Enroller, admin: Account, form: FormData, now: str) -> None:
        store, box = parse_identity(form_text(form, "box"), f"{WHERE}: Revoke")
        revoke_box(db, via.broker, via.root, store, box, now)
        with db.transaction():
            audit(db, admin.name, "box.revoke", {"store": store, "box": box}, now)

    return [
        Route("/boxes", signed_in(show), methods=["GET"]),
        Route("/boxes/revoke", signed_in(confirm), methods=["GET"]),
        Route("/boxes/approve", admin_post(approve), methods=["POST"]),
        Route("/boxes/revoke", admin_post(revoke), methods=["POST"]),
    ]
