"""`gateway staff list|disable|enable|unlock|remove` and the PIN policy, through the running
daemon's control socket (issue 14, item 6): each change approved by the admin's PIN (the
box is in bootstrap `pin_only`), journalled as a `box_action` naming them, and felt at the
till at once; `gateway till sign_on` asks the PIN instead of taking it as a field."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from daemon_testkit import ADMIN, GATEWAY, NO_SYNC, Daemon, add_admin, box_config
from ops_testkit import journal_bodies

CASHIER = ("101", "472951")


def gateway(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **NO_SYNC},
        timeout=120,
    )


def approved(config: Path, action: str, staff_id: str) -> subprocess.CompletedProcess[str]:
    return gateway(
        config, "staff", action, staff_id, "--by", ADMIN[0], "--pin-stdin", stdin=f"{ADMIN[1]}\n"
    )


def listed(config: Path) -> dict[str, str]:
    done = gateway(config, "staff", "list")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert rows[0].split()[:3] == ["ID", "NAME", "ROLE"], done.stdout
    return {row.split()[0]: row for row in rows[1:]}


def test_staff_standing_changes_through_the_daemon_are_approved_and_journalled(
    tmp_path: Path,
) -> None:
    config = box_config(tmp_path)
    add_admin(tmp_path / "storegate.db")
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        people = listed(config)
        assert set(people) == {"101", "201", "301"}
        assert "card+PIN" in people["101"] and people["101"].endswith("active")
        assert "472951" not in gateway(config, "staff", "list", "--json").stdout

        for _ in range(5):  # lane.pin_attempts wrong PINs at the till
            refused = daemon.key("sign_on", staff=CASHIER[0], pin="000000")
        assert refused["refused"] == "locked_out", refused
        assert "locked until" in listed(config)["101"]

        unapproved = gateway(config, "staff", "unlock", "101")
        assert unapproved.returncode == 1 and "--by STAFF_ID" in unapproved.stderr
        wrong = gateway(
            config, "staff", "unlock", "101", "--by", ADMIN[0], "--pin-stdin", stdin="999999\n"
        )
        assert wrong.returncode == 1 and "Wrong staff number or PIN" in wrong.stderr
        assert "locked until" in listed(config)["101"]  # a refused change wrote nothing

        unlocked = approved(config, "unlock", "101")
        assert unlocked.returncode == 0, unlocked.stderr
        assert unlocked.stdout.strip() == "staff 101 Anna (cashier) unlocked"
        assert listed(config)["101"].endswith("active")
        again = approved(config, "unlock", "101")
        assert again.returncode == 2 and "is not locked out" in again.stderr

        assert approved(config, "disable", "101").returncode == 0
        assert listed(config)["101"].endswith("disabled")
        assert daemon.key("sign_on", staff=CASHIER[0], pin=CASHIER[1])["refused"] == "wrong_pin"
        assert approved(config, "enable", "101").returncode == 0

        removed = approved(config, "remove", "201")
        assert removed.returncode == 0 and removed.stdout.strip().endswith("removed")
        assert "201" not in listed(config)
        unknown = approved(config, "disable", "201")
        assert unknown.returncode == 2 and "no such staff member" in unknown.stderr

        last = approved(config, "disable", ADMIN[0])
        assert last.returncode == 2, last.stdout
        assert "last admin who can approve box changes" in last.stderr
        assert "Traceback" not in last.stderr

        actions = journal_bodies(tmp_path / "storegate.db", "box_action")
        assert [a["action"] for a in actions] == [
            "staff_unlock",
            "staff_disable",
            "staff_enable",
            "staff_remove",
        ], actions
        for action in actions:
            assert action["actor"] == {"id": "301", "name": "Ada", "role": "admin"}
            assert action["via"] == "socket" and action["bootstrap"] is True
        assert actions[3]["staff"] == {"id": "201", "name": "Beat", "role": "supervisor"}

        signed_on = gateway(config, "till", "sign_on", "staff=101", "--pin-stdin", stdin="472951\n")
        assert signed_on.returncode == 0 and '"ok": true' in signed_on.stdout, signed_on.stderr
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_pin_policy_and_a_person_who_cannot_sign_on_are_refused(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    add_admin(tmp_path / "storegate.db")
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:

        def add(pin: str, *extra: str) -> subprocess.CompletedProcess[str]:
            return gateway(
                config,
                "staff",
                "add",
                "102",
                "Cleo",
                "cashier",
                *extra,
                "--by",
                ADMIN[0],
                "--pin-stdin",
                stdin=f"{ADMIN[1]}\n{pin}\n",
            )

        for trivial in ("000000", "123456", "987654", "121212", "12341234"):
            refused = add(trivial)
            assert refused.returncode == 2, (trivial, refused.stdout)
            assert "too easy to guess" in refused.stderr, refused.stderr
        short = add("48213")
        assert short.returncode == 2 and "a PIN is 6 to 12 digits" in short.stderr
        nothing = add("")
        assert nothing.returncode == 2
        assert "needs a PIN or a staff card" in nothing.stderr
        assert "102" not in listed(config)
        assert journal_bodies(tmp_path / "storegate.db", "box_action") == []

        card_only = add("", "--card", "CARD-CLEO")
        assert card_only.returncode == 0, card_only.stderr
        assert "card" in listed(config)["102"] and "PIN" not in listed(config)["102"]
        with_pin = add("730418")
        assert with_pin.returncode == 0, with_pin.stderr
        assert daemon.key("sign_on", staff="102", pin="730418")["ok"] is True
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_on_a_stopped_box_the_cli_makes_and_journals_the_change_itself(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    add_admin(tmp_path / "storegate.db")
    disabled = approved(config, "disable", "201")
    assert disabled.returncode == 0, disabled.stderr
    assert listed(config)["201"].endswith("disabled")
    assert approved(config, "enable", "201").returncode == 0
    [*_, enabled] = journal_bodies(tmp_path / "storegate.db", "box_action")
    assert enabled["action"] == "staff_enable" and enabled["via"] == "file"
    assert enabled["actor"]["id"] == ADMIN[0]
    assert listed(config)["201"].endswith("active")
