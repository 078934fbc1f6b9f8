"""Campaigns: a personal coupon offered to some of a store's members, and its measured effect.

Owns the `campaign` and `campaign_member` tables (migration 16). A campaign is aimed at an
RFM segment (`cloud report rfm`) or a list of member ids; on creation its members are drawn,
with a recorded seed, into the treated group (who get the coupon) and the hold-out (who get
nothing), so its effect is measured treated against hold-out over the same days, never
before against after. Publishing puts each treated member's coupon into the store's members
document (`cloud.members.build_document` asks `coupons_for`); a box accepts the code from
that member only, once, and journals the redemption in the sale record
(`redeemed_coupons`), which ingest brings back here. Read and written only through these
functions; the statistics are `cloud.intervals`.
"""

from __future__ import annotations

import random
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cloud import intervals
from cloud.db import Database
from cloud.reports import SEGMENTS, ZERO, Table, average, rfm
from cloud.sales import Period, load
from gateway.errors import UsageError
from gateway.lane.records import RECORD_MODELS, RefundBody, SaleBody
from gateway.settings import IDENTIFIER

COUPON = r"^[A-Za-z0-9_-]{1,32}$"
DEFAULT_HOLDOUT = Decimal("0.10")
DEFAULT_DAYS = 14
RFM_DAYS = 365  # the segment is the member's RFM over the year before the campaign starts


@dataclass(frozen=True)
class Campaign:
    id: str
    store: str
    name: str
    coupon: str
    audience: str  # "segment <name>" or "members <file name>"
    holdout: Decimal  # the share drawn into the hold-out
    seed: int
    starts: date
    ends: date
    created_by: str
    created_at: str
    published_at: str | None
    treated: tuple[str, ...]
    held_out: tuple[str, ...]


@dataclass(frozen=True)
class Audience:
    """Whom a campaign is aimed at: the members and how they were chosen."""

    members: tuple[str, ...]
    described: str


# -- the audience ---------------------------------------------------------------------------


def segment_audience(db: Database, store: str, segment: str, as_of: date) -> Audience:
    """The store's members in RFM segment `segment` as of `as_of` (the year before it)."""
    names = [name for name, _ in SEGMENTS]
    if segment not in names:
        raise UsageError(
            f"no RFM segment {segment!r}",
            where="--segment",
            fix=f"use one of: {', '.join(names)} (cloud report rfm --segments)",
        )
    loaded = load(db, Period(as_of - timedelta(days=RFM_DAYS), as_of), store)
    table = rfm(loaded, as_of)
    members = tuple(str(row[1]) for row in table.rows if row[8] == segment)
    return Audience(members, f"segment {segment} as of {as_of}")


def list_audience(db: Database, store: str, path: Path) -> Audience:
    """The member ids of a file (one per line; blank lines and `#` comments skipped), each
    a member of `store` at head office."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}", where="--members", fix="give a UTF-8 text file"
        ) from exc
    return lines_audience(db, store, lines, str(path), f"members {path.name}", "--members")


def lines_audience(
    db: Database, store: str, lines: Iterable[str], source: str, described: str, where: str
) -> Audience:
    """The member ids of `lines` (a file's, or a page's box of them): one per line, blank
    lines and `#` comments skipped, each a member of `store` at head office."""
    ids = [line.split("#")[0].strip() for line in lines]
    ids = [i for i in ids if i]
    bad = [i for i in ids if not re.match(IDENTIFIER, i)]
    known = {str(r[0]) for r in db.query("SELECT id FROM member_account WHERE store = ?", (store,))}
    unknown = [i for i in ids if i not in known and i not in bad]
    if bad or unknown:
        named = [f"{i!r} is not a member id" for i in bad]
        named += [f"{i} is not a member of {store}" for i in unknown]
        raise UsageError(
            f"{source}: {'; '.join(named[:5])}"
            + (f" (and {len(named) - 5} more)" if len(named) > 5 else ""),
            where=where,
            fix="one member id of this store a line (cloud members list --store STORE)",
        )
    return Audience(tuple(dict.fromkeys(ids)), described)


def parse_holdout(text: str, where: str = "--holdout") -> Decimal:
    """A hold-out share as typed (`create` checks its range)."""
    try:
        holdout = Decimal(text)
    except InvalidOperation:
        holdout = Decimal("NaN")
    if not holdout.is_finite():
        raise UsageError(
            f"hold-out {text!r} is not a number",
            where=where,
            fix="e.g. 0.10 for 10 % of the members",
        )
    return holdout


def parse_day(text: str | None, where: str, default: date) -> date:
    """A day as typed, YYYY-MM-DD; `default` when none was."""
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"not a date: {text!r}", where=where, fix="write it as YYYY-MM-DD"
        ) from None


def new_seed() -> int:
    """The seed of a draw nobody chose: random, and kept with the campaign so the same
    hold-out can be drawn again."""
    return secrets.randbelow(2**31)


def draw_holdout(members: tuple[str, ...], share: Decimal, seed: int) -> set[str]:
    """The hold-out: round(share × members) (half up) drawn at random with `seed` from the
    members in id order, so the same seed always draws the same members."""
    count = int((share * len(members)).to_integral_value(ROUND_HALF_UP))
    return set(random.Random(seed).sample(sorted(members), count))


# -- the ledger -----------------------------------------------------------------------------


def create(
    db: Database,
    *,
    campaign_id: str,
    store: str,
    name: str | None,
    coupon: str,
    audience: Audience,
    holdout: Decimal,
    seed: int,
    starts: date,
    ends: date | None,
    by: str,
    now: str,
) -> Campaign:
    """Record a campaign and draw its hold-out; refused whole when anything is wrong."""
    if not re.match(IDENTIFIER, campaign_id):
        raise UsageError(
            f"campaign id {campaign_id!r} is not an id",
            where="cloud campaign create",
            fix="letters, digits, '.', '-' and '_', e.g. winback-2026-12",
        )
    if not re.match(COUPON, coupon):
        raise UsageError(
            f"coupon {coupon!r} is not a coupon code",
            where="--coupon",
            fix="the `coupon` of a catalog promotion: 1-32 letters, digits, '-' or '_'",
        )
    if not Decimal(0) <= holdout < 1:
        raise UsageError(
            f"hold-out {holdout} is not a share below 1",
            where="--holdout",
            fix="e.g. --holdout 0.10 for 10 % of the members",
        )
    last = ends or starts + timedelta(days=DEFAULT_DAYS - 1)
    if last < starts:
        raise UsageError(
            f"--to {last} is before --from {starts}", where="--from/--to", fix="swap them"
        )
    if db.one("SELECT 1 FROM campaign WHERE id = ?", (campaign_id,)):
        raise UsageError(
            f"campaign {campaign_id} exists already",
            where="cloud campaign create",
            fix="choose another id (cloud campaign list)",
        )
    held = draw_holdout(audience.members, holdout, seed)
    if len(held) == len(audience.members):
        raise UsageError(
            f"{audience.described}: {len(audience.members)} member(s), nobody left to treat",
            where="cloud campaign create",
            fix="aim at more members (another --segment or --members file), or a smaller --holdout",
        )
    with db.transaction():
        db.execute(
            "INSERT INTO campaign (id, store, name, coupon, audience, holdout, seed, starts, "
            "ends, created_by, created_at, published_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                campaign_id,
                store,
                name or campaign_id,
                coupon.upper(),
                audience.described,
                str(holdout),
                seed,
                str(starts),
                str(last),
                by,
                now,
            ),
        )
        db.executemany(
            "INSERT INTO campaign_member (campaign, member, holdout) VALUES (?, ?, ?)",
            [(campaign_id, m, m in held) for m in sorted(audience.members)],
        )
    return get(db, campaign_id)


def get(db: Database, campaign_id: str) -> Campaign:
    row = db.one(
        "SELECT id, store, name, coupon, audience, holdout, seed, starts, ends, created_by, "
        "created_at, published_at FROM campaign WHERE id = ?",
        (campaign_id,),
    )
    if row is None:
        raise UsageError(
            f"no campaign {campaign_id!r}",
            where="cloud campaign",
            fix="see the campaigns with `cloud campaign list`",
        )
    groups: dict[bool, list[str]] = {True: [], False: []}
    for member, holdout in db.query(
        "SELECT member, holdout FROM campaign_member WHERE campaign = ? ORDER BY member",
        (campaign_id,),
    ):
        groups[bool(holdout)].append(str(member))
    return Campaign(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        Decimal(str(row[5])),
        int(row[6]),
        date.fromisoformat(str(row[7])),
        date.fromisoformat(str(row[8])),
        str(row[9]),
        str(row[10]),
        None if row[11] is None else str(row[11]),
        tuple(groups[False]),
        tuple(groups[True]),
    )


def all_campaigns(db: Database, store: str | None = None) -> list[Campaign]:
    rows = db.query(
        "SELECT id FROM campaign" + (" WHERE store = ?" if store else "") + " ORDER BY starts, id",
        (store,) if store else (),
    )
    return [get(db, str(r[0])) for r in rows]


def coupons_given(document: dict[str, Any], campaign_id: str) -> int:
    """How many members a members document gives the campaign's coupon."""
    return sum(
        1
        for m in document["members"]
        for coupon in m.get("coupons", ())
        if coupon["campaign"] == campaign_id
    )


def mark_published(db: Database, campaign_id: str, now: str) -> Campaign:
    """The campaign's coupons go out from now: its period is counted from the first
    publication (publishing again re-sends them and keeps that moment)."""
    campaign = get(db, campaign_id)
    if campaign.starts > date.fromisoformat(now[:10]):
        raise UsageError(
            f"campaign {campaign_id} starts on {campaign.starts}",
            where="cloud campaign publish",
            fix="publish it on or after its first day (its coupons count from publication)",
        )
    if campaign.ends < date.fromisoformat(now[:10]):
        raise UsageError(
            f"campaign {campaign_id} ended on {campaign.ends}",
            where="cloud campaign publish",
            fix="create a new campaign for new days",
        )
    with db.transaction():
        db.execute(
            "UPDATE campaign SET published_at = ? WHERE id = ? AND published_at IS NULL",
            (now, campaign_id),
        )
    return get(db, campaign_id)


# -- the members document's coupons ---------------------------------------------------------


def redeemed(db: Database, store: str, since: str = "") -> set[tuple[str, str]]:
    """(campaign, member) of every redemption in the store's ingested sale records
    journalled at or after `since` (a UTC time; the index on (kind, time) finds them)."""
    found: set[tuple[str, str]] = set()
    for (body,) in db.query(
        "SELECT body FROM journal_record WHERE kind = 'sale' AND time >= ? AND store = ? "
        "AND body LIKE ?",
        (since, store, '%"redeemed_coupons"%'),
    ):
        sale = SaleBody.model_validate_json(body)
        if sale.member is not None:
            found.update((c, sale.member.id) for c in sale.redeemed_coupons or ())
    return found


def coupons_for(db: Database, store: str, now: str) -> dict[str, list[dict[str, str]]]:
    """member -> the personal coupons the store's members document gives them: of every
    published campaign still running, to its treated members who have not redeemed it."""
    today = now[:10]
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    running = db.one(
        "SELECT min(published_at) FROM campaign WHERE store = ? AND published_at IS NOT NULL "
        "AND ends >= ?",
        (store, today),
    )
    if running is None or running[0] is None:
        return out  # no campaign running: no sale records to read
    spent = redeemed(db, store, str(running[0]))
    for campaign, coupon, ends, member in db.query(
        "SELECT c.id, c.coupon, c.ends, m.member FROM campaign c JOIN campaign_member m "
        "ON m.campaign = c.id WHERE c.store = ? AND c.published_at IS NOT NULL AND c.ends >= ? "
        "AND m.holdout = ? ORDER BY c.id, m.member",
        (store, today, False),
    ):
        if (str(campaign), str(member)) not in spent:
            out[str(member)].append(
                {"code": str(coupon), "campaign": str(campaign), "until": str(ends)}
            )
    return out


# -- the effect ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberFigures:
    baskets: int
    spend: Decimal
    redeemed: bool


def figures(db: Database, campaign: Campaign) -> dict[str, MemberFigures]:
    """Each campaign member's tickets, net spend (sales minus refunds) and whether they
    redeemed, from the store's records journalled from the first publication to the last
    day (business days); every member of both groups is there, zero when they bought
    nothing."""
    baskets: dict[str, int] = defaultdict(int)
    spend: dict[str, Decimal] = defaultdict(lambda: ZERO)
    used: set[str] = set()
    members = set(campaign.treated) | set(campaign.held_out)
    if campaign.published_at is not None:
        for kind, body in db.query(
            "SELECT kind, body FROM journal_record WHERE store = ? AND kind IN ('sale', 'refund') "
            "AND time >= ? ORDER BY box, seq",
            (campaign.store, campaign.published_at),
        ):
            record = RECORD_MODELS[str(kind)].model_validate_json(body)
            member = getattr(record, "member", None)
            if member is None or member.id not in members:
                continue
            if str(getattr(record, "business_day", "")) > str(campaign.ends):
                continue
            if isinstance(record, SaleBody):
                baskets[member.id] += 1
                spend[member.id] += record.totals.total
                if campaign.id in (record.redeemed_coupons or ()):
                    used.add(member.id)
            elif isinstance(record, RefundBody):
                spend[member.id] -= record.total
    return {m: MemberFigures(baskets[m], spend[m], m in used) for m in sorted(members)}


def effect(db: Database, campaign: Campaign) -> Table:
    """Treated against hold-out: members, redemption rate, baskets and spend per member,
    each difference with its 95 % interval (Welch for the means, the normal approximation
    for the rate)."""
    each = figures(db, campaign)
    treated = [each[m] for m in campaign.treated]
    held = [each[m] for m in campaign.held_out]
    n1, n0 = len(treated), len(held)
    table = Table(
        f"Campaign {campaign.id}: treated vs hold-out",
        ["measure", "treated", "hold-out", "difference", "95% low", "95% high"],
    )
    table.rows.append(["members", n1, n0, n1 - n0, "", ""])
    hits1, hits0 = sum(f.redeemed for f in treated), sum(f.redeemed for f in held)
    rate = _rate_row(hits1, n1, hits0, n0)
    table.rows.append(rate)
    b1 = [Decimal(f.baskets) for f in treated]
    b0 = [Decimal(f.baskets) for f in held]
    table.rows.append(_mean_row("baskets per member", b1, b0))
    table.rows.append(
        _mean_row("spend per member", [f.spend for f in treated], [f.spend for f in held])
    )
    period = (
        f"from {campaign.published_at} (published) to {campaign.ends} (last day)"
        if campaign.published_at
        else "not published yet: no period, no figures"
    )
    table.notes = [
        f"{campaign.audience}; hold-out {campaign.holdout} drawn with seed {campaign.seed}",
        f"period {period}",
        "the hold-out is offered no coupon: its redemption rate is 0 by design",
        "95 % intervals: Welch's t for the means, the normal approximation for the rate; "
        "'n/a' where a group is too small (fewer than 2 members)",
    ]
    return table


def _rate_row(hits1: int, n1: int, hits0: int, n0: int) -> list[str | int | Decimal]:
    p1 = _percent(hits1, n1)
    p0 = _percent(hits0, n0)
    if n1 < 1 or n0 < 1:
        return ["redemption rate %", p1, p0, "n/a", "n/a", "n/a"]
    got = intervals.proportions(hits1, n1, hits0, n0)
    return [
        "redemption rate %",
        p1,
        p0,
        _fixed(got.difference * 100, "0.1"),
        _fixed(got.low * 100, "0.1"),
        _fixed(got.high * 100, "0.1"),
    ]


def _mean_row(label: str, treated: list[Decimal], held: list[Decimal]) -> list[str | int | Decimal]:
    m1 = average(sum(treated, Decimal(0)), len(treated))
    m0 = average(sum(held, Decimal(0)), len(held))
    if len(treated) < 2 or len(held) < 2:
        return [label, m1, m0, m1 - m0, "n/a", "n/a"]
    got = intervals.welch([float(v) for v in treated], [float(v) for v in held])
    return [label, m1, m0, m1 - m0, _fixed(got.low, "0.01"), _fixed(got.high, "0.01")]


def _percent(hits: int, n: int) -> Decimal:
    if not n:
        return Decimal("0.0")
    return (Decimal(100 * hits) / n).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _fixed(value: float, places: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places), ROUND_HALF_UP)
