"""`/coupons` in head office's pages: an admin makes a batch of a promotion's serial coupon
codes from an uploaded catalog (the one holding the promotion's secret) and downloads it
as CSV (UTF-8 with a BOM, as `cloud coupon serials --out FILE.csv` writes it).

The codes are `cloud.coupons.serial_table`'s, the CLI's own. The catalog is read from a
private temporary directory and removed at once; the secret is never kept, shown or
audited (the audit line names the promotion, the serials and the file). Only an admin
makes codes (the catalog's secret is head office's): every other role gets 403, by page
and by POST. A batch holds at most `MAX_BATCH` codes; a larger print run is several.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.clock import Clock, iso
from cloud.coupons import serial_table
from cloud.db import Database
from cloud.web.accounts import Account, audit
from cloud.web.members_page import upload_name
from cloud.web.publish_page import MAX_UPLOAD
from cloud.web.report_page import MEDIA, file_of
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

ADMINS_ONLY = "Only an admin makes serial coupon codes."
MAX_BATCH = 100_000


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
) -> list[Route]:
    """`/coupons` and its POST, for `create_app`."""

    refuse = refusal(page)

    def form_page(
        session: Any,
        account: Account,
        status: int = 200,
        error: str | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        return page(
            "coupons.html",
            status,
            account=account,
            csrf=session.csrf,
            error=error,
            form=form or {"first": "1", "count": "100"},
            most=MAX_BATCH,
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        return form_page(session, account)

    async def serials(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page, max_part_size=MAX_UPLOAD)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        typed = {k: form_text(form, k) for k in ("promotion", "first", "count")}
        upload = form.get("catalog")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise UsageError("no catalog", where="catalog", fix="choose the catalog file")
            first, count = (
                number(typed["first"], "first serial"),
                number(typed["count"], "how many"),
            )
            if count > MAX_BATCH:
                raise UsageError(
                    f"{count} codes are more than one batch",
                    where="how many",
                    fix=f"at most {MAX_BATCH} a batch: make several",
                )
            name = upload_name(upload.filename)
            with tempfile.TemporaryDirectory(prefix="storegate-coupons-") as work:
                path = Path(work) / name
                path.write_bytes(await upload.read())
                table = serial_table(typed["promotion"], path, first, count, source=name)
        except StoregateError as exc:
            return form_page(session, account, 400, exc.describe(), typed)
        db = open_db()
        try:
            with db.transaction():
                detail = {
                    "promotion": typed["promotion"],
                    "first": first,
                    "count": count,
                    "catalog": name,
                }
                audit(db, account.name, "coupon.serials", detail, iso(clock()))
        finally:
            db.close()
        last = first + count - 1
        filename = f"serials-{typed['promotion']}-{first}-{last}.csv"
        return Response(
            file_of(table, ".csv"),
            media_type=MEDIA[".csv"],
            headers={"Content-Disposition": f'attachment; filename="{upload_name(filename)}"'},
        )

    return [
        Route("/coupons", signed_in(show), methods=["GET"]),
        Route("/coupons/serials", serials, methods=["POST"]),
    ]


def number(text: str, field: str) -> int:
    """A whole number typed in the form, else a clear error naming the field."""
    try:
        return int(text)
    except ValueError:
        raise UsageError(
            f"{text!r} is not a whole number", where=field, fix="e.g. 1 or 100"
        ) from None
