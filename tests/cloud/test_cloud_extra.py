"""Head office's own libraries are the `cloud` extra (psycopg, matplotlib), which a box does
not install: what needs them says so and how to install them; SQLite needs neither."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cloud.cli import main as cloud
from cloud.db import CloudDatabaseError, Database
from cloud.render import chart
from cloud.reports import Table
from gateway.errors import UsageError


@pytest.fixture
def without_cloud_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a box: `import psycopg` / `import matplotlib` raise ImportError."""
    for name in ("psycopg", "matplotlib"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("without_cloud_extra")
def test_sqlite_head_office_needs_no_extra(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    assert cloud(["db", "upgrade", "--db", url]) == 0
    assert cloud(["db", "status", "--db", url]) == 0


@pytest.mark.usefixtures("without_cloud_extra")
def test_postgresql_without_psycopg_names_the_extra(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://office@127.0.0.1:5432/office"
    with pytest.raises(CloudDatabaseError) as caught:
        Database.open(url)
    assert "psycopg" in caught.value.what
    assert "pip install 'storegate[cloud]'" in str(caught.value.fix)

    assert cloud(["db", "status", "--db", url]) == CloudDatabaseError.exit_code
    err = capsys.readouterr().err
    assert "PostgreSQL needs psycopg" in err and "storegate[cloud]" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("without_cloud_extra")
def test_chart_without_matplotlib_names_the_extra(tmp_path: Path) -> None:
    table = Table("sales by day", ["day", "total"], [["2026-11-24", 12]])
    with pytest.raises(UsageError) as caught:
        chart(table, tmp_path / "sales.png")
    assert "matplotlib" in caught.value.what
    assert "pip install 'storegate[cloud]'" in str(caught.value.fix)
    assert not (tmp_path / "sales.png").exists()
