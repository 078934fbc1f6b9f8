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
from cloud.stores import box_states, last_published
from cloud.web.accounts import Account, visible_stores


@dataclass(frozen=True)
class StoreDay:
    store: str
    tickets: int
    sales: Decimal
    week_before: Decimal  # the same weekday a week earlier
    change: str  # "+12.5 %", or "new" when there was nothing to compare with


@dataclass
class Dashboard:
    day: date
    stores: list[StoreDay]
    boxes: list[BoxView]
    alerts: list[Alert]
    online: int = 0
    offline: int = 0


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


def dashboard(db: Database, account: Account, day: date) -> Dashboard:
    stores = visible_stores(db, account)
    today = net_by_store(db, day, stores)
    before = net_by_store(db, day - timedelta(days=7), stores)
    rows = [
        StoreDay(s, today[s][0], today[s][1], before[s][1], _change(today[s][1], before[s][1]))
        for s in stores
    ]
    boxes = [b for b in fleet(db) if b.store in stores]
    alerts = visible_alerts(db, account, stores)
    view = Dashboard(day, rows, boxes, alerts)
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
