"""`/reports` in head office's pages: every `cloud report ...` (affinity and busy too) with
its period, store and options, the table with a totals row, quantities by unit, a chart,
and the CSV (UTF-8 with a BOM) and xlsx the CLI's `--out` writes.

The tables come from `cloud.reports_cli.build_table`, `cloud.payments_cli.payments_table`
and `cloud.stock_plan.report_table` (the CLI's own; `cloud stock report X` is `stock-X`),
drawn and written by `cloud.render`: the page never computes a figure of its own. The
reports, their `--by` choices and their options' defaults are the CLI's too
(`cloud.reports_cli.REPORTS`, `GROUPINGS`, `LIMITS`), so the two cannot drift apart.
A store manager's report is their store's; a regional manager's one of their group's
stores; another store answers 404, as every page does.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud import render, reports, stock, stock_plan
from cloud.clock import Clock
from cloud.db import Database
from cloud.payments_cli import payments_table
from cloud.reports_cli import GROUPINGS, LIMITS, MIN_CONFIDENCE, MIN_SUPPORT, REPORTS, build_table
from cloud.sales import Period, load
from cloud.web.accounts import Account, visible_stores
from cloud.web.routing import Guard, Page
from gateway.errors import StoregateError, UsageError

# Every report of the CLI and its `--by` choices (the default first), read from its table.
KINDS: dict[str, tuple[str, ...]] = {kind: GROUPINGS.get(kind, ()) for kind in REPORTS}
# ... and `cloud stock report ...`'s, as `stock-onhand` and so on (shrink by store or item).
STOCK = "stock-"
KINDS |= {
    STOCK + kind: stock_plan.SHRINK_BY if kind == "shrink" else ()
    for kind in stock_plan.STOCK_REPORTS
}
# Every grouping of any of them, for the form's one "Group by" list.
GROUPS = tuple(dict.fromkeys(by for choices in KINDS.values() for by in choices))
EVERY_STORE = ("admin", "auditor")
_DRAWING = threading.Lock()  # matplotlib's pyplot is not thread-safe; requests run in threads


@dataclass(frozen=True)
class ReportRequest:
    """What the form asked for, checked; the same options as `cloud report`."""

    kind: str
    first: date
    last: date
    store: str | None
    by: str | None
    limit: int | None = None  # None: the report's own default (LIMITS)
    slow: bool = False
    promotion: str = ""
    as_of: str = ""
    segments: bool = False
    everything: bool = False
    min_support: str = ""  # "": the CLI's default, MIN_SUPPORT
    min_confidence: str = ""
    max_sold: str = ""  # stock-slow: "" is the CLI's default, 0

    def query(self) -> str:
        """The request as a query string (the download and chart links carry it)."""
        fields: dict[str, str] = {
            "report": self.kind,
            "from": str(self.first),
            "to": str(self.last),
            "store": self.store or "",
            "by": self.by or "",
        }
        if self.limit is not None:
            fields["limit"] = str(self.limit)
        for name, on in (("slow", self.slow), ("segments", self.segments)):
            if on:
                fields[name] = "1"
        if self.everything:
            fields["all"] = "1"
        if self.promotion:
            fields["promotion"] = self.promotion
        if self.as_of:
            fields["as_of"] = self.as_of
        for name, share in (
            ("min_support", self.min_support),
            ("min_confidence", self.min_confidence),
            ("max_sold", self.max_sold),
        ):
            if share:
                fields[name] = share
        return urlencode(fields)


@dataclass
class ReportView:
    request: ReportRequest
    table: reports.Table
    totals: list[reports.Cell] | None
    quantities: reports.Table | None
    stores: list[str]
    every_store: bool
    chart: bool  # whether it has a column to draw (`cloud.render.numeric_columns`)


def parse_request(params: Mapping[str, str], today: date) -> ReportRequest:
    """The query's report, or a UsageError saying which field is wrong and how to fix it."""
    kind = params.get("report") or "sales"
    if kind not in KINDS:
        raise UsageError(f"no report {kind!r}", where="report", fix=f"one of {', '.join(KINDS)}")
    first = params.get("from") or str(today)
    period = Period.parse(first, params.get("to") or first)
    choices = KINDS[kind]
    by = params.get("by") or (choices[0] if choices else "")
    if choices and by not in choices:
        raise UsageError(
            f"the {kind} report has no grouping {by!r}",
            where="by",
            fix=f"one of {', '.join(choices)}",
        )
    limit = params.get("limit", "").strip()
    if limit and (not limit.isdigit() or not 1 <= int(limit) <= 1000):
        raise UsageError(f"limit {limit!r}", where="limit", fix="a whole number, 1 to 1000")
    promotion = params.get("promotion", "").strip()
    if kind == "promotion" and not promotion:
        raise UsageError(
            "a promotion report needs the promotion's id",
            where="promotion",
            fix="type the promotion's id, and its days as the period",
        )
    return ReportRequest(
        kind,
        period.first,
        period.last,
        params.get("store") or None,
        by or None,
        int(limit) if limit else None,
        bool(params.get("slow")),
        promotion,
        params.get("as_of", "").strip(),
        bool(params.get("segments")),
        bool(params.get("all")),
        params.get("min_support", "").strip(),
        params.get("min_confidence", "").strip(),
        params.get("max_sold", "").strip(),
    )


def scoped_store(db: Database, account: Account, asked: str | None) -> tuple[str | None, bool]:
    """The store the report is of (None: every store) and whether it may be read. Admins
    and auditors may read every store together; the others one of theirs (their first by
    default)."""
    mine = visible_stores(db, account)
    if asked is not None:
        return asked, asked in mine
    if account.role in EVERY_STORE:
        return None, True
    return (mine[0], True) if mine else (None, False)


def build(db: Database, account: Account, request: ReportRequest) -> ReportView | None:
    """The report for this account, or None when it asks for a store it may not see."""
    store, allowed = scoped_store(db, account, request.store)
    if not allowed:
        return None
    period = Period(request.first, request.last)
    if request.kind == "payments":
        table = payments_table(db, period, store, everything=request.everything)
    elif request.kind.startswith(STOCK):
        table = stock_plan.report_table(
            db,
            request.kind.removeprefix(STOCK),
            period,
            store,
            as_of=request.as_of or None,
            max_sold=stock.parse_quantity(request.max_sold or "0", "max_sold", allow_zero=True),
            by=request.by or stock_plan.SHRINK_BY[0],
        )
    else:
        table = build_table(db, _arguments(request, store), period)
    quantities = None
    if request.kind == "sales" and request.by:
        quantities = reports.quantities_by_unit(load(db, period, store), request.by)
    return ReportView(
        ReportRequest(**{**request.__dict__, "store": store}),
        table,
        reports.totals(table),
        quantities,
        visible_stores(db, account),
        account.role in EVERY_STORE,
        bool(render.numeric_columns(table)),
    )


def _arguments(request: ReportRequest, store: str | None) -> argparse.Namespace:
    """The request as the arguments `cloud report` parses, for its own table builder; an
    option left empty takes the CLI's default (its shares are checked there, as typed)."""
    limit = request.limit if request.limit is not None else LIMITS.get(request.kind)
    return argparse.Namespace(
        report=request.kind,
        first=str(request.first),
        last=str(request.last),
        store=store,
        by=request.by,
        limit=limit,
        slow=request.slow,
        promotion=request.promotion,
        as_of=request.as_of or None,
        segments=request.segments,
        min_support=request.min_support or MIN_SUPPORT,
        min_confidence=request.min_confidence or MIN_CONFIDENCE,
    )


def file_of(table: reports.Table, suffix: str, column: str | None = None) -> bytes:
    """The table as `cloud report --out FILE.csv|.xlsx` or `--chart FILE.png` writes it."""
    with tempfile.TemporaryDirectory(prefix="storegate-report-") as folder:
        path = Path(folder) / f"report{suffix}"
        if suffix == ".png":
            with _DRAWING:
                render.chart(table, path, column)
        else:
            render.write_file(table, path)
        return path.read_bytes()


MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".png": "image/png",
}


def routes(
    open_db: Callable[[], Database], clock: Clock, signed_in: Guard, page: Page
) -> list[Route]:
    """`/reports` and its downloads, for `create_app`."""

    def answer(request: Request, session: Any, account: Account) -> ReportView | Response:
        db = open_db()
        try:
            wanted = parse_request(dict(request.query_params), clock().date())
            view = build(db, account, wanted)
        except StoregateError as exc:
            return page(
                "message.html", 400, text=exc.describe(), account=account, csrf=session.csrf
            )
        finally:
            db.close()
        if view is None:
            return page(
                "message.html", 404, text="No such store.", account=account, csrf=session.csrf
            )
        return view

    def report_page(request: Request, session: Any, account: Account) -> Response:
        view = answer(request, session, account)
        if isinstance(view, Response):
            return view
        return page(
            "reports.html",
            view=view,
            kinds=KINDS,
            groups=GROUPS,
            limits=LIMITS,
            shares={"min_support": MIN_SUPPORT, "min_confidence": MIN_CONFIDENCE},
            account=account,
            csrf=session.csrf,
        )

    def download(suffix: str) -> Callable[[Request, Any, Account], Response]:
        def handler(request: Request, session: Any, account: Account) -> Response:
            view = answer(request, session, account)
            if isinstance(view, Response):
                return view
            try:
                column = request.query_params.get("column") or None
                body = file_of(view.table, suffix, column)
            except StoregateError as exc:
                return page(
                    "message.html", 400, text=exc.describe(), account=account, csrf=session.csrf
                )
            wanted = view.request
            name = f"report-{wanted.kind}-{wanted.first}-{wanted.last}{suffix}"
            disposition = "inline" if suffix == ".png" else "attachment"
            return Response(
                body,
                media_type=MEDIA[suffix],
                headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
            )

        return handler

    return [
        Route("/reports", signed_in(report_page)),
        Route("/reports/report.csv", signed_in(download(".csv"))),
        Route("/reports/report.xlsx", signed_in(download(".xlsx"))),
        Route("/reports/chart.png", signed_in(download(".png"))),
    ]
