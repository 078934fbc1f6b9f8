"""`/campaigns` in head office's pages: the campaigns of the account's stores, a new one
with its hold-out drawn (an RFM segment or a list of member ids), one campaign's treated
members and hold-out, publishing its coupons, and its effect report (treated against
hold-out, 95 % intervals), what `cloud campaign create|list|show|publish|report` do.

Every step is `cloud.campaigns`' (the CLI's own functions and checks): the seed is the
one typed, else a random one kept with the campaign, as the CLI draws it. A campaign is a
store's: an admin runs any store's, a regional or store manager those of its own stores;
an auditor reads them and changes nothing (403 by POST). Another store's campaign answers
404, by page and by POST. Publishing signs and sends the store's members document with
head office's key given to `cloud web serve` (without one, publishing is off: 409). Each
creation and publication is audited with the signed-in account.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud import campaigns
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.members import build_document
from cloud.publish import publish_document
from cloud.reports import SEGMENTS
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.publish_page import OFF, Publisher
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

READS_ONLY = "An auditor reads campaigns; running them is for managers."
NO_SUCH = "No such campaign."


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    publisher: Publisher | None,
) -> list[Route]:
    """`/campaigns`, `/campaigns/ID` and their POSTs, for `create_app`."""

    refuse = refusal(page)

    def list_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            stores = visible_stores(db, account)
            rows = [c for c in campaigns.all_campaigns(db) if c.store in stores]
        finally:
            db.close()
        return page(
            "campaigns.html",
            status,
            account=account,
            csrf=session.csrf,
            rows=rows,
            stores=stores,
            segments=[name for name, _ in SEGMENTS],
            today=clock().date(),
            default_holdout=campaigns.DEFAULT_HOLDOUT,
            default_days=campaigns.DEFAULT_DAYS,
            error=extra.pop("error", None),
            form=extra.pop("form", {}),
        )

    def show_list(request: Request, session: Any, account: Account) -> Response:
        return list_page(session, account)

    def visible(db: Database, account: Account, campaign_id: str) -> campaigns.Campaign | None:
        """The campaign when it is one of the account's stores'; None otherwise (and when
        there is no such campaign: the answer is the same 404)."""
        try:
            campaign = campaigns.get(db, campaign_id)
        except UsageError:
            return None
        return campaign if campaign.store in visible_stores(db, account) else None

    def campaign_page(
        session: Any, account: Account, campaign_id: str, status: int = 200, **extra: Any
    ) -> Response:
        db = open_db()
        try:
            campaign = visible(db, account, campaign_id)
            table = None if campaign is None else campaigns.effect(db, campaign)
        finally:
            db.close()
        if campaign is None or table is None:
            return refuse(404, NO_SUCH, session, account)
        return page(
            "campaign.html",
            status,
            account=account,
            csrf=session.csrf,
            c=campaign,
            table=table,
            publishing=publisher is not None,
            error=extra.pop("error", None),
            done=extra.pop("done", None),
        )

    def show_one(request: Request, session: Any, account: Account) -> Response:
        return campaign_page(session, account, request.path_params["campaign"])

    def manager_post(
        handler: Callable[[Request, Any, Account, FormData], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST a manager makes: signed in, then the session's CSRF token, then the role
        (the store is checked by the handler: another store's is 404)."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if not account.may_change:
                return refuse(403, READS_ONLY, session, account)
            return handler(request, session, account, form)

        return endpoint

    def create(request: Request, session: Any, account: Account, form: FormData) -> Response:
        store, aim = form_text(form, "store"), form_text(form, "aim")
        now = iso(clock())
        db = open_db()
        try:
            if store not in visible_stores(db, account):
                raise UsageError(
                    f"store {store!r} is not one of yours",
                    where="store",
                    fix=f"choose one of: {', '.join(visible_stores(db, account)) or 'none'}",
                )
            holdout = campaigns.parse_holdout(
                form_text(form, "holdout") or str(campaigns.DEFAULT_HOLDOUT), "hold-out"
            )
            starts = campaigns.parse_day(form_text(form, "from"), "from", clock().date())
            ends = campaigns.parse_day(
                form_text(form, "to"),
                "to",
                starts + timedelta(days=campaigns.DEFAULT_DAYS - 1),
            )
            seed = _seed(form_text(form, "seed"))
            if aim == "segment":
                as_of = campaigns.parse_day(form_text(form, "as_of"), "RFM as of", starts)
                audience = campaigns.segment_audience(db, store, form_text(form, "segment"), as_of)
            else:
                audience = campaigns.lines_audience(
                    db,
                    store,
                    form_text(form, "members").splitlines(),
                    "the member ids",
                    "members listed in the page",
                    "member ids",
                )
            made = campaigns.create(
                db,
                campaign_id=form_text(form, "id"),
                store=store,
                name=form_text(form, "name") or None,
                coupon=form_text(form, "coupon"),
                audience=audience,
                holdout=holdout,
                seed=seed,
                starts=starts,
                ends=ends,
                by=account.name,
                now=now,
            )
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "campaign.create",
                    {
                        "campaign": made.id,
                        "store": made.store,
                        "coupon": made.coupon,
                        "audience": made.audience,
                        "holdout": str(made.holdout),
                        "seed": made.seed,
                        "treated": len(made.treated),
                        "held_out": len(made.held_out),
                    },
                    now,
                )
        except StoregateError as exc:
            return list_page(session, account, 400, error=exc.describe(), form=dict(form))
        finally:
            db.close()
        return RedirectResponse(f"/campaigns/{made.id}", status_code=303)

    def publish(request: Request, session: Any, account: Account, form: FormData) -> Response:
        campaign_id = request.path_params["campaign"]
        now = iso(clock())
        db = open_db()
        try:
            campaign = visible(db, account, campaign_id)
            if campaign is None:
                return refuse(404, NO_SUCH, session, account)
            if publisher is None:
                return campaign_page(session, account, campaign_id, 409, error=OFF)
            try:
                campaign = campaigns.mark_published(db, campaign_id, now)
                document = build_document(db, campaign.store, now)
                [message] = publish_document(
                    db=db,
                    broker=publisher.broker,
                    root=publisher.root,
                    kind="members",
                    document=document,
                    stores=[campaign.store],
                    box=None,
                    key=publisher.key,
                    clock=clock,
                )
                given = campaigns.coupons_given(document, campaign.id)
                with db.transaction():
                    audit(
                        db,
                        account.name,
                        "campaign.publish",
                        {
                            "campaign": campaign.id,
                            "store": campaign.store,
                            "members_version": message["version"],
                            "coupons": given,
                            "key": publisher.key.key_id,
                        },
                        now,
                    )
            except StoregateError as exc:
                return campaign_page(session, account, campaign_id, 400, error=exc.describe())
        finally:
            db.close()
        done = (
            f"Coupon {campaign.coupon} for {given} member(s) in members version "
            f"{message['version']} of {campaign.store}."
        )
        return campaign_page(session, account, campaign_id, done=done)

    return [
        Route("/campaigns", signed_in(show_list), methods=["GET"]),
        Route("/campaigns", manager_post(create), methods=["POST"]),
        Route("/campaigns/{campaign}", signed_in(show_one), methods=["GET"]),
        Route("/campaigns/{campaign}/publish", manager_post(publish), methods=["POST"]),
    ]


def _seed(text: str) -> int:
    """The seed typed in the form, or a new random one (kept with the campaign)."""
    if not text:
        return campaigns.new_seed()
    if not text.isdigit() or int(text) >= 2**31:
        raise UsageError(
            f"seed {text!r} is not a whole number",
            where="seed",
            fix="leave it empty for a random one, or a number such as 7",
        )
    return int(text)
