"""Notifications about alerts: webhooks (generic JSON, WeCom and DingTalk group robots) and
e-mail (SMTP), at most so many a minute per channel, nothing lost and nothing sent twice.

Owns the `notify_channel` and `notification` tables (migration 6) and the `[notify]`
settings. A delivery pass (`deliver`, run by `cloud notify run`) queues a `raised`
notification for each new alert a channel's filter takes and a `cleared` one when such an
alert is cleared, then sends what is pending, oldest first, within the channel's rate: when
more is waiting than the rate allows, the last message it may send this minute is a
digest of everything else (so a flood of alerts is one message, not a lost hundred). A
send that fails stays pending and is tried again at the next pass (`max_attempts`, then
`failed`). Time is passed in; the senders are the only I/O.

Formats, as the providers document them: WeCom `{"msgtype": "markdown", "markdown":
{"content": ...}}` to `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`; DingTalk
`{"msgtype": "markdown", "markdown": {"title", "text"}}` to `.../robot/send?access_token=T`,
signed when the robot has a secret (`timestamp` in ms and `sign` =
urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))); both answer
`{"errcode": 0}` when they took it, and each robot takes at most 20 messages a minute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.alerts import SEVERITIES, Alert, list_alerts
from cloud.clock import iso
from cloud.db import Database
from gateway.errors import UsageError

ChannelType = Literal["webhook", "wecom", "dingtalk", "email"]
Event = Literal["raised", "cleared"]


class SmtpSettings(BaseModel):
    """`[notify.smtp]`: the mail server e-mail channels send through."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(description="SMTP server")
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="upgrade the connection with STARTTLS")
    username: str | None = None
    password_env: str | None = Field(
        None, description="environment variable holding the password (never in the file)"
    )
    sender: str = Field(description="From: address")
    timeout: float = Field(10.0, gt=0)


class Channel(BaseModel):
    """`[[notify.channels]]`: one place alerts are sent to, and which alerts."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="unique; kept in the DB")
    type: ChannelType
    url: str | None = Field(None, description="webhook, wecom, dingtalk: where to POST")
    secret_env: str | None = Field(
        None, description="dingtalk: environment variable holding the robot's signing secret"
    )
    to: list[str] = Field(default_factory=list, description="email: recipients")
    min_severity: Literal["info", "warning", "error", "critical"] = "error"
    kinds: list[str] = Field(
        default_factory=list, description="only alerts whose kind starts with one of these"
    )
    stores: list[str] = Field(default_factory=list, description="only alerts of these stores")
    cleared: bool = Field(True, description="also say when an alert is cleared")
    max_per_minute: int = Field(20, ge=1, le=600, description="WeCom/DingTalk allow 20")
    max_attempts: int = Field(10, ge=1)
    timeout: float = Field(10.0, gt=0)

    def takes(self, alert: Alert) -> bool:
        return (
            SEVERITIES.index(alert.severity) >= SEVERITIES.index(self.min_severity)
            and (not self.kinds or any(alert.kind.startswith(k) for k in self.kinds))
            and (not self.stores or alert.store in self.stores)
        )


class NotifySettings(BaseModel):
    """`[notify]` of head office's settings."""

    model_config = ConfigDict(extra="forbid")
    channels: list[Channel] = Field(default_factory=list)
    smtp: SmtpSettings | None = None
    interval: float = Field(15.0, gt=0, description="seconds between passes of `notify run`")


class SendFailed(Exception):
    """A channel did not take a message; the text says why (kept as `last_error`)."""


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # plain lines, readable on their own
    alerts: tuple[int, ...]  # the alerts it is about (the generic webhook's `alerts`)


Sender = Callable[[Channel, Message, datetime], None]


# -- what is said ----------------------------------------------------------------------


def message_for(alert: Alert, event: Event) -> Message:
    """One alert, readable on its own: what, where, when, and its id to act on it."""
    where = "/".join(p for p in (alert.store, alert.box) if p) or "head office"
    state = "CLEARED" if event == "cleared" else alert.severity.upper()
    title = f"[{state}] {alert.kind} at {where}"
    lines = [title, alert.message, f"alert {alert.id}, raised {alert.raised_at}"]
    if event == "cleared":
        lines.append(f"cleared {alert.cleared_at}")
    if alert.seq is not None:
        lines.append(f"journal record {alert.seq}")
    lines.append(f"see: cloud alerts show {alert.id}")
    return Message(title, "\n".join(lines), (alert.id,))


def digest_for(items: list[tuple[Alert, Event]]) -> Message:
    """Everything the rate leaves no room for, in one message."""
    title = f"{len(items)} more alerts (rate limit)"
    lines = [title]
    for alert, event in items[:20]:
        lines.append(message_for(alert, event).title + f" (alert {alert.id})")
    if len(items) > 20:
        lines.append(f"... and {len(items) - 20} more: cloud alerts --all")
    return Message(title, "\n".join(lines), tuple(alert.id for alert, _ in items))


def payload(channel: Channel, message: Message) -> dict[str, object]:
    """The JSON body each kind of webhook takes."""
    if channel.type == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _markdown(message)}}
    if channel.type == "dingtalk":
        markdown = {"title": message.title, "text": _markdown(message)}
        return {"msgtype": "markdown", "markdown": markdown}
    return {"title": message.title, "text": message.text, "alerts": list(message.alerts)}


def _markdown(message: Message) -> str:
    first, *rest = message.text.split("\n")
    return "\n".join([f"**{first}**", *(f"> {line}" for line in rest)])


def dingtalk_url(url: str, secret: str, at: datetime) -> str:
    """The robot URL with the signature DingTalk asks of a robot that has a secret."""
    timestamp = str(int(at.timestamp() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp}&sign={sign}"


# -- sending ---------------------------------------------------------------------------


def send_test(settings: NotifySettings, name: str, at: datetime, sent_by: str) -> Channel:
    """A test message to the channel called `name`, sent now through the real sender (for
    `cloud notify test` and the alerts page): the channel, or a clear error when there is
    no such channel or it did not take the message."""
    channel = next((c for c in settings.channels if c.name == name), None)
    if channel is None:
        names = ", ".join(c.name for c in settings.channels) or "none is configured"
        raise UsageError(
            f"no channel {name!r}", where="[[notify.channels]]", fix=f"one of: {names}"
        )
    message = Message(
        "storegate test notification",
        f"storegate test notification\nsent to {channel.name} by {sent_by}",
        (),
    )
    try:
        real_sender(settings.smtp)(channel, message, at)
    except SendFailed as exc:
        raise UsageError(
            f"{channel.name} did not take it: {exc}",
            where=f"[[notify.channels]] {channel.name}",
            fix="check its url / recipients and the server",
        ) from exc
    return channel


def real_sender(smtp: SmtpSettings | None) -> Sender:
    """Send over the network: HTTP POST for webhooks, SMTP for e-mail."""

    def send(channel: Channel, message: Message, at: datetime) -> None:
        if channel.type == "email":
            _mail(smtp, channel, message)
        else:
            _post(channel, message, at)

    return send


def _post(channel: Channel, message: Message, at: datetime) -> None:
    assert channel.url is not None
    url = channel.url
    if channel.type == "dingtalk" and channel.secret_env:
        secret = os.environ.get(channel.secret_env)
        if not secret:
            raise SendFailed(f"${channel.secret_env} (the robot's secret) is not set")
        url = dingtalk_url(url, secret, at)
    body = json.dumps(payload(channel, message), ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=channel.timeout) as answer:
            text = answer.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise SendFailed(f"HTTP {exc.code} from {_host(url)}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SendFailed(f"{_host(url)}: {exc}") from exc
    if channel.type in ("wecom", "dingtalk"):
        try:
            code = json.loads(text).get("errcode")
        except (ValueError, AttributeError):
            code = None
        if code != 0:
            raise SendFailed(f"{channel.type} refused it: {text[:200]}")


def _host(url: str) -> str:
    """A URL without its query (robot keys and tokens live there)."""
    return urllib.parse.urlsplit(url)._replace(query="").geturl()


def _mail(smtp: SmtpSettings | None, channel: Channel, message: Message) -> None:
    if smtp is None:
        raise SendFailed("no [notify.smtp] server is configured")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = smtp.sender, ", ".join(channel.to), message.title
    mail.set_content(message.text)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username:
                server.login(smtp.username, os.environ.get(smtp.password_env or "", ""))
            server.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"SMTP {smtp.host}:{smtp.port}: {exc}") from exc


# -- a delivery pass -------------------------------------------------------------------


@dataclass
class PassReport:
    sent: int = 0
    digested: int = 0
    failed: int = 0
    waiting: int = 0


def deliver(
    db: Database, settings: NotifySettings, now: datetime, send: Sender
) -> dict[str, PassReport]:
    """Queue what is new for each channel, then send within its rate; per channel, what
    happened."""
    reports = {}
    for channel in settings.channels:
        _queue(db, channel, iso(now))
        reports[channel.name] = _send_pending(db, channel, now, send)
    return reports


def _queue(db: Database, channel: Channel, now: str) -> None:
    """New alerts since the channel was first seen (an added channel does not replay the
    history), and the clearing of those it told about."""
    with db.transaction():
        row = db.one("SELECT after_alert FROM notify_channel WHERE name = ?", (channel.name,))
        if row is None:
            newest = db.one("SELECT coalesce(max(id), 0) FROM alert")
            after = int(newest[0]) if newest else 0
            db.execute(
                "INSERT INTO notify_channel (name, after_alert, created_at) VALUES (?, ?, ?)",
                (channel.name, after, now),
            )
        else:
            after = int(row[0])
        queued = {
            (int(a), str(e))
            for a, e in db.query(
                "SELECT alert, event FROM notification WHERE channel = ?", (channel.name,)
            )
        }
        for alert in list_alerts(db, include_acknowledged=True, after_id=after):
            if not channel.takes(alert):
                continue
            events: list[Event] = ["raised"]
            if alert.cleared_at and channel.cleared:
                events.append("cleared")
            for event in events:
                if (alert.id, event) not in queued:
                    db.execute(
                        "INSERT INTO notification (channel, alert, event, state, queued_at) "
                        "VALUES (?, ?, ?, 'pending', ?)",
                        (channel.name, alert.id, event, now),
                    )


def _send_pending(db: Database, channel: Channel, now: datetime, send: Sender) -> PassReport:
    report = PassReport()
    pending = db.query(
        "SELECT alert, event, attempts FROM notification WHERE channel = ? AND state = "
        "'pending' ORDER BY alert, event DESC",
        (channel.name,),
    )
    if not pending:
        return report
    minute_ago = iso(now - timedelta(minutes=1))
    used = db.one(
        "SELECT count(DISTINCT sent_at) FROM notification WHERE channel = ? AND sent_at >= ?",
        (channel.name, minute_ago),
    )
    budget = channel.max_per_minute - (int(used[0]) if used else 0)
    first = min(int(a) for a, _, _ in pending)
    alerts = {a.id: a for a in list_alerts(db, include_acknowledged=True, after_id=first - 1)}
    items = [(alerts[int(a)], _event(e), int(n)) for a, e, n in pending if int(a) in alerts]
    if budget <= 0:
        report.waiting = len(items)
        return report
    singles = items if len(items) <= budget else items[: budget - 1]
    rest = [] if len(items) <= budget else items[budget - 1 :]
    stamp = now
    for done, (alert, event, attempts) in enumerate(singles):
        stamp += timedelta(milliseconds=1)  # one distinct sent_at per message sent
        message = message_for(alert, event)
        if not _try(db, channel, send, message, [(alert, event, attempts)], stamp):
            # the receiver is down: the rest waits for the next pass, untried
            report.failed = len(items) - done
            return report
        report.sent += 1
    if rest:
        stamp += timedelta(milliseconds=1)
        digest = digest_for([(a, e) for a, e, _ in rest])
        if _try(db, channel, send, digest, rest, stamp):
            report.digested = len(rest)
        else:
            report.failed += len(rest)
    return report


def _try(
    db: Database,
    channel: Channel,
    send: Sender,
    message: Message,
    covers: list[tuple[Alert, Event, int]],
    at: datetime,
) -> int:
    """Send one message covering `covers`; 1 when it went, 0 when it stays pending."""
    try:
        send(channel, message, at)
    except SendFailed as exc:
        with db.transaction():
            for alert, event, attempts in covers:
                state = "failed" if attempts + 1 >= channel.max_attempts else "pending"
                db.execute(
                    "UPDATE notification SET attempts = attempts + 1, last_error = ?, "
                    "state = ? WHERE channel = ? AND alert = ? AND event = ?",
                    (str(exc), state, channel.name, alert.id, event),
                )
        return 0
    with db.transaction():
        for alert, event, _ in covers:
            db.execute(
                "UPDATE notification SET attempts = attempts + 1, state = 'sent', sent_at = ?, "
                "last_error = NULL WHERE channel = ? AND alert = ? AND event = ?",
                (iso(at), channel.name, alert.id, event),
            )
    return 1


def _event(text: object) -> Event:
    return "cleared" if text == "cleared" else "raised"


def deliveries(db: Database, alert_id: int) -> list[tuple[str, str, str, int, str | None]]:
    """(channel, event, state, attempts, last error) of an alert's notifications."""
    rows = db.query(
        "SELECT channel, event, state, attempts, last_error FROM notification WHERE alert = ? "
        "ORDER BY channel, event DESC",
        (alert_id,),
    )
    return [
        (str(c), str(e), str(s), int(n), None if x is None else str(x)) for c, e, s, n, x in rows
    ]
