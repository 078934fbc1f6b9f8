"""Which business day or shift an X or Z report may be asked for: the one rule both the
direct CLI (`gateway report`) and the running daemon (`z_report` on the control socket)
apply, before anything is read for the report or written.

Pure: no SQLite, no clock. `today` and what the till holds are passed in. A refusal is a
`ReportInputError` (exit status 2): the person asked for something that is not a
business day of this till, so nothing is printed as if it were one.

The rules (docs/lane.md, "X and Z reports"):
- a day is a real calendar date written `YYYY-MM-DD` (`2026-12-2` and `2026-02-30` are not);
- a day after today (the store's local date) has no figures yet and can never be closed;
- once journal retention has pruned records, the oldest business day still indexed on the
  till (`kept_from`) may have lost some of its records, and every earlier day all of them:
  those days are refused, their figures are at head office (`cloud report`). The rule
  follows what was actually pruned, not the configured number of days, so a day is never
  refused for records the till still holds;
- a Z for a day on which this till recorded no sale, refund, void or no-sale is refused
  unless the person confirms it (`--empty-day`): a permanent zero day close for a mistyped
  date would stand in the journal for good. An X of such a day just shows zeros;
- a shift asked for by id must be one this till opened.
"""

from __future__ import annotations

import re
from datetime import date

from gateway.errors import UsageError

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReportInputError(UsageError):
    """A report asked for a day or shift this till cannot report on."""


def business_day(
    text: str, today: date, *, kept_from: str | None = None, where: str = "gateway report"
) -> str:
    """`text` as a business day a report may cover: a real date, not after `today`, and
    after `kept_from` (the oldest business day indexed, once records have been pruned)."""
    if not ISO_DAY.match(text):
        raise ReportInputError(
            f"{text!r} is not a date written YYYY-MM-DD",
            where=where,
            fix=f"e.g. --date {today.isoformat()} (two digits for month and day)",
        )
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise ReportInputError(
            f"{text} is not a calendar date ({exc})", where=where, fix="check the month and the day"
        ) from exc
    if day > today:
        raise ReportInputError(
            f"{text} is after today ({today.isoformat()}): it has no figures and cannot be closed",
            where=where,
            fix="give today's date or an earlier one (check the year)",
        )
    if kept_from is not None and text <= kept_from:
        raise ReportInputError(
            f"{text} is older than the journal's retention period: records up to "
            f"{kept_from} have been pruned from this till, in part or in full",
            where=where,
            fix="head office holds every record: use `cloud report` for that day",
        )
    return text


def refuse_empty_day(day: str, *, where: str = "gateway report z") -> ReportInputError:
    """The refusal of a Z for a day without trading, when it was not confirmed."""
    return ReportInputError(
        f"this till recorded no sale, refund, void or no-sale on {day}",
        where=where,
        fix="check the date; to close a day without trading on purpose, add --empty-day",
    )


def refuse_unknown_shift(shift_id: str, *, where: str = "gateway report x") -> ReportInputError:
    return ReportInputError(
        f"this till never opened a shift {shift_id!r}",
        where=where,
        fix="shift ids look like box-1-S00012: see the shift open "
        "receipt, or leave out --shift for the shift in progress",
    )
