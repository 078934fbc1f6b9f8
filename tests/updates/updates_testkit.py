"""Helpers for the update tests: a tiny `storegate` wheel built here, and bundles of it.

The wheel is a real one (zip, METADATA, WHEEL, RECORD with hashes, a console script)
that pip installs into a real virtual environment. Its `gateway` script stands in for
storegate's: `gateway status --json` prints the version it was built as and exits
`status_exit` (0: a healthy version; non-zero: one that never becomes ready). Building
the whole storegate wheel instead would take a minute per test.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from cloud.publish import SigningKey, generate_key
from cloud.updates import build_bundle

FAKE_MODULE = '''\
"""storegate {version} as the update tests build it."""
import json
import sys

VERSION = "{version}"


def main() -> int:
    if sys.argv[1:2] == ["status"]:
        if {status_exit}:
            print("storegate {version}: not ready (a broken build)", file=sys.stderr)
            return {status_exit}
        print(json.dumps({{"version": VERSION, "status": {{"version": VERSION}}}}))
        return 0
    print("storegate", VERSION)
    return 0
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(folder: Path, version: str, status_exit: int = 0) -> Path:
    """`storegate-VERSION-py3-none-any.whl` in `folder` (its `gateway status` exits
    `status_exit`)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"storegate-{version}.dist-info"
    files = {
        "fakegate.py": FAKE_MODULE.format(version=version, status_exit=status_exit).encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: storegate\nVersion: {version}\n".encode()
        ),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: updates_testkit\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": b"[console_scripts]\ngateway = fakegate:main\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"storegate-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return path


def head_office_key(folder: Path, key_id: str = "ho-1") -> tuple[SigningKey, Path]:
    """A signing key as `cloud keys generate` writes it."""
    return generate_key(folder, key_id)


def make_bundle(
    tmp: Path, key: SigningKey, version: str, *, status_exit: int = 0, min_version: str = "0"
) -> Path:
    """A signed bundle folder of the tiny wheel at `version`."""
    wheels = tmp / f"wheels-{version}"
    make_wheel(wheels, version, status_exit)
    out = tmp / f"bundle-{version}"
    build_bundle(wheels, out, version, min_version, key)
    return out
