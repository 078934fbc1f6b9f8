"""`[payments]` at `gateway config check`: what is missing says so, keys are masked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "gateway.example.toml"


def check(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "gateway.toml"
    config.write_text(EXAMPLE.read_text() + extra)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_an_enabled_provider_without_its_key_is_refused(tmp_path: Path) -> None:
    result = check(tmp_path, '\n[payments.wechat]\nenabled = true\nappid = "wx1"\n')
    assert result.returncode == 2, result
    assert "payments.wechat" in result.stderr and "mch_id, key is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_key_file_is_refused(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        '\n[payments.alipay]\nenabled = true\napp_id = "2021"\n'
        f'private_key_file = "{tmp_path}/nope.pem"\n'
        f'alipay_public_key_file = "{tmp_path}/nope2.pem"\n',
    )
    assert result.returncode == 2, result
    assert f"payments.alipay.private_key_file: {tmp_path}/nope.pem does not exist" in (
        result.stderr
    )


def test_the_wechat_key_is_masked(tmp_path: Path) -> None:
    secret = "0123456789abcdef0123456789abcdef"
    result = check(
        tmp_path,
        f'\n[payments.wechat]\nenabled = true\nappid = "wx1"\nmch_id = "1"\nkey = "{secret}"\n',
    )
    assert result.returncode == 0, result
    assert secret not in result.stdout and 'key = "***"' in result.stdout


def test_an_enabled_card_terminal_without_its_address_or_password_is_refused(
    tmp_path: Path,
) -> None:
    result = check(tmp_path, "\n[payments.terminal]\nenabled = true\n")
    assert result.returncode == 2, result
    assert "payments.terminal" in result.stderr
    assert "the card terminal is enabled but host, password is not set" in result.stderr
    assert "Traceback" not in result.stderr
    wrong = check(
        tmp_path, '\n[payments.terminal]\nenabled = true\nhost = "10.0.0.4"\npassword = "12ab"\n'
    )
    assert wrong.returncode == 2 and "password must be six digits" in wrong.stderr, wrong
    currency = check(
        tmp_path,
        '\n[payments.terminal]\nenabled = true\nhost = "10.0.0.4"\npassword = "123456"\n'
        'currency = "XYZ"\n',
    )
    assert currency.returncode == 2 and "payments.terminal.currency" in currency.stderr, currency


def test_the_terminal_password_is_masked(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        '\n[payments.terminal]\nenabled = true\nhost = "10.0.0.4"\npassword = "482913"\n',
    )
    assert result.returncode == 0, result
    assert "482913" not in result.stdout and 'password = "***"' in result.stdout
    assert "[payments.terminal]" in result.stdout
