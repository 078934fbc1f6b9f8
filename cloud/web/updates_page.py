"""`/updates` in head office's pages: the software update bundles `cloud update build`
made in the folder `cloud web serve --updates DIR` names (version, oldest version it
updates from, wheels, signing key), each box's software version and last update's state
(its telemetry, as `cloud fleet` shows it), and announcing a bundle to a store or a group
(pilot stores first, as a rollout continued on `/rollouts/ID`), what `cloud update
publish` does, through `cloud.updates.publish_update` with its checks.

Building a bundle from a folder of wheels stays an operator's job on the server's shell
(`cloud update build`): a browser uploads no software. Updates are fleet-wide: an admin
publishes, an admin or auditor reads the page, every other role gets 403 (by page and
by POST, after the CSRF check). Each publication is audited with the signed-in admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.fleet import fleet, update_text
from cloud.stores import groups, known_stores
from cloud.updates import bundles, publish_update, update_document
from cloud.web.accounts import Account, audit
from cloud.web.publish_page import OFF, Publisher
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

READERS = ("admin", "auditor")
NOT_YOURS = "Software updates are head office's: admins publish them, auditors read them."


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    publisher: Publisher | None,
) -> list[Route]:
    """`/updates` and its POST, for `create_app`."""
    folder = publisher.updates if publisher else None

    refuse = refusal(page)

    def updates_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            boxes = [(b, update_text(b.update)) for b in fleet(db)]
            stores, found = sorted(known_stores(db)), groups(db)
        finally:
            db.close()
        return page(
            "updates.html",
            status,
            account=account,
            csrf=session.csrf,
            bundles=bundles(folder) if folder else [],
            folder=folder,
            boxes=boxes,
            stores=stores,
            groups=found,
            publishing=publisher is not None,
            error=extra.pop("error", None),
            done=extra.pop("done", None),
            form=extra.pop("form", {}),
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role not in READERS:
            return refuse(403, NOT_YOURS, session, account)
        return updates_page(session, account)

    async def publish(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, NOT_YOURS, session, account)
        if publisher is None or folder is None:
            return updates_page(session, account, 409, error=OFF, form=dict(form))
        name = form_text(form, "bundle")
        store, group = form_text(form, "store") or None, form_text(form, "group") or None
        pilot = form_text(form, "pilot") or None
        db = open_db()
        try:
            offered = dict(bundles(folder))
            if name not in offered:
                raise UsageError(
                    f"no bundle {name!r} in {folder}",
                    where="bundle",
                    fix="choose one of the bundles listed (made with `cloud update build`)",
                )
            document = update_document(folder / name, form_text(form, "url"))
            first, messages, rollout = publish_update(
                db,
                broker=publisher.broker,
                root=publisher.root,
                document=document,
                store=store,
                group=group,
                pilot=pilot,
                key=publisher.key,
                clock=clock,
            )
            versions = {s: int(m["version"]) for s, m in zip(first, messages, strict=True)}
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "update.publish",
                    {
                        "bundle": name,
                        "software": document["software"],
                        "url": document["url"],
                        "target": f"group {group}" if group else f"store {store}",
                        "pilot": first if rollout is not None else [],
                        "rollout": rollout,
                        "versions": versions,
                        "key": publisher.key.key_id,
                    },
                    iso(clock()),
                )
        except StoregateError as exc:
            return updates_page(session, account, 400, error=exc.describe(), form=dict(form))
        finally:
            db.close()
        done = (
            f"Published the update to storegate {document['software']} for "
            f"{', '.join(first)} (signed by {publisher.key.key_id}, retained)."
        )
        if rollout is not None:
            done += f" Rollout {rollout}: the rest of the group follows from /rollouts/{rollout}."
        return updates_page(session, account, done=done)

    return [
        Route("/updates", signed_in(show), methods=["GET"]),
        Route("/updates", publish, methods=["POST"]),
    ]
