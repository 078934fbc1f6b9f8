"""The update's thin adapters: fetch a bundle, build a virtual environment from it,
switch the `current` link, restart the service and check that it is ready.

Each does one thing and says what failed with what, where and the fix (`InstallFailed`);
none decides what happens next (that is `gateway.updates.machine`'s table) and none
journals (the agent does). Run by the updater (`gateway update apply`, as root under
`storegate-update.service`), never by the daemon, whose service may not write
`/opt/storegate`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.errors import StoregateError
from gateway.updates.bundle import MANIFEST, PACKAGE, UpdateManifest, UpdateRefused

FETCH_TIMEOUT_S = 60.0


class InstallFailed(StoregateError):
    """A step of the installation, switch or restart did not work."""


def fetch_bundle(url: str, manifest: dict[str, object], folder: Path) -> Path:
    """The bundle's files from `url` (http, https, or file:// for a copied bundle) into
    `folder`, with the signed manifest the document carried beside them. A file larger
    than the manifest says is cut off there (its hash then fails); nothing is checked
    here: `check_files` does that before anything is installed."""
    parsed = UpdateManifest.model_validate(manifest)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text(json.dumps(manifest, sort_keys=True))
    for entry in parsed.files:
        source = urllib.parse.urljoin(url, urllib.parse.quote(entry.name))
        try:
            with (
                urllib.request.urlopen(source, timeout=FETCH_TIMEOUT_S) as answer,
                (folder / entry.name).open("wb") as out,
            ):
                left = entry.size + 1  # one byte more shows a file that is too long
                while left > 0 and (chunk := answer.read(min(left, 1 << 20))):
                    out.write(chunk)
                    left -= len(chunk)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise UpdateRefused(
                "download",
                f"cannot fetch {entry.name}: {exc}",
                where=source,
                fix="check that head office serves the bundle at the document's url "
                "(`cloud update publish --url`) and that the box reaches it",
            ) from exc
    return folder


Run = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    error_lines = [line for line in lines if "ERROR" in line]
    return (error_lines or lines or [f"exit status {result.returncode}"])[-1].strip()


def build_environment(
    bundle: Path, target: Path, version: str, *, python: str = sys.executable, runner: Run = run
) -> Path:
    """A new virtual environment `target` with `storegate==version` from the bundle only
    (`pip install --no-index --find-links BUNDLE`): nothing from the network, nothing the
    manifest did not sign. Built beside the running one, which it never touches; a
    failed build is removed."""
    if target.exists():
        shutil.rmtree(target)  # a half-built one from an interrupted attempt
    target.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [python, "-m", "venv", str(target)],
        [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            str(bundle),
            f"{PACKAGE}=={version}",
        ],
    ]
    for command in steps:
        result = runner(command)
        if result.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise InstallFailed(
                f"{' '.join(command[:4])} ... failed: {_last_line(result)}",
                where=str(target),
                fix="the running version stays; check the bundle holds every wheel the "
                'new version needs (docs/install.md, "Software updates")',
            )
    return target


def read_link(link: Path) -> Path | None:
    """Where the `current` link points now (None: no link yet)."""
    try:
        return Path(os.readlink(link))
    except OSError:
        return None


def switch_link(link: Path, target: Path) -> None:
    """Point `link` at `target` in one step (a new link renamed over the old one), so
    the service finds either the old environment or the new, never none."""
    if not (target / "bin").is_dir():
        raise InstallFailed(
            f"{target} is not a virtual environment",
            where=str(link),
            fix="the link was left as it was",
        )
    temporary = link.with_name(f".{link.name}.switching")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)
    directory = os.open(link.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def restart(command: Sequence[str], runner: Run = run) -> None:
    result = runner(command)
    if result.returncode != 0:
        raise InstallFailed(
            f"{' '.join(command)} failed: {_last_line(result)}",
            where="[update] restart_command",
            fix="check the service's journal (journalctl -u storegate)",
        )


def wait_ready(
    link: Path,
    version: str,
    timeout: float,
    *,
    config: str | None = None,
    runner: Run = run,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Ask `LINK/bin/gateway status --json` until the daemon answers as `version` or
    `timeout` seconds pass. None when it is ready, else the last thing that was wrong.

    `gateway status` answers once the daemon's control socket is up, which is when it
    has opened its database, lane, devices and sync and told systemd READY=1; the
    version it reports is the running daemon's own."""
    command = [str(link / "bin" / "gateway"), "status", "--json"]
    if config:
        command += ["--config", config]
    deadline = monotonic() + timeout
    problem = "no answer yet"
    while True:
        try:
            result = runner(command)
        except OSError as exc:
            result = subprocess.CompletedProcess(command, 127, "", str(exc))
        if result.returncode == 0:
            try:
                said = json.loads(result.stdout).get("version")
            except (ValueError, AttributeError):
                said = None
            if said == version:
                return None
            problem = f"the daemon answers as version {said!r}, not {version}"
        else:
            problem = f"`gateway status` failed: {_last_line(result)}"
        if monotonic() >= deadline:
            return problem
        sleep(min(1.0, max(0.0, deadline - monotonic())))
