"""The staff table's secrets through StaffDirectory on a real file: PIN policy, the sealed
seed and the key it needs (issue 13 item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.database import open_database
from gateway.keyfile import SecretsKey, SecretsKeyError
from gateway.lane.staff import StaffDirectory, StaffError
from gateway.settings import load_settings


def directory(tmp_path: Path) -> StaffDirectory:
    return StaffDirectory(open_database(tmp_path / "storegate.db"), load_settings(None).lane)


def test_a_pin_shorter_than_the_policy_is_refused_with_the_reason(tmp_path: Path) -> None:
    staff = directory(tmp_path)
    with pytest.raises(StaffError) as caught:
        staff.add("101", "Anna", "cashier", pin="4729")
    assert "6 to 12 digits" in caught.value.what and "pin_min_digits" in (caught.value.fix or "")


def test_sealed_seeds_need_their_own_key_and_a_lost_key_is_never_replaced(
    tmp_path: Path,
) -> None:
    staff = directory(tmp_path)
    staff.add("301", "Chen", "admin", pin="508273")
    staff.enroll_totp("301")
    key = tmp_path / "secrets.key"
    assert key.stat().st_mode & 0o777 == 0o600
    seed = staff.totp_secret("301")
    assert seed is not None and len(seed) == 32
    key.rename(tmp_path / "elsewhere.key")
    with pytest.raises(SecretsKeyError) as missing:
        directory(tmp_path).totp_secret("301")
    assert "missing" in missing.value.what and not key.exists()
    other = StaffDirectory(
        open_database(tmp_path / "storegate.db"),
        load_settings(None).lane,
        secrets_key=SecretsKey(tmp_path / "elsewhere.key"),
    )
    assert other.totp_secret("301") == seed  # paths.secrets_key points at the moved key
    (tmp_path / "secrets.key").write_bytes(b"KJ8sV0m4mNn3lY6j7f2cN8k1q9wX5zR0tB4uH6pE3aA=\n")
    with pytest.raises(SecretsKeyError) as wrong:
        directory(tmp_path).totp_secret("301")
    assert "not the key" in wrong.value.what
    key.unlink()
    with pytest.raises(SecretsKeyError):
        directory(tmp_path).enroll_totp("301")  # a fresh key would orphan the sealed seeds
    assert not key.exists()
