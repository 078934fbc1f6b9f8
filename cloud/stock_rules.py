"""Stock alert rules (`cloud stock check`): low stock (库存预警), negative stock, shrink.

Owns the decisions "is this stock worth an alert". Conditions that last (an item low or
negative, a store's shrink above the threshold) are **episodes**: one alert when the
condition starts (key `KIND:STORE/SUBJECT:SINCE`), none while it lasts — also after a
person acknowledged it — and, when a pass finds the condition gone, its open alert is
cleared (`cleared_at`, the lifecycle of `cloud.alerts`). The next time
the condition starts it raises a new alert. Must not write anything but alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cloud.alerts import clear_key_prefix, raise_alert
from cloud.db import Database
from cloud.stock import ZERO, ItemSettings, dec, item_settings, levels
from cloud.stock_plan import SHRINK_KINDS, SOLD_KINDS, Shrink

COVER_WINDOW_DAYS = 28


@dataclass(frozen=True)
class StockLimits:
    """`cloud stock check --shrink-rate / --shrink-days`: the store-wide shrink rule."""

    shrink_rate: Decimal = Decimal("0.02")
    shrink_days: int = 28


@dataclass
class Findings:
    raised: int = 0
    cleared: int = 0
    holding: int = 0


def days_of_cover(on_hand: Decimal, sold_per_day: Decimal) -> Decimal | None:
    """Rule "days of cover": on hand / average net quantity sold per day over the 28 days
    before the day judged, to 1 place half up; None when nothing sells (endless cover)."""
    if sold_per_day <= 0:
        return None
    return (on_hand / sold_per_day).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _episode(
    db: Database,
    conditions: dict[str, str],
    prefix: str,
    holds: bool,
    now: str,
    findings: Findings,
    **alert: Any,
) -> None:
    """One alert per episode of a lasting condition: raised when it starts (recorded in
    `stock_condition`; `conditions` is that table as read at the start of the pass),
    cleared and forgotten when a pass finds it gone."""
    if holds:
        findings.holding += 1
        if prefix not in conditions:
            db.execute(
                "INSERT INTO stock_condition (key_prefix, since) VALUES (?, ?)", (prefix, now)
            )
            conditions[prefix] = now
            raise_alert(db, key=prefix + now, now=now, **alert)
            findings.raised += 1
    elif prefix in conditions:
        db.execute("DELETE FROM stock_condition WHERE key_prefix = ?", (prefix,))
        del conditions[prefix]
        findings.cleared += clear_key_prefix(db, prefix, now=now)


def check(db: Database, day: date, now: str, limits: StockLimits = StockLimits()) -> Findings:
    """Judge every item's position now, and each store's shrink over the `shrink_days`
    ending on `day` (the closed business day); raise and clear alerts in one transaction."""
    cover_from = str(day - timedelta(days=COVER_WINDOW_DAYS - 1))
    shrink_from = str(day - timedelta(days=limits.shrink_days - 1))
    sold: dict[tuple[str, str], Decimal] = {}
    shrink: dict[tuple[str, str], Shrink] = {}
    # one lean read of both windows (the figures only, no movement objects)
    for store, sku, kind, quantity, value, business_day in db.query(
        "SELECT store, sku, kind, quantity, value, business_day FROM stock_movement "
        "WHERE business_day >= ? AND business_day <= ? AND kind IN (?, ?, ?, ?)",
        (min(cover_from, shrink_from), str(day), *SOLD_KINDS, *SHRINK_KINDS),
    ):
        if kind in SOLD_KINDS and business_day >= cover_from:
            sold[(store, sku)] = sold.get((store, sku), ZERO) - dec(quantity)
        if business_day >= shrink_from:
            row = shrink.setdefault((store, ""), Shrink())
            if kind == "loss":
                row.lost -= dec(value)
            elif kind == "count":
                row.counted += dec(value)
            else:
                row.sold -= dec(value)
    settings = item_settings(db)
    positions = levels(db)  # read before the transaction: `query` ends read transactions
    stores_seen = {lv.store for lv in positions}
    findings = Findings()
    with db.transaction():
        conditions = {
            str(prefix): str(since)
            for prefix, since in db.execute(
                "SELECT key_prefix, since FROM stock_condition" + db.lock_rows_for_update()
            ).fetchall()
        }
        for lv in positions:
            item = settings.get(f"{lv.store}\t{lv.sku}", ItemSettings())
            subject = f"{lv.store}/{lv.sku}"
            _episode(
                db,
                conditions,
                f"stock.negative:{subject}:",
                lv.on_hand < 0,
                now,
                findings,
                kind="stock.negative",
                severity="error",
                store=lv.store,
                message=f"{lv.store} {lv.sku} {lv.name}: stock is negative ({lv.on_hand} "
                f"{lv.unit}): goods sold that were never received, or a receipt not recorded",
                body={"sku": lv.sku, "on_hand": str(lv.on_hand)},
            )
            per_day = sold.get((lv.store, lv.sku), ZERO) / COVER_WINDOW_DAYS
            cover = days_of_cover(lv.on_hand, per_day)
            below_min = item.min_level is not None and lv.on_hand < item.min_level
            short_cover = (
                item.min_cover_days is not None
                and cover is not None
                and cover < item.min_cover_days
            )
            why = []
            if below_min:
                why.append(f"below its minimum {item.min_level}")
            if short_cover:
                why.append(f"{cover} days of cover, under {item.min_cover_days}")
            _episode(
                db,
                conditions,
                f"stock.low:{subject}:",
                lv.on_hand >= 0 and (below_min or short_cover),
                now,
                findings,
                kind="stock.low",
                severity="warning",
                store=lv.store,
                message=f"{lv.store} {lv.sku} {lv.name}: {lv.on_hand} {lv.unit} on hand, "
                + " and ".join(why),
                body={
                    "sku": lv.sku,
                    "on_hand": str(lv.on_hand),
                    "min_level": None if item.min_level is None else str(item.min_level),
                    "days_of_cover": None if cover is None else str(cover),
                },
            )
        for store in sorted(stores_seen):
            row = shrink.get((store, ""), Shrink())
            rate = row.rate
            over = row.shrink > 0 and (rate is None or rate > limits.shrink_rate)
            share = "no sales" if rate is None else f"{rate:.2%} of cost of sales"
            _episode(
                db,
                conditions,
                f"stock.shrink:{store}/*:",
                over,
                now,
                findings,
                kind="stock.shrink",
                severity="warning",
                store=store,
                message=f"{store}: shrink {row.shrink} in the {limits.shrink_days} days to "
                f"{day} ({share}; above {limits.shrink_rate:.2%})",
                body={
                    "shrink": str(row.shrink),
                    "cost_of_sales": str(row.sold),
                    "day": str(day),
                },
            )
    return findings
