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

S, In, E = State, Input, Effect
EXPECTED: dict[tuple[State, Input], tuple[Effect, State]] = {
    (S.IDLE, In.DOWNLOADED): (E.VERIFY, S.DOWNLOADED),
    (S.IDLE, In.DOWNLOAD_FAILED): (E.DISCARD, S.FAILED),
    (S.IDLE, In.REFUSED): (E.DISCARD, S.FAILED),
    (S.DOWNLOADED, In.VERIFIED): (E.INSTALL, S.VERIFIED),
    (S.DOWNLOADED, In.REFUSED): (E.DISCARD, S.FAILED),
    (S.VERIFIED, In.INSTALL_STARTED): (E.NOTHING, S.INSTALLING),
    (S.INSTALLING, In.INSTALLED): (E.TAKE_LOCK, S.INSTALLED),
    (S.INSTALLING, In.INSTALL_FAILED): (E.DISCARD, S.FAILED),
    (S.INSTALLED, In.LOCK_BUSY): (E.WAIT_FOR_LOCK, S.INSTALLED),
    (S.INSTALLED, In.LOCK_TAKEN): (E.SWITCH, S.SWITCHING),
    (S.SWITCHING, In.SWITCHED): (E.START_AND_CHECK, S.CHECKING),
    (S.SWITCHING, In.SWITCH_FAILED): (E.SWITCH_BACK, S.ROLLING_BACK),
    (S.CHECKING, In.READY): (E.KEEP, S.DONE),
    (S.CHECKING, In.NOT_READY): (E.SWITCH_BACK, S.ROLLING_BACK),
    (S.ROLLING_BACK, In.OLD_READY): (E.DISCARD, S.ROLLED_BACK),
    (S.ROLLING_BACK, In.OLD_NOT_READY): (E.ALERT, S.FAILED),
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
    happy = [In.DOWNLOADED, In.VERIFIED, In.INSTALL_STARTED, In.INSTALLED, In.LOCK_BUSY]
    happy += [In.LOCK_TAKEN, In.SWITCHED, In.READY]
    state = S.IDLE
    for given in happy:
        state = step(state, given).next
    assert state is S.DONE
    state = S.CHECKING
    assert step(state, In.NOT_READY).effect is E.SWITCH_BACK
    assert step(S.ROLLING_BACK, In.OLD_READY).next is S.ROLLED_BACK
