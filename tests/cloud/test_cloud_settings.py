"""Head office's alert thresholds as settings: defaults, the TOML file, the environment, and
a bad file refused whole with every problem listed."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cloud_testkit import cloud_cli

from cloud import settings
from cloud.alerts import list_alerts
from cloud.cli import main as cloud_main
from cloud.clock import iso
from cloud.db import Database
from cloud.rules import Thresholds
from cloud.settings import CloudSettingsError, config_path_default, load_cloud_settings

BAD = """[alerts]
refund_void_rate = 10
backlog_growing_min = 10.5
offline_minutes = -1
sales_deviation = inf
gap_secnds = 3
"""


@pytest.fixture(autouse=True)
def _no_ambient_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    for key in [k for k in os.environ if k.startswith(settings.ENV_PREFIX)]:
        monkeypatch.delenv(key)


def test_thresholds_come_from_defaults_then_the_file_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_cloud_settings().alerts == Thresholds()
    assert Thresholds().model_dump() == {  # the defaults the rules always had
        "offline_minutes": 15.0,
        "gap_seconds": 120.0,
        "backlog_hours": 4.0,
        "backlog_growing_min": 1000,
        "refund_void_rate": 0.10,
        "refund_void_min_tickets": 20,
        "no_sale_per_day": 10,
        "sales_deviation": 0.5,
    }
    example = Path(__file__).resolve().parents[2] / "config" / "cloud.example.toml"
    assert load_cloud_settings(example).alerts == Thresholds()  # documents the defaults
    path = tmp_path / "cloud.toml"
    path.write_text("[alerts]\noffline_minutes = 30\ngap_seconds = 60\n")
    monkeypatch.setenv("STOREGATE_CLOUD_CONFIG", str(path))
    monkeypatch.setenv("STOREGATE_CLOUD_ALERTS__GAP_SECONDS", "7")
    alerts = load_cloud_settings(config_path_default()).alerts
    assert (alerts.offline_minutes, alerts.gap_seconds, alerts.backlog_hours) == (30, 7, 4)


def test_a_bad_settings_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "cloud.toml"
    path.write_text(BAD)
    with pytest.raises(CloudSettingsError) as caught:
        load_cloud_settings(path)
    assert caught.value.exit_code == 2 and caught.value.where == str(path)
    assert caught.value.problems == [
        "alerts.offline_minutes: Input should be greater than 0 (got -1)",
        "alerts.backlog_growing_min: Input should be a valid integer, got a number with a "
        "fractional part (got 10.5)",
        "alerts.refund_void_rate: Input should be less than or equal to 1 (got 10)",
        "alerts.sales_deviation: Input should be a finite number (got inf)",
        "alerts.gap_secnds: unknown key (misspelt? see config/cloud.example.toml for every key)",
    ]
    path.write_text("[alerts\n")
    with pytest.raises(CloudSettingsError, match="not valid TOML"):
        load_cloud_settings(path)
    with pytest.raises(CloudSettingsError, match="file does not exist"):
        load_cloud_settings(tmp_path / "missing.toml")
    # `cloud ingest` refuses before it connects anywhere (no broker runs here)
    path.write_text(BAD)
    status, _, err = cloud_cli(
        "ingest",
        "--config",
        str(path),
        "--port",
        "9",
        "--db",
        f"sqlite:///{tmp_path / 'office.db'}",
    )
    assert status == 2 and "invalid head-office settings (5 problems)" in err
    assert "alerts.refund_void_rate" in err and "fix:" in err and "Traceback" not in err


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_alerts_check_runs_the_rules_with_the_configured_thresholds(
    tmp_path: Path, office_db: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    with office_db.transaction():
        office_db.execute(
            "INSERT INTO box_state (store, box, online, offline_since) "
            "VALUES ('store-1', 'box-1', 0, ?)",
            (iso(now - timedelta(minutes=5)),),
        )
    at = ["--at", iso(now)]
    assert cloud_main(["alerts", "check", "--db", db_url, *at]) == 0
    assert list_alerts(office_db) == []  # 15 minutes by default
    path = tmp_path / "cloud.toml"
    path.write_text("[alerts]\noffline_minutes = 2\n")
    assert cloud_main(["alerts", "check", "--config", str(path), "--db", db_url, *at]) == 0
    assert [a.kind for a in list_alerts(office_db)] == ["box.offline"]
    capsys.readouterr()
