"""An update bundle: a folder of wheels and `manifest.json`, signed by head office.

The manifest names the software version, the lowest version a box must run to take it
(`min_version`), and every file of the bundle with its size and SHA-256. It is a signed
message exactly like the downlink's documents and commands: Ed25519 over the canonical
JSON of every field but `signature`, with `key_id` (`gateway.sync.signing`, the one
signing scheme; head office signs with `sign()`, the box checks with `TrustedKeys`). So a
box trusts a bundle for the same reason it trusts a catalog, and a bundle altered after
signing (a wheel swapped, a hash edited, a file added) is refused before anything is
installed.

Owns: the manifest's shape (`UpdateManifest`), the version rule (`software_version`),
checking the signature (pure) and checking the files against the manifest (reads the
bundle folder, writes nothing). Must not install, switch or journal.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import StoregateError
from gateway.sync.errors import DownlinkRefused
from gateway.sync.signing import TrustedKeys
from gateway.validation import first_problems

MANIFEST = "manifest.json"
PACKAGE: Literal["storegate"] = (
    "storegate"  # the distribution an update installs (`pip install storegate==V`)
)
VERSION = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$"  # 1.2.3: numbers only, compared as numbers
WHEEL = r"^[A-Za-z0-9_.+-]{1,200}\.whl$"  # a file name, never a path

SoftwareVersion = Annotated[str, Field(pattern=VERSION)]


class UpdateRefused(StoregateError):
    """A bundle or an update document the box does not take; `reason` is a short code
    (journalled and reported): `unknown_key`, `bad_signature`, `schema`, `missing_file`,
    `wrong_size`, `wrong_hash`, `extra_file`, `too_old`, `not_newer`, `download`."""

    def __init__(
        self, reason: str, what: str, *, where: str | None = None, fix: str | None = None
    ) -> None:
        self.reason = reason
        super().__init__(what, where=where, fix=fix)


class BundleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=WHEEL)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class UpdateManifest(BaseModel):
    """`manifest.json` of a bundle (signed; docs/install.md, "Software updates")."""

    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = 1
    kind: Literal["update"] = "update"
    package: Literal["storegate"] = PACKAGE
    version: SoftwareVersion
    min_version: SoftwareVersion
    issued_at: str
    files: list[BundleFile] = Field(min_length=1)
    key_id: str
    signature: str


def software_version(text: str) -> tuple[int, ...]:
    """`1.2.3` as (1, 2, 3), padded so 1.2 == 1.2.0; compared as numbers (1.10 > 1.9)."""
    if not re.fullmatch(VERSION, text):
        raise UpdateRefused(
            "schema",
            f"{text!r} is not a software version",
            where="version",
            fix="use numbers separated by dots, e.g. 0.2.0",
        )
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (4 - len(parts))


def check_manifest(data: Any, keys: TrustedKeys, where: str) -> UpdateManifest:
    """The manifest if it has the shape and a trusted key signed exactly these fields."""
    try:
        manifest = UpdateManifest.model_validate(data)
    except ValidationError as exc:
        problems = first_problems(exc)
        raise UpdateRefused(
            "schema",
            f"not an update manifest: {problems}",
            where=where,
            fix="build the bundle with `cloud update build`",
        ) from exc
    try:
        keys.verify(data, where)
    except DownlinkRefused as exc:
        raise UpdateRefused(exc.reason, exc.what, where=where, fix=exc.fix) from exc
    return manifest


def check_applicable(manifest: UpdateManifest, current: str, where: str) -> None:
    """Refuse a bundle this box cannot take from the version it runs: not newer (a
    replay or a downgrade: roll back instead) or needing a newer starting version."""
    if software_version(manifest.version) <= software_version(current):
        raise UpdateRefused(
            "not_newer",
            f"version {manifest.version} is not newer than {current}, which this box runs",
            where=where,
            fix="publish a higher version; a failed version is rolled back by the box itself",
        )
    if software_version(current) < software_version(manifest.min_version):
        raise UpdateRefused(
            "too_old",
            f"version {manifest.version} needs at least {manifest.min_version} "
            f"and this box runs {current}",
            where=where,
            fix=f"update the box to {manifest.min_version} first",
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_files(folder: Path, manifest: UpdateManifest) -> None:
    """Every file the manifest names is in `folder` with its size and hash, and nothing
    else is (pip would install an unlisted wheel from `--find-links` too)."""
    listed = {f.name for f in manifest.files}
    extra = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST and p.name not in listed)
    if extra:
        raise UpdateRefused(
            "extra_file",
            f"files the manifest does not list: {', '.join(extra)}",
            where=str(folder),
            fix="rebuild the bundle with `cloud update build`; nothing was installed",
        )
    for entry in manifest.files:
        path = folder / entry.name
        if not path.is_file():
            raise UpdateRefused(
                "missing_file",
                f"{entry.name} is missing",
                where=str(folder),
                fix="copy or download the whole bundle again; nothing was installed",
            )
        size = path.stat().st_size
        if size != entry.size:
            raise UpdateRefused(
                "wrong_size",
                f"{entry.name} has {size} bytes, the manifest says {entry.size}",
                where=str(path),
                fix="the file was altered or cut short; nothing was installed",
            )
        if file_sha256(path) != entry.sha256:
            raise UpdateRefused(
                "wrong_hash",
                f"{entry.name} does not have the SHA-256 the manifest signed",
                where=str(path),
                fix="the file was altered after head office signed the bundle; "
                "nothing was installed",
            )


class UpdateDocument(BaseModel):
    """The body of an `update` document (`{root}/{store}/update`, signed like a catalog):
    which version to install, the bundle's signed manifest, and where its files are."""

    model_config = ConfigDict(extra="forbid")
    software: SoftwareVersion
    url: str = Field(pattern=r"^(https?|file)://\S+$", max_length=2000)
    manifest: dict[str, Any]


def check_update_document(
    document: dict[str, Any], keys: TrustedKeys, where: str
) -> tuple[UpdateDocument, UpdateManifest]:
    """An update document whose manifest is signed and names the same version."""
    try:
        order = UpdateDocument.model_validate(document)
    except ValidationError as exc:
        raise UpdateRefused(
            "schema",
            f"not an update document: {exc.errors()[0]['msg']} "
            f"({'.'.join(map(str, exc.errors()[0]['loc']))})",
            where=where,
            fix="publish it with `cloud update publish`",
        ) from exc
    manifest = check_manifest(order.manifest, keys, where)
    if manifest.version != order.software:
        raise UpdateRefused(
            "schema",
            f"the document says {order.software} and its manifest {manifest.version}",
            where=where,
            fix="publish it with `cloud update publish`",
        )
    return order, manifest
