"""The update state machine's table, exhaustively: every (state, input) pair either leads
where the table of the issue says, with its effect, or is refused naming both."""

from __future__ import annotations

import itertools

import pytest

from gateway.updates.machine import (
    TERMINAL,
    TRANSITIONS,
    Effect,
    Input,
    State,
    Step,
    UpdateStepError,
    step,
)

S, I, E = State, Input, Effect
EXPECTED: dict[tuple[State, Input], tuple[Effect, State]] = {
    (S.IDLE, I.DOWNLOADED): (E.VERIFY, S.DOWNLOADED),
    (S.IDLE, I.DOWNLOAD_FAILED): (E.DISCARD, S.FAILED),
    (S.DOWNLOADED, I.VERIFIED): (E.INSTALL, S.VERIFIED),
    (S.DOWNLOADED, I.REFUSED): (E.DISCARD, S.FAILED),
    (S.VERIFIED, I.INSTALL_STARTED): (E.NOTHING, S.INSTALLING),
    (S.INSTALLING, I.INSTALLED): (E.TAKE_LOCK, S.INSTALLED),
    (S.INSTALLING, I.INSTALL_FAILED): (E.DISCARD, S.FAILED),
    (S.INSTALLED, I.LOCK_BUSY): (E.WAIT_FOR_LOCK, S.INSTALLED),
    (S.INSTALLED, I.LOCK_TAKEN): (E.SWITCH, S.SWITCHING),
    (S.SWITCHING, I.SWITCHED): (E.START_AND_CHECK, S.CHECKING),
    (S.SWITCHING, I.SWITCH_FAILED): (E.SWITCH_BACK, S.ROLLING_BACK),
    (S.CHECKING, I.READY): (E.KEEP, S.DONE),
    (S.CHECKING, I.NOT_READY): (E.SWITCH_BACK, S.ROLLING_BACK),
    (S.ROLLING_BACK, I.OLD_READY): (E.DISCARD, S.ROLLED_BACK),
    (S.ROLLING_BACK, I.OLD_NOT_READY): (E.ALERT, S.FAILED),
}


@pytest.mark.parametrize(("state", "given"), list(itertools.product(State, Input)))
def test_every_state_and_input(state: State, given: Input) -> None:
    if (state, given) in EXPECTED:
        effect, after = EXPECTED[(state, given)]
        assert step(state, given) == Step(effect, after)
        return
    with pytest.raises(UpdateStepError) as refused:
        step(state, given)
    assert f"input {given.value!r} is not valid in state {state.value!r}" in refused.value.what


def test_the_table_is_exactly_the_expected_one() -> None:
    assert {k: (v.effect, v.next) for k, v in TRANSITIONS.items()} == EXPECTED


def test_the_ends_take_nothing_and_every_other_state_leads_to_an_end() -> None:
    assert not [key for key in TRANSITIONS if key[0] in TERMINAL]
    reaches = {s: {t.next for (f, _), t in TRANSITIONS.items() if f is s} for s in State}
    for start in set(State) - TERMINAL:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            seen.add(here)
            todo += [n for n in reaches[here] if n not in seen]
        assert seen & TERMINAL, f"{start} can never end"
    assert {s for s in State if s is not S.IDLE} == set().union(*reaches.values())


def test_the_happy_path_and_a_rollback_walk_through_the_table() -> None:
    happy = [I.DOWNLOADED, I.VERIFIED, I.INSTALL_STARTED, I.INSTALLED, I.LOCK_BUSY]
    happy += [I.LOCK_TAKEN, I.SWITCHED, I.READY]
    state = S.IDLE
    for given in happy:
        state = step(state, given).next
    assert state is S.DONE
    state = S.CHECKING
    assert step(state, I.NOT_READY).effect is E.SWITCH_BACK
    assert step(S.ROLLING_BACK, I.OLD_READY).next is S.ROLLED_BACK
