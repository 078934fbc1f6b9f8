"""What the pages show, read from head office's database for one account: plain values
the templates render. Reuses the rooms' own readers (`cloud.fleet`, `cloud.sales_summary`
-- the sales figures ingest adds up as it stores records, so a page parses no bodies --
`cloud.reports`, `cloud.alerts`, `cloud.stores`); never writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from cloud import reports
from cloud.alerts import Alert, list_alerts
from cloud.db import Database
from cloud.fleet import BoxView, fleet
from cloud.sales_summary import net_by_store, store_day
from cloud.stores import box_states, groups, last_published
from cloud.web.accounts import Account, visible_stores

PAGE_SIZE = 50  # stores per page of the dashboard
ALERTS_SHOWN = 20  # open alerts on the dashboard (the rest on /alerts)
SORTS = ("worst", "store")


@dataclass(frozen=True)
class StoreDay:
    store: str
    tickets: int
    sales: Decimal
    week_before: Decimal  # the same weekday a week earlier
    change: str  # "+12.5 %", or "new" when there was nothing to compare with
    groups: str = ""
    boxes: int = 0
    offline: int = 0
    backlog: int = 0
    alerts: int = 0


@dataclass(frozen=True)
class GroupRow:
    """A store group's (or the ungrouped stores') roll-up on the dashboard."""

    name: str  # "" for the stores in no group
    stores: int
    boxes: int
    offline: int
    backlog: int
    alerts: int
    sales: Decimal


@dataclass
class Dashboard:
    day: date
    stores: list[StoreDay]  # this page's stores
    boxes: list[BoxView]  # this page's stores' boxes
    alerts: list[Alert]  # the newest ALERTS_SHOWN open ones
    online: int = 0  # of every box the account sees
    offline: int = 0
    groups: list[GroupRow] = field(default_factory=list)
    group: str = ""
    sort: str = "worst"
    page: int = 1
    pages: int = 1
    total_stores: int = 0
    total_alerts: int = 0


@dataclass
class StoreView:
    store: str
    day: date
    by_hour: reports.Table
    by_cashier: reports.Table
    refunds: reports.Table
    boxes: list[BoxView]
    documents: list[tuple[str, int, list[tuple[str, str, str]]]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


def _change(now: Decimal, before: Decimal) -> str:
    if not before:
        return "new" if now else "-"
    return f"{(now - before) * 100 / before:+.1f} %"


def dashboard(
    db: Database,
    account: Account,
    day: date,
    *,
    group: str = "",
    sort: str = "worst",
    page: int = 1,
) -> Dashboard:
    """The dashboard of the account's stores: a roll-up per store group, then one page of
    PAGE_SIZE stores (of `group` when given; worst first — most boxes offline, then the
    biggest backlog, then the most open alerts — or by store), that page's boxes and the
    newest open alerts. The page stays the same size however big the fleet grows."""
    sort = sort if sort in SORTS else "worst"
    stores = visible_stores(db, account)
    today = net_by_store(db, day, stores)
    before = net_by_store(db, day - timedelta(days=7), stores)
    boxes = [b for b in fleet(db) if b.store in set(stores)]
    alerts = visible_alerts(db, account, stores)
    member_of: dict[str, list[str]] = {}
    for name, members in groups(db).items():
        for store in members:
            member_of.setdefault(store, []).append(name)
    per_box: dict[str, list[BoxView]] = {}
    for b in boxes:
        per_box.setdefault(b.store, []).append(b)
    open_of: dict[str, int] = {}
    for a in alerts:
        if a.store is not None:
            open_of[a.store] = open_of.get(a.store, 0) + 1
    rows = [
        StoreDay(
            s,
            today[s][0],
            today[s][1],
            before[s][1],
            _change(today[s][1], before[s][1]),
            ", ".join(member_of.get(s, [])),
            len(per_box.get(s, [])),
            sum(1 for b in per_box.get(s, []) if not b.online),
            sum(b.backlog or 0 for b in per_box.get(s, [])),
            open_of.get(s, 0),
        )
        for s in stores
    ]
    rollup: dict[str, list[StoreDay]] = {}
    for row in rows:
        for name in member_of.get(row.store, [""]):
            rollup.setdefault(name, []).append(row)
    chosen = [r for r in rows if not group or group in member_of.get(r.store, [])]
    if sort == "worst":
        chosen.sort(key=lambda r: (-r.offline, -r.backlog, -r.alerts, r.store))
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    on_page = {r.store for r in shown}
    view = Dashboard(
        day,
        shown,
        [b for b in boxes if b.store in on_page],
        alerts[-ALERTS_SHOWN:][::-1],
        group=group,
        sort=sort,
        page=page,
        pages=pages,
        total_stores=len(chosen),
        total_alerts=len(alerts),
    )
    view.groups = [
        GroupRow(
            name,
            len(members),
            sum(r.boxes for r in members),
            sum(r.offline for r in members),
            sum(r.backlog for r in members),
            sum(r.alerts for r in members),
            sum((r.sales for r in members), Decimal(0)),
        )
        for name, members in sorted(rollup.items(), key=lambda kv: (kv[0] == "", kv[0]))
    ]
    view.online = sum(1 for b in boxes if b.online)
    view.offline = len(boxes) - view.online
    return view


def visible_alerts(db: Database, account: Account, stores: list[str]) -> list[Alert]:
    """Open alerts of the account's stores (head office's own, with no store, for the
    roles that see every store)."""
    return [a for a in list_alerts(db) if alert_visible(account, a, stores)]


def alert_visible(account: Account, alert: Alert, stores: list[str]) -> bool:
    """Whether `account` (who sees `stores`) may see `alert`: one of its stores', or head
    office's own (no store) for the roles that see every store."""
    if alert.store is None:
        return account.role in ("admin", "auditor")
    return alert.store in stores


def store_view(db: Database, account: Account, store: str, day: date) -> StoreView | None:
    """A store's drill-down, or None when the account may not see it (the page then says
    404: it does not tell whether such a store exists)."""
    if store not in visible_stores(db, account):
        return None
    by_hour, by_cashier, refunds = store_day(db, store, day)
    view = StoreView(store, day, by_hour, by_cashier, refunds, fleet(db, store))
    for kind in ("catalog", "members"):
        published = last_published(db, kind, store, None)
        if published is not None:
            states = [(b, str(s), w) for b, s, w in box_states(db, kind, store, published[0])]
            view.documents.append((kind, published[0], states))
    view.alerts = [a for a in list_alerts(db) if a.store == store]
    return view
