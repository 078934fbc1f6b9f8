"""The update state machine: one table of (state, input) -> (effect, next state).

Theory of operation. An update runs through `idle -> downloaded -> verified -> installing
-> installed -> switching -> checking -> done`. Each arrow is taken when the adapter that
did the work reports its result as an `Input`; the table says whether that input is
allowed in the state, where it leads and which `Effect` the caller performs next. A
missing entry is one precise `UpdateStepError` naming the input and the state. Nothing
here downloads, installs, switches, restarts or journals: the caller
(`gateway.updates.agent`) does, and journals each step; so this file can be tested
exhaustively and has no I/O, no clock and no threads.

The ends: `done` (the new version runs and answered its health check), `rolled_back`
(it did not become ready in time: the `current` link was switched back and the old
version restarted and answered), `failed` (nothing was switched: the bundle was refused,
or could not be fetched or installed; or, worst, the old version did not come back
either, which needs a technician). `installed` waits for the update lock as long as a
sale or a payment is open (`lock_busy` keeps it there). The one state beyond the
issue's list is `rolling_back`, between a failed check and `rolled_back`, because the
old version's own restart and check take time and can fail too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.errors import StoregateError


class State(StrEnum):
    IDLE = "idle"  # an update was offered; nothing fetched yet
    DOWNLOADED = "downloaded"  # the bundle's files are on the box
    VERIFIED = "verified"  # signature and every hash checked
    INSTALLING = "installing"  # a new virtual environment is being built
    INSTALLED = "installed"  # the new environment is complete; waiting for the update lock
    SWITCHING = "switching"  # the daemon stopped between sales; `current` is being switched
    CHECKING = "checking"  # the new version was started; waiting for it to be ready
    ROLLING_BACK = "rolling_back"  # it was not: the old version is being restored
    DONE = "done"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


TERMINAL = frozenset({State.DONE, State.ROLLED_BACK, State.FAILED})


class Input(StrEnum):
    DOWNLOADED = "downloaded"
    DOWNLOAD_FAILED = "download_failed"
    VERIFIED = "verified"
    REFUSED = "refused"  # a forged, altered or unsuitable bundle
    INSTALL_STARTED = "install_started"
    INSTALLED = "installed"
    INSTALL_FAILED = "install_failed"
    LOCK_BUSY = "lock_busy"  # a sale or a payment is open
    LOCK_TAKEN = "lock_taken"  # the daemon stopped between sales
    SWITCHED = "switched"
    SWITCH_FAILED = "switch_failed"
    READY = "ready"
    NOT_READY = "not_ready"
    OLD_READY = "old_ready"
    OLD_NOT_READY = "old_not_ready"


class Effect(StrEnum):
    VERIFY = "verify"  # check the manifest's signature and every file's hash
    INSTALL = "install"  # build the new virtual environment
    NOTHING = "nothing"  # wait for the running work's result
    DISCARD = "discard"  # remove what was fetched or built; the running version stays
    TAKE_LOCK = "take_lock"  # ask the daemon to stop between sales
    WAIT_FOR_LOCK = "wait_for_lock"  # a sale is open: ask again later
    SWITCH = "switch"  # point `current` at the new environment
    START_AND_CHECK = "start_and_check"  # restart the service, wait for "ready"
    SWITCH_BACK = "switch_back"  # point `current` at the old environment, restart, check
    KEEP = "keep"  # the new version stays; the old environment is kept for the next rollback
    ALERT = "alert"  # nothing runs: a technician must come


@dataclass(frozen=True)
class Step:
    effect: Effect
    next: State


TRANSITIONS: dict[tuple[State, Input], Step] = {
    (State.IDLE, Input.DOWNLOADED): Step(Effect.VERIFY, State.DOWNLOADED),
    (State.IDLE, Input.DOWNLOAD_FAILED): Step(Effect.DISCARD, State.FAILED),
    # The order's own manifest is forged or unsuitable: refused before any download.
    (State.IDLE, Input.REFUSED): Step(Effect.DISCARD, State.FAILED),
    (State.DOWNLOADED, Input.VERIFIED): Step(Effect.INSTALL, State.VERIFIED),
    (State.DOWNLOADED, Input.REFUSED): Step(Effect.DISCARD, State.FAILED),
    (State.VERIFIED, Input.INSTALL_STARTED): Step(Effect.NOTHING, State.INSTALLING),
    (State.INSTALLING, Input.INSTALLED): Step(Effect.TAKE_LOCK, State.INSTALLED),
    (State.INSTALLING, Input.INSTALL_FAILED): Step(Effect.DISCARD, State.FAILED),
    (State.INSTALLED, Input.LOCK_BUSY): Step(Effect.WAIT_FOR_LOCK, State.INSTALLED),
    (State.INSTALLED, Input.LOCK_TAKEN): Step(Effect.SWITCH, State.SWITCHING),
    (State.SWITCHING, Input.SWITCHED): Step(Effect.START_AND_CHECK, State.CHECKING),
    # The daemon is stopped: the old version must be started again, link unchanged.
    (State.SWITCHING, Input.SWITCH_FAILED): Step(Effect.SWITCH_BACK, State.ROLLING_BACK),
    (State.CHECKING, Input.READY): Step(Effect.KEEP, State.DONE),
    (State.CHECKING, Input.NOT_READY): Step(Effect.SWITCH_BACK, State.ROLLING_BACK),
    (State.ROLLING_BACK, Input.OLD_READY): Step(Effect.DISCARD, State.ROLLED_BACK),
    (State.ROLLING_BACK, Input.OLD_NOT_READY): Step(Effect.ALERT, State.FAILED),
}

# Why an input is refused where it is (the h11 habit: one sentence, not a stack trace).
WHY_NOT: dict[State, str] = {
    State.IDLE: "nothing was fetched yet",
    State.DOWNLOADED: "the bundle is not verified yet",
    State.VERIFIED: "the installation has not started",
    State.INSTALLING: "the new environment is still being built",
    State.INSTALLED: "the switch waits for the update lock",
    State.SWITCHING: "the `current` link is being switched",
    State.CHECKING: "the new version's health check is running",
    State.ROLLING_BACK: "the old version is being restored",
    State.DONE: "the update is over",
    State.ROLLED_BACK: "the update is over",
    State.FAILED: "the update is over",
}


class UpdateStepError(StoregateError):
    """An input the table has no entry for in the current state (a bug in the caller)."""


def step(state: State, given: Input) -> Step:
    """Where `given` leads from `state`, and what the caller does next."""
    found = TRANSITIONS.get((state, given))
    if found is None:
        raise UpdateStepError(
            f"input {given.value!r} is not valid in state {state.value!r}: {WHY_NOT[state]}",
            where="update state machine",
            fix="this is a bug in the update agent; the update stops where it is",
        )
    return found
