"""Settings: file, environment, defaults, and the errors a technician sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.errors import SettingsError
from gateway.settings import DEFAULT_CONFIG_PATH, load_settings, masked

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "gateway.example.toml"


def run_gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_example_file_is_valid_and_complete() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.store.timezone == "Europe/Zurich"
    assert [layout.pattern for layout in settings.barcodes.label_layouts][:2] == [
        "22IIIIIPPPPPC",
        "23IIIIIWWWWWC",
    ]


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREGATE_MQTT__PORT", "8883")
    monkeypatch.setenv("STOREGATE_STORE__ID", "zurich-hb")
    settings = load_settings(EXAMPLE)
    assert settings.mqtt.port == 8883 and settings.store.id == "zurich-hb"
    assert settings.store.name == "Corner Shop"  # the rest of the section kept from the file


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREGATE_MQTT__PASSWORD", "hunter2")
    settings = load_settings(EXAMPLE)
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "hunter2"
    assert "hunter2" not in json.dumps(masked(settings))
    assert masked(settings)["mqtt"]["password"] == "***"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[mqtt]\nport = 70000\n", "mqtt.port: Input should be less than or equal to 65535"),
        ('[mqtt]\npasword = "x"\n', "mqtt.pasword: unknown key"),
        (
            '[store]\ntimezone = "Mars/Olympus"\n',
            "store.timezone: unknown time zone 'Mars/Olympus'",
        ),
        ('[store]\nid = "my store"\n', "store.id: String should match pattern"),
        ("[store]\nreceipt_width = 40\n", "store.receipt_width: Input should be 32, 42 or 48"),
        (
            '[[barcodes.label_layouts]]\nname = "x"\npattern = "22IIIIIPPPPP"\n',
            "barcodes.label_layouts[0].pattern",
        ),
        ('[[barcodes.label_layouts]]\nname = "x"\npattern = "22IIPPPPPIIIC"\n', "contiguous"),
        ("[store\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_key_and_what_is_allowed(
    tmp_path: Path, toml: str, expected: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(toml)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert expected in caught.value.describe()
    assert str(path) in caught.value.describe()


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[mqtt]\nport = 0\nkeepalive = 1\n[store]\nbox = ""\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert len(caught.value.problems) == 3


def test_config_check_cli_exit_codes(tmp_path: Path) -> None:
    ok = run_gateway("config", "check", "--config", str(EXAMPLE))
    assert ok.returncode == 0 and "settings OK" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nport = -1\n")
    result = run_gateway("config", "check", "--config", str(bad))
    assert result.returncode == 2
    assert "mqtt.port" in result.stderr and "Traceback" not in result.stderr
    missing = run_gateway("config", "check", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_config_check_json_masks_secrets(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, STOREGATE_MQTT__PASSWORD="hunter2")
    result = run_gateway("config", "check", "--config", str(EXAMPLE), "--json", env=env)
    assert result.returncode == 0
    assert json.loads(result.stdout)["mqtt"]["password"] == "***"
    assert "hunter2" not in result.stdout


def test_config_check_says_when_no_file_was_read(tmp_path: Path) -> None:
    assert not DEFAULT_CONFIG_PATH.exists(), "this test needs a machine with no installed box"
    result = run_gateway("config", "check")
    assert result.returncode == 1, result.stdout
    assert "no settings file was read" in result.stderr
    assert str(DEFAULT_CONFIG_PATH) in result.stderr and "Traceback" not in result.stderr


def test_config_check_fails_a_catalog_file_that_does_not_exist(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    gone = tmp_path / "catalog.json"
    config.write_text(
        EXAMPLE.read_text().replace(
            '# catalog = "/etc/storegate/catalog.json"', f'catalog = "{gone}"'
        )
    )
    result = run_gateway("config", "check", "--config", str(config))
    assert result.returncode == 2, result.stdout
    assert f"paths.catalog: {gone} does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    gone.write_text("{}")
    assert run_gateway("config", "check", "--config", str(config)).returncode == 0
