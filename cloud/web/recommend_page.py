"""`/recommend` in head office's pages: `cloud recommend` in the page. An admin uploads a
catalog document, chooses the period, the store (or every store) and the thresholds, and
downloads the catalog with its "often bought with" `recommendations` set from the sales'
association rules (`cloud.affinity.recommended_catalog`, the CLI's own), to publish on
`/publish` like any catalog (preview, pilot stores). Nothing is stored or sent: the
answer is the file. The catalog is every store's business: admin only (403 for every
other role, by page and by POST, after the CSRF check); no audit row, as nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.affinity import recommended_catalog
from cloud.db import Database
from cloud.publish import check_document, parse_document
from cloud.recommend_cli import PER_PRODUCT
from cloud.reports_cli import MIN_CONFIDENCE, MIN_SUPPORT, share_arg
from cloud.sales import Period, load
from cloud.stores import known_stores
from cloud.web.accounts import Account
from cloud.web.publish_page import MAX_UPLOAD
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

ADMINS_ONLY = "Only an admin makes recommendations for the catalog."


def routes(
    open_db: Callable[[], Database],
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
) -> list[Route]:
    """`/recommend` and its POST, for `create_app`."""

    refuse = refusal(page)

    def form_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            stores = sorted(known_stores(db))
        finally:
            db.close()
        return page(
            "recommend.html",
            status,
            account=account,
            csrf=session.csrf,
            stores=stores,
            shares={"min_support": MIN_SUPPORT, "min_confidence": MIN_CONFIDENCE},
            per_product=PER_PRODUCT,
            error=extra.pop("error", None),
            form=extra.pop("form", {}),
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        return form_page(session, account)

    async def make(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page, max_part_size=MAX_UPLOAD)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        kept = {k: form_text(form, k) for k in ("from", "to", "store", "min_support",
                                                 "min_confidence", "per_product")}  # fmt: skip
        upload = form.get("file")
        db = open_db()
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise UsageError("no catalog file", where="file", fix="choose the catalog JSON")
            per = kept["per_product"] or str(PER_PRODUCT)
            if not per.isdigit() or not 1 <= int(per) <= PER_PRODUCT:
                raise UsageError(
                    f"per product {per!r} is outside 1-{PER_PRODUCT}",
                    where="per product",
                    fix=f"the customer screen shows at most {PER_PRODUCT}",
                )
            store = kept["store"] or None
            if store is not None and store not in known_stores(db):
                raise UsageError(f"unknown store {store!r}", where="store", fix="choose one")
            min_support = share_arg(kept["min_support"] or MIN_SUPPORT, "least support")
            min_confidence = share_arg(kept["min_confidence"] or MIN_CONFIDENCE, "least confidence")
            period = Period.parse(kept["from"] or None, kept["to"] or None)
            name = upload.filename
            document = parse_document("catalog", await upload.read(), toml=False, where=name)
            check_document("catalog", document, name)
            made, _, _ = recommended_catalog(
                document,
                load(db, period, store),
                min_support=min_support,
                min_confidence=min_confidence,
                per_product=int(per),
            )
            check_document("catalog", made, name)
        except StoregateError as exc:
            return form_page(session, account, 400, error=exc.describe(), form=kept)
        finally:
            db.close()
        body = json.dumps(made, indent=2, ensure_ascii=False) + "\n"
        out = name.rsplit(".", 1)[0] + "-recommended.json"
        return Response(
            body.encode("utf-8"),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{_safe(out)}"'},
        )

    return [
        Route("/recommend", signed_in(show), methods=["GET"]),
        Route("/recommend", make, methods=["POST"]),
    ]


def _safe(name: str) -> str:
    """A download's file name without quotes, slashes or control characters."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "catalog.json"
