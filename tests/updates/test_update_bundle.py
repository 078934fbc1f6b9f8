"""Update bundles: `cloud update build` signs one the box accepts; every alteration after
signing (a wheel, the manifest, an extra file, another key) is refused, naming why."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from updates_testkit import head_office_key, make_bundle, make_wheel

from cloud.cli import main as cloud_main
from cloud.publish import SigningKey
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys
from gateway.updates.bundle import (
    MANIFEST,
    UpdateManifest,
    UpdateRefused,
    check_applicable,
    check_files,
    check_manifest,
    software_version,
)
from gateway.updates.install import fetch_bundle


def trusted(key: SigningKey) -> TrustedKeys:
    return TrustedKeys([TrustedKey(key_id=key.key_id, public_key=key.public_b64)])


def verify(bundle: Path, keys: TrustedKeys) -> UpdateManifest:
    """What the box does with a bundle folder before installing anything."""
    data = json.loads((bundle / MANIFEST).read_text())
    manifest = check_manifest(data, keys, str(bundle))
    check_files(bundle, manifest)
    return manifest


def test_cloud_update_build_makes_a_bundle_the_box_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, pem = head_office_key(tmp_path / "keys")
    wheel = make_wheel(tmp_path / "wheels", "0.2.0")
    out = tmp_path / "bundle"
    status = cloud_main(
        [
            *("update", "build", str(tmp_path / "wheels"), "--version", "0.2.0"),
            *("--min-version", "0.1.0", "--out", str(out), "--key", str(pem)),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0 and "storegate 0.2.0 (from 0.1.0 on), 1 wheel(s), signed by ho-1" in printed
    manifest = verify(out, trusted(key))
    assert (manifest.version, manifest.min_version, manifest.key_id) == ("0.2.0", "0.1.0", "ho-1")
    assert [f.name for f in manifest.files] == [wheel.name]
    check_applicable(manifest, "0.1.0", "box")


@pytest.mark.parametrize(
    ("alter", "reason"),
    [
        ("wheel", "wrong_hash"),
        ("cut", "wrong_size"),
        ("manifest_version", "bad_signature"),
        ("manifest_hash", "bad_signature"),
        ("extra", "extra_file"),
        ("missing", "missing_file"),
        ("other_key", "unknown_key"),
        ("same_key_id_forger", "bad_signature"),
    ],
)
def test_an_altered_or_forged_bundle_is_refused(tmp_path: Path, alter: str, reason: str) -> None:
    key, _ = head_office_key(tmp_path / "keys")
    bundle = make_bundle(tmp_path, key, "0.2.0")
    keys = trusted(key)
    wheel = next(bundle.glob("*.whl"))
    manifest_path = bundle / MANIFEST
    data = json.loads(manifest_path.read_text())
    if alter == "wheel":  # same size, other bytes: a wheel swapped after signing
        raw = bytearray(wheel.read_bytes())
        raw[-1] ^= 0xFF
        wheel.write_bytes(bytes(raw))
    elif alter == "cut":
        wheel.write_bytes(wheel.read_bytes()[:-10])
    elif alter == "manifest_version":
        data["version"] = "9.0.0"
    elif alter == "manifest_hash":  # the forger re-hashes his own wheel into the manifest
        make_wheel(tmp_path / "evil", "0.2.0", status_exit=3)
        evil = next((tmp_path / "evil").glob("*.whl"))
        shutil.copyfile(evil, wheel)
        from gateway.updates.bundle import file_sha256

        data["files"][0].update(sha256=file_sha256(wheel), size=wheel.stat().st_size)
    elif alter == "extra":
        make_wheel(bundle, "0.0.1")
    elif alter == "missing":
        wheel.unlink()
    elif alter in ("other_key", "same_key_id_forger"):
        key_id = "rogue" if alter == "other_key" else "ho-1"
        rogue, _ = head_office_key(tmp_path / "rogue", key_id)
        shutil.rmtree(bundle)
        bundle = make_bundle(tmp_path / "forger", rogue, "0.2.0")
        manifest_path = bundle / MANIFEST
        data = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(UpdateRefused) as refused:
        verify(bundle, keys)
    assert refused.value.reason == reason, refused.value.describe()


def test_versions_compare_as_numbers_and_a_bundle_must_fit_the_box(tmp_path: Path) -> None:
    assert software_version("0.10.0") > software_version("0.9.9")
    assert software_version("1.2") == software_version("1.2.0")
    key, _ = head_office_key(tmp_path / "keys")
    manifest = verify(make_bundle(tmp_path, key, "0.3.0", min_version="0.2.0"), trusted(key))
    with pytest.raises(UpdateRefused) as old:
        check_applicable(manifest, "0.1.0", "box")
    assert old.value.reason == "too_old" and "needs at least 0.2.0" in old.value.what
    for running in ("0.3.0", "0.4"):
        with pytest.raises(UpdateRefused) as same:
            check_applicable(manifest, running, "box")
        assert same.value.reason == "not_newer"
    with pytest.raises(UpdateRefused):
        software_version("1.0-beta")


def test_build_refuses_bad_input_with_a_fix_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, pem = head_office_key(tmp_path / "keys")
    make_wheel(tmp_path / "wheels", "0.2.0")
    base = ["update", "build", str(tmp_path / "wheels"), "--key", str(pem)]
    cases = [
        (["--version", "0.3.0"], "no storegate-0.3.0-*.whl"),
        (["--version", "0.2.0", "--min-version", "0.2.0"], "must be lower than"),
        (["--version", "two"], "is not a software version"),
    ]
    for extra, message in cases:
        status = cloud_main(base + extra + ["--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert status == 2 and message in err and "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_publish_refuses_a_folder_that_is_no_bundle_and_a_bad_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, pem = head_office_key(tmp_path / "keys")
    bundle = make_bundle(tmp_path, key, "0.2.0")
    base = ["update", "publish", "--store", "store-1", "--key", str(pem)]
    cases = [
        ([str(bundle), "--url", "ftp://example.com/b/"], 2, "is not an http://"),
        ([str(tmp_path / "keys"), "--url", "https://x/b/"], 1, "no readable update manifest"),
    ]
    for extra, code, message in cases:
        status = cloud_main(base + extra + ["--db", f"sqlite:///{tmp_path / 'ho.db'}"])
        err = capsys.readouterr().err
        assert status == code and message in err and "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "ho.db").exists()  # refused before head office's database


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server (the standard library's) serving `tmp_path/www` on a free port."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def test_the_box_fetches_a_bundle_over_http_and_checks_every_byte(
    tmp_path: Path, served: tuple[str, Path]
) -> None:
    url, www = served
    key, _ = head_office_key(tmp_path / "keys")
    bundle = make_bundle(tmp_path, key, "0.2.0")
    shutil.copytree(bundle, www / "b")
    manifest = json.loads((bundle / MANIFEST).read_text())
    fetched = fetch_bundle(f"{url}b/", manifest, tmp_path / "fetched")
    assert verify(fetched, trusted(key)).version == "0.2.0"

    wheel = next((www / "b").glob("*.whl"))
    wheel.write_bytes(wheel.read_bytes()[::-1])  # the server's copy altered
    with pytest.raises(UpdateRefused) as altered:
        verify(fetch_bundle(f"{url}b/", manifest, tmp_path / "fetched"), trusted(key))
    assert altered.value.reason == "wrong_hash"

    wheel.unlink()
    with pytest.raises(UpdateRefused) as missing:
        fetch_bundle(f"{url}b/", manifest, tmp_path / "fetched")
    assert missing.value.reason == "download" and "404" in missing.value.what
