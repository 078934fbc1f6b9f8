"""`/publish` and `/rollouts` in head office's pages: an admin uploads a catalog, members,
staff or config document, names a store or a group (with pilot stores for a staged
rollout), reads the preview `cloud publish --preview` prints, and publishes; every role
reads the rollouts of its own stores, and an admin continues one to the rest of its group.

Every step is `cloud.rollout`'s (the CLI's own): the page checks, previews, signs and
publishes nothing of its own. The preview page carries the checked document back in its
publish form, and publishing checks it again, whole, before anything is sent.

The signing key is head office's key file given to `cloud web serve --key` (or
`$STOREGATE_SIGNING_KEY`), loaded once when the server starts: a browser never uploads,
sees or chooses a key. Without one the pages preview and show rollouts, and say that
publishing is off. Only an admin publishes or continues (403 for everyone else, after the
CSRF check every POST has); another store's rollout answers 404. Each publish and continue
is written to the audit log with the signed-in account.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import SigningKey, check_document, parse_document
from cloud.rollout import (
    KINDS,
    Published,
    StorePreview,
    check_target,
    choose_pilot,
    continue_rollout,
    pilot_list,
    preview_text,
    previews,
    publish,
    target_stores,
)
from cloud.stores import groups, known_stores, load_rollout, rollouts, status_rows
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

MAX_UPLOAD = 16 * 2**20  # bytes: a catalog of many thousand products fits


@dataclass(frozen=True)
class Publisher:
    """Where and with what the pages publish: the broker as `cloud publish` reaches it
    and head office's signing key (loaded by `cloud web serve`); `updates`: the folder
    of the update bundles `/updates` offers (`cloud web serve --updates DIR`)."""

    broker: BrokerOptions
    root: str
    key: SigningKey
    updates: Path | None = None


@dataclass
class Draft:
    """A publish request the form made, checked: what the preview shows and the publish
    form carries."""

    kind: str
    store: str
    group: str
    pilot: str
    box: str
    source: str
    document: dict[str, Any] = field(default_factory=dict)
    stores: list[str] = field(default_factory=list)
    pilots: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"group {self.group}" if self.group else f"store {self.store}"


def checked_draft(db: Database, draft: Draft, root: str) -> Draft:
    """The CLI's checks in the CLI's order: the target's shape, the document with the
    box's own model, the stores (an unknown store or group is refused), the pilot."""
    check_target(draft.kind, root, draft.store or None, draft.group or None, draft.box or None)
    check_document(draft.kind, draft.document, draft.source)
    draft.stores = target_stores(db, draft.kind, draft.store or None, draft.group or None)
    draft.pilots = choose_pilot(draft.group or None, draft.stores, pilot_list(draft.pilot))
    return draft


def publish_draft(
    db: Database,
    draft: Draft,
    publisher: Publisher,
    by: str,
    clock: Clock,
    via: str | None = None,
) -> Published:
    """Sign and send a checked draft (`cloud.rollout.publish`, what `cloud publish` runs)
    and audit it under `by`; the page and the API publish through here (`via`: "api")."""
    done = publish(
        db,
        broker=publisher.broker,
        root=publisher.root,
        kind=draft.kind,
        document=draft.document,
        stores=draft.stores,
        group=draft.group or None,
        pilot=draft.pilots,
        box=draft.box or None,
        key=publisher.key,
        clock=clock,
    )
    detail: dict[str, Any] = {
        "kind": draft.kind,
        "target": draft.target,
        "box": draft.box or None,
        "pilot": draft.pilots,
        "rollout": done.rollout,
        "versions": dict(done.versions),
        "key": publisher.key.key_id,
    }
    if via is not None:
        detail["via"] = via
    with db.transaction():
        audit(db, by, "publish", detail, iso(clock()))
    return done


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    publisher: Publisher | None,
) -> list[Route]:
    """`/publish`, `/rollouts` and `/rollouts/ID`, for `create_app`."""
    root = publisher.root if publisher else "storegate/v1"

    refuse = refusal(page)

    def form_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            stores, found = sorted(known_stores(db)), groups(db)
        finally:
            db.close()
        return page(
            "publish.html",
            status,
            account=account,
            csrf=session.csrf,
            kinds=KINDS,
            stores=stores,
            groups=found,
            key_id=publisher.key.key_id if publisher else None,
            draft=extra.pop("draft", None),
            **extra,
        )

    def show_form(request: Request, session: Any, account: Account) -> Response:
        if account.role != "admin":
            return refuse(403, "Only an admin publishes to stores.", session, account)
        return form_page(session, account)

    def admin_post(
        handler: Callable[[Request, Any, Account, FormData], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST only an admin makes: signed in, then the session's CSRF token, then the
        role (a forged form learns nothing else)."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page, max_part_size=MAX_UPLOAD)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if account.role != "admin":
                return refuse(403, "Only an admin publishes to stores.", session, account)
            return await handler(request, session, account, form)

        return endpoint

    async def preview_post(
        request: Request, session: Any, account: Account, form: FormData
    ) -> Response:
        upload = form.get("file")
        draft = Draft(
            form_text(form, "kind"),
            form_text(form, "store"),
            form_text(form, "group"),
            form_text(form, "pilot"),
            form_text(form, "box"),
            "the uploaded document",
        )
        if not isinstance(upload, UploadFile) or not upload.filename:
            return form_page(
                session, account, 400, error="Choose the document file to publish.", draft=draft
            )
        data = await upload.read()
        draft.source = upload.filename
        try:
            draft.document = parse_document(
                draft.kind, data, toml=upload.filename.endswith(".toml"), where=upload.filename
            )
            db = open_db()
            try:
                checked_draft(db, draft, root)
                shown = previews(db, draft.kind, draft.stores, draft.box or None, draft.document)
            finally:
                db.close()
        except StoregateError as exc:
            return form_page(session, account, 400, error=exc.describe(), draft=draft)
        return preview_page(session, account, draft, shown)

    def preview_page(
        session: Any, account: Account, draft: Draft, shown: list[StorePreview]
    ) -> Response:
        return page(
            "publish_preview.html",
            account=account,
            csrf=session.csrf,
            draft=draft,
            shown=shown,
            text=preview_text(shown),
            document=json.dumps(draft.document, ensure_ascii=False, sort_keys=True),
            key_id=publisher.key.key_id if publisher else None,
        )

    async def publish_post(
        request: Request, session: Any, account: Account, form: FormData
    ) -> Response:
        draft = Draft(
            form_text(form, "kind"),
            form_text(form, "store"),
            form_text(form, "group"),
            form_text(form, "pilot"),
            form_text(form, "box"),
            form_text(form, "source") or "the previewed document",
        )
        if publisher is None:
            return form_page(session, account, 409, error=OFF, draft=draft)
        db = open_db()
        try:
            draft.document = parse_document(
                draft.kind, form_text(form, "document").encode(), toml=False, where=draft.source
            )
            checked_draft(db, draft, root)
            done = publish_draft(db, draft, publisher, account.name, clock)
        except StoregateError as exc:
            return form_page(session, account, 400, error=exc.describe(), draft=draft)
        finally:
            db.close()
        return page(
            "published.html",
            account=account,
            csrf=session.csrf,
            draft=draft,
            done=done,
            key_id=publisher.key.key_id,
        )

    def visible_rollout(db: Database, account: Account, rollout_id: int) -> Any:
        """The rollout and its rows of the account's stores; None when it has none (or
        there is no such rollout: the answer is the same 404)."""
        try:
            rollout = load_rollout(db, rollout_id)
        except UsageError:
            return None
        mine = set(visible_stores(db, account))
        rows = [r for r in status_rows(db, rollout) if r["store"] in mine]
        return (rollout, rows) if rows else None

    def list_page(request: Request, session: Any, account: Account) -> Response:
        db = open_db()
        try:
            shown = []
            for rollout_id, kind, group, started in reversed(rollouts(db)):
                found = visible_rollout(db, account, rollout_id)
                if found is not None:
                    rows = found[1]
                    sent = sum(1 for r in rows if r["version"] is not None)
                    shown.append((rollout_id, kind, group, started, sent, len(rows)))
        finally:
            db.close()
        return page("rollouts.html", account=account, csrf=session.csrf, rows=shown)

    def rollout_page(request: Request, session: Any, account: Account) -> Response:
        rollout_id = int(request.path_params["rollout"])
        db = open_db()
        try:
            found = visible_rollout(db, account, rollout_id)
        finally:
            db.close()
        if found is None:
            return refuse(404, "No such rollout.", session, account)
        rollout, rows = found
        pending = [r["store"] for r in rows if r["stage"] == "rest" and r["version"] is None]
        return page(
            "rollout.html",
            account=account,
            csrf=session.csrf,
            rollout=rollout,
            rows=rows,
            pending=pending,
            publishing=publisher is not None,
        )

    async def continue_post(
        request: Request, session: Any, account: Account, form: FormData
    ) -> Response:
        rollout_id = int(request.path_params["rollout"])
        if publisher is None:
            return refuse(409, OFF, session, account)
        force = form.get("force") == "1"
        db = open_db()
        try:
            if visible_rollout(db, account, rollout_id) is None:
                return refuse(404, "No such rollout.", session, account)
            rollout, sent = continue_rollout(
                db,
                broker=publisher.broker,
                root=publisher.root,
                rollout_id=rollout_id,
                force=force,
                key=lambda: publisher.key,
                clock=clock,
            )
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "rollout.continue",
                    {
                        "rollout": rollout.id,
                        "kind": rollout.kind,
                        "group": rollout.group,
                        "force": force,
                        "versions": dict(sent),
                        "key": publisher.key.key_id,
                    },
                    iso(clock()),
                )
        except StoregateError as exc:
            return refuse(409, exc.describe(), session, account)
        finally:
            db.close()
        return RedirectResponse(f"/rollouts/{rollout_id}", status_code=303)

    return [
        Route("/publish", signed_in(show_form), methods=["GET"]),
        Route("/publish/preview", admin_post(preview_post), methods=["POST"]),
        Route("/publish", admin_post(publish_post), methods=["POST"]),
        Route("/rollouts", signed_in(list_page)),
        Route("/rollouts/{rollout:int}", signed_in(rollout_page)),
        Route("/rollouts/{rollout:int}/continue", admin_post(continue_post), methods=["POST"]),
    ]


OFF = (
    "Publishing is off: this server has no signing key. Start it with "
    "`cloud web serve --key KEY_ID.pem` (or $STOREGATE_SIGNING_KEY) and the broker options."
)
