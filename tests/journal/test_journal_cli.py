"""`gateway journal verify|export|status` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from journal_testkit import SteppingClock, counting_ids, sale_body, tamper

from gateway.cli import main
from gateway.database import open_database
from gateway.errors import DatabaseError
from gateway.journal import Journal, JournalRecord, verify_journal


@pytest.fixture
def journal_file(db_path: Path) -> Path:
    db = open_database(db_path)
    journal = Journal(db, clock=SteppingClock(), new_id=counting_ids())
    for n in range(300):  # enough pages that truncation cuts into records
        journal.append("sale", sale_body(n, lines=10))
    journal.acknowledge(100)
    db.conn.close()
    return db_path


def test_verify_intact_exits_zero(journal_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", "verify", "--db", str(journal_file)]) == 0
    assert "journal intact: 300 records checked (1..300)" in capsys.readouterr().out


def test_verify_tampered_names_the_record(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(journal_file, ("UPDATE journal_record SET kind = 'void' WHERE seq = 123", ()))
    assert main(["journal", "verify", "--db", str(journal_file)]) == 1
    err = capsys.readouterr().err
    assert "journal BROKEN at record 123: record 123 was altered" in err


def test_verify_reads_the_database_path_from_settings(
    journal_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{journal_file.parent}"\n')
    assert main(["journal", "verify", "--config", str(config)]) == 0
    assert "300 records checked" in capsys.readouterr().out


@pytest.mark.parametrize("keep", [0.5, 0.93, 4096 * 3, 3000, 60])
def test_truncated_database_is_a_clear_database_error(journal_file: Path, keep: float) -> None:
    size = journal_file.stat().st_size
    cut = int(size * keep) if keep < 1 else int(keep)
    with journal_file.open("r+b") as handle:
        handle.truncate(cut)
    for readonly in (True, False):
        with pytest.raises(DatabaseError) as caught:
            verify_journal(open_database(journal_file, readonly=readonly))
        assert str(journal_file) in caught.value.describe()
        assert "restore the newest backup" in caught.value.describe()


def test_truncated_database_from_the_command_line(journal_file: Path) -> None:
    with journal_file.open("r+b") as handle:
        handle.truncate(journal_file.stat().st_size // 2)
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "journal", "verify", "--db", str(journal_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == DatabaseError.exit_code
    assert "Traceback" not in done.stderr
    assert "malformed" in done.stderr and "fix:" in done.stderr


def test_export_writes_wire_records_as_json_lines(journal_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    args = ["journal", "export", "--db", str(journal_file), "--from", "10", "--to", "2510"]
    assert main([*args[:-1], "12", "--out", str(out)]) == 0
    records = [JournalRecord.from_wire(json.loads(line)) for line in out.read_text().splitlines()]
    assert [r.seq for r in records] == [10, 11, 12]
    assert records[0].body["total"] == "25.00"
    assert all(r.expected_hash() == r.hash for r in records)
    assert records[1].prev_hash == records[0].hash
    assert main(["journal", "export", "--db", str(journal_file), "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 300


def test_export_refuses_an_empty_range(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "export", "--db", str(journal_file), "--from", "400"]) == 2
    assert "records kept are 1..300" in capsys.readouterr().err


def test_status_shows_head_ack_and_backlog(
    journal_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "status", "--db", str(journal_file)]) == 0
    out = capsys.readouterr().out
    assert "head seq:          300" in out
    assert "acknowledged seq:  100" in out
    assert "backlog:           200 record(s), oldest 2026-03-01T09:01:40.000Z" in out


def test_missing_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "verify", "--db", str(tmp_path / "none.db")]) == 3
    assert "database file does not exist" in capsys.readouterr().err
