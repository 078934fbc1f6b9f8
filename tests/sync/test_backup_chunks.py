"""Backup chunks alone (gateway.sync.backup_upload): cut, reassemble, refuse."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.sync.backup_upload import (
    CHUNK_BYTES,
    MAX_BYTES,
    BackupUploadError,
    chunk_bodies,
    describe,
    newest_complete,
    reassemble,
)


def test_a_file_is_cut_into_checksummed_chunks_and_put_back_in_any_order() -> None:
    data = bytes(range(256)) * (CHUNK_BYTES // 256 * 2 + 3)  # two chunks and a bit
    bodies = chunk_bodies("u1", "storegate-x-seq9.db", 9, data)
    assert [b["part"] for b in bodies] == [1, 2, 3] and {b["parts"] for b in bodies} == {3}
    assert all(b["sha256"] == hashlib.sha256(data).hexdigest() for b in bodies)
    assert reassemble([bodies[2], bodies[0], bodies[1], bodies[0]]) == data
    info = describe(bodies[:2])
    assert (info.head_seq, info.size, info.missing, info.complete) == (9, len(data), [3], False)
    assert reassemble(chunk_bodies("u2", "empty.db", 0, b"")) == b""


def test_missing_tampered_and_oversized_are_refused() -> None:
    data = b"x" * (CHUNK_BYTES + 10)
    bodies = chunk_bodies("u1", "b.db", 1, data)
    with pytest.raises(BackupUploadError, match=r"chunk\(s\) 2 of 2 not stored"):
        reassemble(bodies[:1])
    tampered = [bodies[0], {**bodies[1], "data": base64.b64encode(b"y" * 10).decode()}]
    with pytest.raises(BackupUploadError, match="does not match its checksum"):
        reassemble(tampered)
    mixed = [bodies[0], {**chunk_bodies("u9", "b.db", 1, b"z" * (CHUNK_BYTES + 10))[1]}]
    with pytest.raises(BackupUploadError, match="different uploads"):
        reassemble(mixed)
    with pytest.raises(BackupUploadError, match="MiB the outbox takes"):
        chunk_bodies("u3", "big.db", 1, bytes(MAX_BYTES + 1))


def test_the_newest_complete_upload_is_chosen_among_stale_ones() -> None:
    old = chunk_bodies("old", "a.db", 5, b"a" * (CHUNK_BYTES + 1))
    new = chunk_bodies("new", "b.db", 9, b"b" * 10)
    half = chunk_bodies("half", "c.db", 12, b"c" * (CHUNK_BYTES + 1))[:1]
    assert newest_complete([*old, *half]) == old
    assert newest_complete([*old, new[0], *half]) == new
    assert newest_complete(half) is None
