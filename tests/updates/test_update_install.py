"""The updater with its real adapters: real virtual environments built with `python -m
venv` and `pip install --no-index --find-links BUNDLE` from a tiny storegate wheel built
here, the real `current` symlink, and the new version's own `gateway status` as the
health check. A version whose `gateway status` exits 1 is rolled back by the updater
itself; a forged bundle installs nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from updates_testkit import head_office_key, make_bundle

from cloud.publish import SigningKey
from cloud.updates import update_document
from gateway import __version__ as OLD
from gateway.cli import main as gateway_main
from gateway.settings import GatewaySettings
from gateway.sync.settings import TrustedKey
from gateway.updates.agent import STATE, read_json, updates_dir, write_order
from gateway.updates.cli import agent_for
from gateway.updates.install import build_environment
from gateway.updates.machine import State


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, Path]:
    """Head office's key and the environment of the version the box runs now, built once
    (a virtual environment with pip takes tens of seconds on a busy Pi-class machine)."""
    tmp = tmp_path_factory.mktemp("installed")
    key, _ = head_office_key(tmp / "keys")
    return key, build_environment(make_bundle(tmp, key, OLD), tmp / "venvs" / OLD, OLD)


class Box:
    """A box folder with the tiny wheel at this checkout's version (the version the
    updater runs as) installed, and `current` pointing at it."""

    def __init__(self, tmp: Path, key: SigningKey, old: Path) -> None:
        self.tmp, self.key = tmp, key
        self.data = tmp / "data"
        self.envs = tmp / "opt" / "venvs"
        self.link = tmp / "opt" / "current"
        self.old = old
        self.link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(old, self.link)
        self.config = tmp / "gateway.toml"
        self.config.write_text(
            f'[paths]\ndata_dir = "{self.data}"\n'
            f'[[sync.trusted_keys]]\nkey_id = "{key.key_id}"\n'
            f'public_key = "{key.public_b64}"\n'
            f'[update]\nlink = "{self.link}"\nenvironments = "{self.envs}"\n'
            'restart_command = ["true"]\nhealth_timeout_s = 2\nlock_retry_s = 0.1\n'
        )
        self.settings = GatewaySettings.model_validate(
            {
                "paths": {"data_dir": str(self.data)},
                "sync": {
                    "trusted_keys": [
                        TrustedKey(key_id=key.key_id, public_key=key.public_b64).model_dump()
                    ]
                },
                "update": {
                    "link": str(self.link),
                    "environments": str(self.envs),
                    "restart_command": ["true"],
                    "health_timeout_s": 2,
                    "lock_retry_s": 0.1,
                },
            }
        )

    def order(self, bundle: Path, version: int = 1) -> None:
        write_order(self.data, version, update_document(bundle, bundle.resolve().as_uri()))

    def apply(self) -> State:
        return agent_for(self.settings, str(self.config)).apply()

    def record(self) -> dict[str, object]:
        found = read_json(updates_dir(self.data) / STATE)
        assert found is not None
        return found

    def runs(self) -> str:
        return Path(os.readlink(self.link)).name


@pytest.fixture
def box(tmp_path: Path, installed: tuple[SigningKey, Path]) -> Box:
    return Box(tmp_path, *installed)


def _states(record: dict[str, object]) -> list[object]:
    steps = record["steps"]
    assert isinstance(steps, list)
    return [s["state"] for s in steps]


def test_a_healthy_version_is_installed_beside_the_old_and_switched_to(box: Box) -> None:
    box.order(make_bundle(box.tmp, box.key, "2.0.0", min_version=OLD))
    assert box.apply() is State.DONE
    assert box.runs() == "2.0.0"
    assert (box.old / "bin" / "gateway").exists()  # kept for a manual rollback
    record = box.record()
    assert _states(record) == [
        "idle",
        "downloaded",
        "verified",
        "installing",
        "installed",
        "switching",
        "checking",
        "done",
    ]
    assert (record["from_version"], record["version"], record["error"]) == (OLD, "2.0.0", None)
    assert not (updates_dir(box.data) / "bundles" / "2.0.0").exists()  # fetched copy removed


def test_gateway_update_apply_rolls_back_a_version_that_exits_non_zero(
    box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    box.order(make_bundle(box.tmp, box.key, "2.0.0", status_exit=1))
    capsys.readouterr()
    status = gateway_main(["update", "apply", "--config", str(box.config)])
    out = capsys.readouterr().out
    assert status == 1 and out.startswith("update 2.0.0-1: rolled_back")
    assert box.runs() == OLD
    record = box.record()
    assert _states(record)[-4:] == ["switching", "checking", "rolling_back", "rolled_back"]
    steps = record["steps"]
    assert isinstance(steps, list)
    assert "not ready (a broken build)" in steps[-2]["detail"]
    assert f"version {OLD} runs again" in steps[-1]["detail"]
    assert not (box.envs / "2.0.0").exists()  # the failed environment is removed

    assert gateway_main(["update", "status", "--config", str(box.config)]) == 0
    out = capsys.readouterr().out
    assert f"update 2.0.0-1: {OLD} -> 2.0.0, rolled_back" in out and "rolling_back" in out
    assert gateway_main(["update", "status", "--json", "--config", str(box.config)]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "rolled_back"
    assert box.apply() is State.ROLLED_BACK  # the same order again: nothing is redone


def test_a_forged_bundle_installs_nothing(box: Box, tmp_path: Path) -> None:
    bundle = make_bundle(box.tmp, box.key, "2.0.0")
    wheel = next(bundle.glob("*.whl"))
    wheel.write_bytes(wheel.read_bytes().replace(b"VERSION = ", b"VERSION  ="))
    box.order(bundle)
    assert box.apply() is State.FAILED
    record = box.record()
    assert _states(record) == ["idle", "downloaded", "failed"]
    assert "wrong_size" in str(record["error"]) or "wrong_hash" in str(record["error"])
    assert box.runs() == OLD and not (box.envs / "2.0.0").exists()


def test_a_forged_order_is_refused_before_any_download(box: Box) -> None:
    bundle = make_bundle(box.tmp, box.key, "2.0.0")
    document = update_document(bundle, bundle.resolve().as_uri())
    document["manifest"]["min_version"] = "0.0.1"  # edited after signing
    write_order(box.data, 1, document)
    assert box.apply() is State.FAILED
    assert "bad_signature" in str(box.record()["error"])
    assert not (updates_dir(box.data) / "bundles" / "2.0.0").exists()


def test_an_updater_interrupted_while_checking_puts_the_old_version_back(box: Box) -> None:
    """A power cut after the switch: the new version was never confirmed, so the next
    run of the updater switches back and checks the old one (no new build needed)."""
    bundle = make_bundle(box.tmp, box.key, "2.0.0")
    box.order(bundle)
    unconfirmed = box.envs / "2.0.0"
    (unconfirmed / "bin").mkdir(parents=True)
    box.link.unlink()
    os.symlink(unconfirmed, box.link)
    steps = [{"n": 1, "at": "t", "input": None, "effect": None, "state": "idle", "detail": ""}]
    interrupted = {
        "id": "2.0.0-1",
        "version": "2.0.0",
        "from_version": OLD,
        "state": "checking",
        "error": None,
        "old_target": str(box.old),
        "steps": steps,
    }
    (updates_dir(box.data) / STATE).write_text(json.dumps(interrupted))
    assert box.apply() is State.ROLLED_BACK
    assert box.runs() == OLD and not unconfirmed.exists()
    record = box.record()
    assert _states(record)[-2:] == ["rolling_back", "rolled_back"]
    assert "interrupted before the new version was checked" in str(record["error"])
