"""Head office's TOTP seeds sealed at rest (issue 18, item 2): on SQLite and PostgreSQL,
with the real `cloud web key generate`, `cloud web user add|totp`, `cloud web key check` and
`cloud web serve`, and sign-in over HTTP against the real application.

Played as an attacker who has the database but not the key: the raw row (and, on SQLite,
the database files) hold no seed; a sealed seed copied into another account's row does not
open there, not even with the copier's own code. Played as an operator who lost or mixed
up the key: `cloud web serve` and enrolment stop before anything happens, saying what,
where and how to fix, and a seed stored in the clear by an older version is sealed at the
first start with a key, never lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from cloud_testkit import cloud_cli, serving
from playwright.sync_api import Browser, expect

from cloud.db import Database
from cloud.web.app import create_app
from cloud.web.totp_key import KeyFile, read_key
from gateway.harness.brokers import free_port

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PASSWORDS = {"ada": "admin pass phrase 1", "sam": "store one manager"}
KEY_ENV = "STOREGATE_CLOUD_WEB__TOTP_KEY"
OLD_CLEAR_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # as the version before sealing stored it


def key_env(path: Path) -> dict[str, str]:
    return {KEY_ENV: str(path)}


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "totp.key"


@pytest.fixture
def accounts(db_url: str) -> str:
    """ada (admin) and sam (store-1's manager), made with the real CLI."""
    assert cloud_cli("stores", "add", "store-1", "--db", db_url)[0] == 0
    for name, role, scope in (("ada", "admin", None), ("sam", "store", "store-1")):
        args = ["web", "user", "add", name, "--role", role, "--password-stdin", "--by", "setup"]
        args += ["--scope", scope] if scope else []
        status, _, err = cloud_cli(*args, "--db", db_url, stdin=PASSWORDS[name] + "\n")
        assert status == 0, err
    return db_url


def generate(key_path: Path) -> str:
    status, out, err = cloud_cli("web", "key", "generate", env=key_env(key_path))
    assert status == 0, err
    return out.split()[2]  # "TOTP key KEYID written to ..."


def enrol(db_url: str, key_path: Path, name: str) -> str:
    """Enrol `name`'s authenticator with the real CLI; the seed its URI carries."""
    status, out, err = cloud_cli(
        "web", "user", "totp", name, "--db", db_url, "--by", "setup", env=key_env(key_path)
    )
    assert status == 0, err
    return parse_qs(urlparse(out.strip()).query)["secret"][0]


def raw_seed(db_url: str, name: str) -> str | None:
    db = Database.open(db_url)
    try:
        row = db.one("SELECT totp_secret FROM web_account WHERE name = ?", (name,))
    finally:
        db.close()
    assert row is not None
    return None if row[0] is None else str(row[0])


def set_raw_seed(db_url: str, name: str, stored: str | None) -> None:
    db = Database.open(db_url)
    try:
        with db.transaction():
            db.execute("UPDATE web_account SET totp_secret = ? WHERE name = ?", (stored, name))
    finally:
        db.close()


def audited(db_url: str, action: str) -> list[str]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT detail FROM web_audit WHERE action = ? ORDER BY id", (action,))
    finally:
        db.close()
    return [str(r[0]) for r in rows]


def sign_in(base: str, name: str, code: str) -> int:
    """POST the sign-in form as a browser does; the answer's status (303: signed in)."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        form = client.get("/login").text
        token = form.split('name="csrf" value="')[1].split('"')[0]
        answer = client.post(
            "/login",
            data={"csrf": token, "name": name, "password": PASSWORDS[name], "code": code},
        )
        if answer.status_code == 303:
            assert client.get("/").status_code == 200  # the session opens the dashboard
        return answer.status_code


def code_at(seed: str, when: datetime = NOW) -> str:
    return pyotp.TOTP(seed).at(when)


def app_with(db_url: str, key_path: Path) -> object:
    return create_app(db_url, clock=lambda: NOW, totp_key=KeyFile(key_path))


def no_traceback(err: str) -> None:
    assert "Traceback" not in err, err


def test_an_enrolled_seed_is_sealed_at_rest_and_its_code_signs_in(
    accounts: str, key_path: Path, browser: Browser
) -> None:
    db_url = accounts
    status, _, err = cloud_cli("web", "user", "totp", "ada", "--db", db_url, env=key_env(key_path))
    assert status == 2 and f"{key_path}: the TOTP key file is missing" in err  # no key yet
    assert "`cloud web key generate`" in err
    no_traceback(err)
    key_id = generate(key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    seed = enrol(db_url, key_path, "ada")
    stored = raw_seed(db_url, "ada")
    assert stored is not None and stored.startswith(f"sealed:v1:{key_id}:")
    assert seed not in stored and seed.lower() not in stored.lower()
    if db_url.startswith("sqlite:///"):  # nor anywhere in the database's files
        base = Path(db_url[len("sqlite:///") :])
        for path in (base, base.with_name(base.name + "-wal")):
            if path.exists():
                assert seed.encode() not in path.read_bytes()
    assert read_key(key_path).open(stored, "ada") == seed
    with serving(app_with(db_url, key_path)) as base_url:
        assert sign_in(base_url, "ada", "") == 401  # enrolled: the code is needed
        assert sign_in(base_url, "ada", code_at(seed, NOW - timedelta(minutes=10))) == 401
        assert sign_in(base_url, "ada", code_at(seed)) == 303
        assert sign_in(base_url, "sam", "") == 303  # not enrolled: password alone
        page = browser.new_page()  # and as a person does it, in Chromium
        try:
            page.goto(base_url + "/")
            page.get_by_label("Name").fill("ada")
            page.get_by_label("Password").fill(PASSWORDS["ada"])
            page.get_by_label("Authenticator code").fill(code_at(seed))
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        finally:
            page.close()
    status, out, err = cloud_cli("web", "key", "check", "--db", db_url, env=key_env(key_path))
    assert status == 0, err
    assert f"1 of 1 TOTP seed(s) open with key {key_id}" in out


def test_a_clear_seed_from_before_is_sealed_at_the_first_start_with_a_key(
    accounts: str, key_path: Path
) -> None:
    db_url = accounts
    set_raw_seed(db_url, "ada", OLD_CLEAR_SEED)
    port = str(free_port())
    serve = ("web", "serve", "--db", db_url, "--port", port)
    status, out, err = cloud_cli(*serve, env=key_env(key_path))
    assert status == 2, (out, err)
    no_traceback(err)
    assert str(key_path) in err and "stored in the clear" in err
    assert "fix: " in err and "cloud web key generate" in err
    assert raw_seed(db_url, "ada") == OLD_CLEAR_SEED  # refused, and nothing lost
    generate(key_path)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cloud"), *serve],
        env={**os.environ, **key_env(key_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stderr is not None
        said = server.stdout.readline()  # printed after the seeds were sealed
        assert said.startswith("head office on http://"), server.stderr.read()
    finally:
        server.terminate()
        server.wait(20)
    assert server.stderr is not None
    assert "sealed the clear TOTP seed(s) of 1 account(s) (ada)" in server.stderr.read()
    stored = raw_seed(db_url, "ada")
    assert stored is not None and stored.startswith("sealed:v1:")
    assert OLD_CLEAR_SEED not in stored
    assert read_key(key_path).open(stored, "ada") == OLD_CLEAR_SEED
    assert audited(db_url, "account.totp_sealed") == ['{"account": "ada"}']
    with serving(app_with(db_url, key_path)) as base_url:
        assert sign_in(base_url, "ada", code_at(OLD_CLEAR_SEED)) == 303  # the same app works


def test_a_seed_moved_into_another_accounts_row_does_not_open(
    accounts: str, key_path: Path
) -> None:
    db_url = accounts
    generate(key_path)
    ada_seed, sam_seed = enrol(db_url, key_path, "ada"), enrol(db_url, key_path, "sam")
    ada_row, sam_row = raw_seed(db_url, "ada"), raw_seed(db_url, "sam")
    # The attacker writes their own (sam's) sealed seed into ada's row, then signs in as
    # ada with sam's code; and the rows swapped outright.
    set_raw_seed(db_url, "ada", sam_row)
    with serving(app_with(db_url, key_path)) as base_url:
        assert sign_in(base_url, "ada", code_at(sam_seed)) == 401
        assert sign_in(base_url, "ada", code_at(ada_seed)) == 401
        set_raw_seed(db_url, "sam", ada_row)
        assert sign_in(base_url, "sam", code_at(sam_seed)) == 401
        assert sign_in(base_url, "sam", code_at(ada_seed)) == 401
        refusals = audited(db_url, "sign_in.refused")
        assert len(refusals) == 4
        assert all("totp seed does not verify for this account" in r for r in refusals)
        status, out, err = cloud_cli("web", "key", "check", "--db", db_url, env=key_env(key_path))
        assert status == 2, (out, err)
        no_traceback(err)
        assert "ada: totp seed does not verify" in out and "sam: totp seed does not verify" in out
        assert "0 of 2 TOTP seed(s) open" in out
        set_raw_seed(db_url, "ada", ada_row)  # each row back in its own place
        set_raw_seed(db_url, "sam", sam_row)
        assert sign_in(base_url, "ada", code_at(ada_seed)) == 303
        assert sign_in(base_url, "sam", code_at(sam_seed)) == 303


def test_a_wrong_or_missing_key_is_refused_clearly_before_anything_happens(
    accounts: str, key_path: Path, tmp_path: Path
) -> None:
    db_url = accounts
    right = generate(key_path)
    seed = enrol(db_url, key_path, "ada")
    other_path = tmp_path / "other" / "totp.key"
    other = generate(other_path)
    serve = ("web", "serve", "--db", db_url, "--port", str(free_port()))

    status, out, err = cloud_cli(*serve, env=key_env(other_path))
    assert status == 2, (out, err)
    no_traceback(err)
    assert f"sealed with key {right}, but the key file is key {other}" in err
    assert str(other_path) in err and "(ada)" in err
    assert "fix: put back the key file with id " + right in err

    status, _, err = cloud_cli(
        "web", "user", "totp", "sam", "--db", db_url, env=key_env(other_path)
    )
    assert status == 2 and f"sealed with key {right}" in err  # one database, one key
    no_traceback(err)
    assert raw_seed(db_url, "sam") is None

    missing = tmp_path / "nowhere" / "totp.key"
    status, _, err = cloud_cli(*serve, env=key_env(missing))
    assert status == 2
    no_traceback(err)
    assert f"{missing}: the TOTP key file is missing" in err
    assert "1 account(s) have a sealed seed that only that key opens" in err

    key_path.chmod(0o644)
    status, _, err = cloud_cli(*serve, env=key_env(key_path))
    assert status == 2 and "open to group or others (mode 644): refused" in err
    assert f"chmod 600 {key_path}" in err
    no_traceback(err)
    key_path.chmod(0o600)

    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    garbage.chmod(0o600)
    status, _, err = cloud_cli(*serve, env=key_env(garbage))
    assert status == 2 and "not a TOTP key" in err
    no_traceback(err)

    stored = raw_seed(db_url, "ada")  # nothing was touched by the refusals
    assert stored is not None and read_key(key_path).open(stored, "ada") == seed
    # A server handed the wrong key anyway (swapped after it started) refuses the sign-in.
    with serving(app_with(db_url, other_path)) as base_url:
        assert sign_in(base_url, "ada", code_at(seed)) == 401
    assert any("totp key:" in r for r in audited(db_url, "sign_in.refused"))
    with serving(app_with(db_url, key_path)) as base_url:
        assert sign_in(base_url, "ada", code_at(seed)) == 303
