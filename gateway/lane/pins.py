"""PIN hashes: how a PIN is stored, on the box and in head office's staff document.

Owns the hash format only (docs/lane.md, "PINs at rest"): `PIN_COST` lanes of
scrypt(N=2^14, r=8) run at once on their own threads (hashlib frees the GIL), combined by
SHA-256 so no lane can be checked alone, tagged with the cost so an older hash is still
recognised; and the PIN policy's pure rules (`pin_problem`). The box's staff table
(`gateway.lane.staff`) and head office (`cloud staff add`, which hashes a PIN once so that
only the salted hash ever leaves head office) both use it. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass

SALT_BYTES = 16
HASH_TAG = b"scrypt-lanes:"  # then log2(N), r, lanes as one byte each, then the digest
PIN_MAX_DIGITS = 12


@dataclass(frozen=True)
class PinCost:
    """What one PIN guess costs: `lanes` scrypt(2^log2_n, r, p=1) of 128*N*r bytes each."""

    log2_n: int
    r: int
    lanes: int

    def tag(self) -> bytes:
        return HASH_TAG + bytes((self.log2_n, self.r, self.lanes))


LEGACY_COST = PinCost(14, 8, 1)  # before issue 13: one lane, stored as the bare digest
PIN_COST = PinCost(14, 8, 2)  # two cores of a Pi 4/5 for one lane's time; two stay free


def _scrypt(pin: str, salt: bytes, cost: PinCost) -> bytes:
    return hashlib.scrypt(
        pin.encode(), salt=salt, n=2**cost.log2_n, r=cost.r, p=1, dklen=32, maxmem=2**28
    )


def hash_pin(pin: str, salt: bytes, cost: PinCost = PIN_COST) -> bytes:
    """The stored form of a PIN: the cost's tag and SHA-256 over its lanes' scrypt outputs
    (lane i salted with salt + i), the lanes computed at once. The PIN itself is never kept.
    `LEGACY_COST` gives the bare single scrypt digest stored before issue 13."""
    if cost == LEGACY_COST:
        return _scrypt(pin, salt, cost)
    outputs: list[bytes] = [b""] * cost.lanes

    def lane(index: int) -> None:
        outputs[index] = _scrypt(pin, salt + bytes((index,)), cost)

    helpers = [threading.Thread(target=lane, args=(i,)) for i in range(1, cost.lanes)]
    for helper in helpers:
        helper.start()
    lane(0)
    for helper in helpers:
        helper.join()
    return cost.tag() + hashlib.sha256(b"".join(outputs)).digest()


def stored_cost(stored: bytes) -> PinCost | None:
    """The cost a stored hash was made with (None: not a hash this box knows)."""
    if len(stored) == 32:
        return LEGACY_COST
    if stored.startswith(HASH_TAG) and len(stored) == len(HASH_TAG) + 3 + 32:
        log2_n, r, lanes = stored[len(HASH_TAG) : len(HASH_TAG) + 3]
        if 10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= lanes <= 16:
            return PinCost(log2_n, r, lanes)
    return None


def trivial_pin(pin: str) -> str | None:
    """Why `pin` is among the first a guesser tries (None: it is not): one digit repeated
    (000000), a run up or down (123456, 987654, 890123) or a short block repeated (121212,
    123123). Pure; docs/lane.md "PIN policy"."""
    if len(set(pin)) == 1:
        return "it is one digit repeated"
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):
        return "its digits run up or down"
    for size in range(2, len(pin) // 2 + 1):
        if len(pin) % size == 0 and pin == pin[:size] * (len(pin) // size):
            return f"it repeats {pin[:size]}"
    return None


@dataclass(frozen=True)
class PinProblem:
    """Why a PIN is refused, and what to choose instead."""

    what: str
    fix: str


def pin_problem(pin: str, min_digits: int) -> PinProblem | None:
    """The PIN policy (docs/lane.md, "PIN policy"): `min_digits` to 12 digits, none of the
    patterns a guesser tries first. None: the PIN may be used."""
    if not pin.isdigit() or not min_digits <= len(pin) <= PIN_MAX_DIGITS:
        return PinProblem(
            f"a PIN is {min_digits} to {PIN_MAX_DIGITS} digits",
            f"choose a PIN of {min_digits}-{PIN_MAX_DIGITS} digits (lane.pin_min_digits; "
            "docs/lane.md says why a short PIN falls to a stolen database)",
        )
    if why := trivial_pin(pin):
        return PinProblem(
            f"that PIN is too easy to guess: {why}",
            "choose digits with no pattern (not 000000, 123456 or 121212)",
        )
    return None
