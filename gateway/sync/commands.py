"""Commands from head office: verify, run at most once per id before expiry, answer.

A command is answered on `.../cmd/result` whatever happens (run, failed, refused, expired,
unknown). At most once: the id is written to the sync store as `running` *before* the
handler runs, so a crash mid-command leaves it `interrupted`, never run twice; a
re-delivered id gets the stored answer again. An expired command never runs.

Handlers live in a `CommandRegistry` the daemon fills (ping, sync_now, set_log_level here;
print_test_page, reload_config, report_x, report_z, backup_now by the rooms that own them).
A handler returns a JSON-able dict or raises `CommandFailed`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.sync.downlink import parse_json, validate
from gateway.sync.errors import CommandFailed, DownlinkRefused
from gateway.sync.payloads import CommandResult, CommandStatus, SignedCommand
from gateway.sync.signing import TrustedKeys
from gateway.sync.store import SyncStore
from gateway.sync.timefmt import iso, parse_instant
from gateway.sync.topics import Topics

log = logging.getLogger(__name__)

CommandHandler = Callable[[Mapping[str, Any]], dict[str, Any]]
# Ids are remembered this long after their expiry; a replay later still fails the expiry.
FORGET_AFTER = timedelta(days=7)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class CommandRegistry:
    """Command name -> handler; names are the wire names (`print_test_page`)."""

    def __init__(self) -> None:
        self._handlers: dict[str, CommandHandler] = {}

    def register(self, name: str, handler: CommandHandler) -> None:
        if name in self._handlers:
            raise ValueError(f"command {name!r} is already registered")
        self._handlers[name] = handler

    def get(self, name: str) -> CommandHandler | None:
        return self._handlers.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)


def builtin_commands(
    registry: CommandRegistry, *, sync_now: Callable[[], None], clock: Callable[[], datetime]
) -> CommandRegistry:
    """Register the commands sync itself serves."""
    registry.register("ping", lambda args: {"pong": True, "time": iso(clock())})

    def _sync_now(args: Mapping[str, Any]) -> dict[str, Any]:
        sync_now()
        return {"scheduled": True}

    def _set_log_level(args: Mapping[str, Any]) -> dict[str, Any]:
        level = str(args.get("level", "")).upper()
        if level not in LOG_LEVELS:
            raise CommandFailed(
                f"unknown log level {args.get('level')!r}",
                fix=f"use one of {', '.join(LOG_LEVELS)}",
            )
        logger = str(args.get("logger", "gateway"))
        logging.getLogger(logger).setLevel(level)
        return {"logger": logger, "level": level}

    registry.register("sync_now", _sync_now)
    registry.register("set_log_level", _set_log_level)
    return registry


@dataclass(frozen=True)
class CommandAnswer:
    result: CommandResult
    refusal: DownlinkRefused | None = None  # also reported on .../events when set


class CommandDownlink:
    """Turns one `.../cmd` payload into exactly one `CommandResult`."""

    def __init__(
        self,
        *,
        topics: Topics,
        keys: TrustedKeys,
        store: SyncStore,
        registry: CommandRegistry,
        max_bytes: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._topics = topics
        self._keys = keys
        self._store = store
        self._registry = registry
        self._max_bytes = max_bytes
        self._clock = clock

    def receive(self, payload: bytes) -> CommandAnswer | None:
        if not payload:
            return None
        where = self._topics.command
        data: Any = None
        try:
            data = parse_json(payload, self._max_bytes, where)
            command = validate(SignedCommand, data, where)
            self._check(command, data, where)
        except DownlinkRefused as refusal:
            ident = data.get("id") if isinstance(data, dict) else None
            name = data.get("name") if isinstance(data, dict) else None
            return CommandAnswer(
                self._answer(
                    str(ident) if ident else "", name, "refused", error=refusal.describe()
                ),
                refusal,
            )
        return CommandAnswer(self._run_once(command))

    def _check(self, command: SignedCommand, data: Mapping[str, Any], where: str) -> None:
        if command.store != self._topics.store or command.box != self._topics.box:
            raise DownlinkRefused(
                "wrong_target",
                f"command for {command.store}/{command.box}",
                where=where,
                fix="head office must address the command to this box's topic",
            )
        self._keys.verify(data, where)
        try:
            parse_instant(command.expires_at)
        except ValueError as exc:
            raise DownlinkRefused(
                "schema", f"expires_at: {exc}", where=where, fix="write expires_at as ISO-8601 UTC"
            ) from exc

    def _run_once(self, command: SignedCommand) -> CommandResult:
        now = self._clock()
        expires = parse_instant(command.expires_at)
        if now >= expires:
            return self._answer(
                command.id,
                command.name,
                "expired",
                error=f"expired at {iso(expires)}; the box's time is {iso(now)}",
            )
        earlier = self._store.claim_command(command.id, command.name, iso(now), iso(expires))
        if earlier is not None:
            return self._repeat(command, earlier.status, earlier.result)
        status, result, error = self._execute(command)
        self._store.finish_command(command.id, status, {"result": result, "error": error})
        self._store.forget_commands(iso(now - FORGET_AFTER))
        return self._answer(command.id, command.name, status, result, error)

    def _execute(self, command: SignedCommand) -> tuple[CommandStatus, dict[str, Any], str | None]:
        handler = self._registry.get(command.name)
        if handler is None:
            return (
                "unknown_command",
                {},
                (
                    f"this box has no command {command.name!r}; it "
                    f"knows {', '.join(self._registry.names)}"
                ),
            )
        try:
            return "ok", handler(command.args), None
        except CommandFailed as exc:
            return "failed", {}, exc.describe()
        except Exception as exc:  # a handler bug must not take sync down; report it
            log.exception("command %s (%s) crashed", command.name, command.id)
            return "failed", {}, f"{type(exc).__name__}: {exc}"

    def _repeat(
        self, command: SignedCommand, status: str, stored: dict[str, Any] | None
    ) -> CommandResult:
        if status == "running" or stored is None:
            return self._answer(
                command.id,
                command.name,
                "interrupted",
                error="the box stopped while this command ran; not run again",
            )
        return self._answer(
            command.id,
            command.name,
            status,  # type: ignore[arg-type]
            stored.get("result") or {},
            stored.get("error"),
        )

    def _answer(
        self,
        ident: str,
        name: Any,
        status: CommandStatus,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> CommandResult:
        return CommandResult(
            id=ident,
            name=name if isinstance(name, str) else None,
            status=status,
            time=iso(self._clock()),
            result=result or {},
            error=error,
        )
