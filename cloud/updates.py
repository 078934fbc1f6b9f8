"""Software update bundles at head office: build one from a folder of wheels, and the
`update` document that announces it to boxes.

Owns the bundle folder's making (`cloud update build`): the wheels copied in, their sizes
and SHA-256 in `manifest.json`, signed with `gateway.sync.signing.sign` like every other
downlink message. The manifest's shape and the box's checks are
`gateway.updates.bundle`; publishing (versions per store, groups, pilots) is the
ordinary signed-document path of `cloud.publish` with kind `update`.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from cloud.clock import Clock, iso, system_clock
from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import PublishError, SigningKey, publish_document
from gateway.errors import UsageError
from gateway.sync.signing import sign
from gateway.updates.bundle import (
    MANIFEST,
    PACKAGE,
    WHEEL,
    UpdateManifest,
    UpdateRefused,
    file_sha256,
    software_version,
)


def build_bundle(
    wheels: Path,
    out: Path,
    version: str,
    min_version: str,
    key: SigningKey,
    clock: Clock = system_clock,
) -> dict[str, Any]:
    """Copy the wheels of `wheels` into the new folder `out` and sign their manifest.

    `wheels` must hold storegate's own wheel of `version`; the other wheels are its
    dependencies (the box installs with `pip --no-index`, so every wheel the new version
    needs and the box's current environment lacks must be here)."""
    for label, value in (("--version", version), ("--min-version", min_version)):
        try:
            software_version(value)
        except UpdateRefused as exc:
            raise UsageError(exc.what, where=label, fix=exc.fix or "") from exc
    if software_version(min_version) >= software_version(version):
        raise UsageError(
            f"--min-version {min_version} must be lower than --version {version}",
            where="cloud update build",
            fix="give the oldest version a box may update from",
        )
    if not wheels.is_dir():
        raise UsageError(
            f"{wheels} is not a folder", where="cloud update build", fix="give the wheels' folder"
        )
    files = sorted(p for p in wheels.iterdir() if p.is_file() and p.suffix == ".whl")
    bad = [p.name for p in files if not re.fullmatch(WHEEL, p.name)]
    own = [p for p in files if p.name.startswith(f"{PACKAGE}-{version}-")]
    if bad or not own:
        raise UsageError(
            f"no {PACKAGE}-{version}-*.whl in {wheels}"
            if not own
            else f"wheel names the box would refuse: {', '.join(bad)}",
            where=str(wheels),
            fix=f"build it with `pip wheel --wheel-dir {wheels} .` in a checkout of "
            f"version {version} (on the boxes' architecture, for its dependencies)",
        )
    if out.exists():
        raise UsageError(
            f"{out} already exists",
            where="--out",
            fix="choose a new folder; a published bundle is never rewritten",
        )
    out.mkdir(parents=True)
    entries = []
    for path in files:
        shutil.copyfile(path, out / path.name)
        entries.append(
            {"name": path.name, "size": path.stat().st_size, "sha256": file_sha256(out / path.name)}
        )
    manifest = sign(
        {
            "v": 1,
            "kind": "update",
            "package": PACKAGE,
            "version": version,
            "min_version": min_version,
            "issued_at": iso(clock()),
            "files": entries,
        },
        key.private,
        key.key_id,
    )
    UpdateManifest.model_validate(manifest)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(bundle: Path) -> dict[str, Any]:
    """The signed manifest of a bundle folder, as it was signed."""
    try:
        data = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        UpdateManifest.model_validate(data)
    except (OSError, ValueError) as exc:
        raise PublishError(
            f"no readable update manifest: {exc}",
            where=str(bundle / MANIFEST),
            fix="give a folder `cloud update build` made; nothing was sent",
        ) from exc
    manifest: dict[str, Any] = data
    return manifest


def update_document(bundle: Path, url: str) -> dict[str, Any]:
    """The `update` document for `bundle`, whose files the boxes fetch from `url`."""
    manifest = read_manifest(bundle)
    if not re.fullmatch(r"(https?|file)://\S+", url):
        raise UsageError(
            f"{url!r} is not an http://, https:// or file:// address",
            where="--url",
            fix="give the address where the bundle's folder is served (or file:///PATH "
            "on the box, for a copied bundle)",
        )
    return {"software": manifest["version"], "url": url.rstrip("/") + "/", "manifest": manifest}


def bundles(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(folder name, signed manifest) of every bundle `cloud update build` made in
    `folder`, by name; a sub-folder without a readable manifest is not a bundle."""
    found = []
    for bundle in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        try:
            found.append((bundle.name, read_manifest(bundle)))
        except PublishError:
            continue
    return found


def publish_update(
    db: Database,
    *,
    broker: BrokerOptions,
    root: str,
    document: dict[str, Any],
    store: str | None,
    group: str | None,
    pilot: str | None,
    key: SigningKey,
    clock: Clock = system_clock,
) -> tuple[list[str], list[dict[str, Any]], int | None]:
    """Announce an `update` document to a store's or a group's boxes (`cloud update
    publish`; the page calls it too): the pilot stores first when given, as a rollout the
    rest follow with `cloud rollout continue`. (stores sent to, their messages, rollout)."""
    from cloud.rollout import choose_pilot, pilot_list
    from cloud.stores import group_stores, mark_published, require_known, start_rollout

    if pilot and not group:
        raise UsageError(
            "--pilot is for a group's staged rollout",
            where="cloud update publish --pilot",
            fix="publish with --group GROUP --pilot STORE,...",
        )
    if bool(store) == bool(group):
        raise UsageError(
            "an update goes to a store or to a group",
            where="cloud update publish",
            fix="name one store (--store) or one group (--group)",
        )
    stores = [store] if store else group_stores(db, str(group))
    require_known(db, stores, "cloud update publish")
    pilots = choose_pilot(group, stores, pilot_list(pilot))
    first = pilots or stores
    rollout = None
    if pilots and group:
        rest = [s for s in stores if s not in pilots]
        rollout = start_rollout(db, "update", group, document, pilots, rest, iso(clock()))
    messages = publish_document(
        db=db,
        broker=broker,
        root=root,
        kind="update",
        document=document,
        stores=first,
        box=None,
        key=key,
        clock=clock,
    )
    if rollout is not None:
        for sent, message in zip(first, messages, strict=True):
            mark_published(db, rollout, sent, int(message["version"]), iso(clock()))
    return first, messages, rollout
