"""Remote logs alone (gateway.sync.log_upload): bounds, cutting into parts, reassembly."""

from __future__ import annotations

import pytest

from gateway.sync.errors import CommandFailed
from gateway.sync.log_upload import (
    MAX_BYTES,
    MAX_LINES,
    PART_BYTES,
    UploadLimits,
    assemble,
    limits,
    parts,
    select_lines,
)


def test_the_newest_lines_win_within_both_bounds() -> None:
    lines = [f"line {n:04d}" for n in range(100)]  # 9 bytes each, 10 with the newline
    assert select_lines(lines, UploadLimits(5, 10_000)) == lines[-5:]
    assert select_lines(lines, UploadLimits(100, 33)) == lines[-3:]
    assert select_lines(lines, UploadLimits(100, 9)) == []
    huge = ["x" * (PART_BYTES * 2)]
    assert len(select_lines(huge, UploadLimits(1, MAX_BYTES))[0]) < PART_BYTES


def test_parts_stay_under_the_part_size_and_reassemble_in_any_order() -> None:
    lines = [f"{n:05d} " + "y" * 200 for n in range(1000)]
    bodies = parts("u1", lines)
    assert len(bodies) > 1
    assert all(sum(len(x) + 1 for x in b["lines"]) <= PART_BYTES for b in bodies)
    shuffled = [*reversed(bodies), bodies[0]]  # out of order, one re-delivered
    whole = assemble(shuffled)
    assert whole.lines == lines and whole.missing == [] and whole.parts == len(bodies)
    partial = assemble(bodies[:1])
    assert partial.missing == list(range(2, len(bodies) + 1))
    assert parts("u2", []) == [{"upload": "u2", "part": 1, "parts": 1, "lines": []}]


def test_arguments_are_checked_with_their_bounds() -> None:
    assert limits({}) == UploadLimits(200, 64 * 1024)
    assert limits({"lines": "7", "max_bytes": 900}) == UploadLimits(7, 900)
    for args in ({"lines": 0}, {"lines": MAX_LINES + 1}, {"max_bytes": "1MB"}, {"x": 1}):
        with pytest.raises(CommandFailed):
            limits(args)
