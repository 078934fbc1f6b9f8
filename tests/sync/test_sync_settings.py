"""The [sync] and [mqtt] keys load, validate, and become the service's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.errors import SettingsError
from gateway.settings import load_settings
from gateway.sync.service import SyncConfig
from gateway.sync.signing import public_key_b64, sign


def test_settings_become_the_sync_config(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    toml = tmp_path / "gateway.toml"
    toml.write_text(f"""
[store]
id = "zurich-hb"
box = "lane-2"
[paths]
data_dir = "{tmp_path}"
[mqtt]
host = "broker.example.net"
port = 8883
username = "zurich-hb-lane-2"
password = "s3cret"
ca_file = "/etc/storegate/tls/ca.pem"
protocol = "3.1.1"
[sync]
window_batches = 32
[[sync.trusted_keys]]
key_id = "ho-2026"
public_key = "{public_key_b64(key)}"
""")
    config = SyncConfig.from_settings(load_settings(toml))
    assert (config.store, config.box) == ("zurich-hb", "lane-2")
    assert config.link.client_id == "storegate-zurich-hb-lane-2"
    assert config.link.password == "s3cret" and config.link.ca_file == "/etc/storegate/tls/ca.pem"
    assert config.protocol == "3.1.1" and config.window_batches == 32
    assert config.state_path == tmp_path / "sync.db"
    assert config.journal_path == tmp_path / "storegate.db"
    config.trusted_keys.verify(sign({"v": 1, "x": "1"}, key, "ho-2026"), "test")


def test_the_example_settings_file_is_valid() -> None:
    example = Path(__file__).parents[2] / "config" / "gateway.example.toml"
    assert load_settings(example).sync.window_batches == 16


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('public_key = "not base64!"', "not base64"),
        ('public_key = "AAAA"', "decodes to 3 bytes"),
    ],
)
def test_a_bad_trusted_key_is_a_settings_error(tmp_path: Path, line: str, problem: str) -> None:
    toml = tmp_path / "gateway.toml"
    toml.write_text(f'[[sync.trusted_keys]]\nkey_id = "k"\n{line}\n')
    with pytest.raises(SettingsError, match=problem):
        load_settings(toml)
