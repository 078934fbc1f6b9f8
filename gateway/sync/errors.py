"""Errors of cloud sync a person can act on: refused downlink, broker refusals, TLS, queue.

Owns only error types. Each says what was refused, where it came from and how to fix it;
refusals of downlink messages are also reported to head office on `.../events`.
"""

from __future__ import annotations

from gateway.errors import StoregateError


class SyncError(StoregateError):
    """Base of sync failures."""


class DownlinkRefused(SyncError):
    """A downlink message (document or command) was not accepted; `reason` is a short code."""

    def __init__(
        self, reason: str, what: str, *, where: str | None = None, fix: str | None = None
    ) -> None:
        self.reason = reason
        self.version: int | None = None  # the document's, once its signature held
        super().__init__(what, where=where, fix=fix)


class DocumentRefused(SyncError):
    """A `DocumentSink` refuses a verified document (e.g. its content is inconsistent)."""


class CommandFailed(SyncError):
    """A command handler could not do what was asked; the message goes to `.../cmd/result`."""


class BrokerRefused(SyncError):
    """The broker answered CONNECT with a refusal (credentials, authorisation, protocol)."""


class BrokerUnreachable(SyncError):
    """No MQTT connection could be made (network, DNS, TLS)."""
