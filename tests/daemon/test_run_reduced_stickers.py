"""Reduced-to-clear stickers through `gateway run` and its control socket, with the example
settings' sticker layouts (`29IIIIIPPPPPC` new price, `27IIIIIIIIRRC` percent off): the
sticker's price is what the till charges, a sticker above the catalog price is refused
(`reduced_sticker`), and `gateway receipt` prints the line as reduced in English and
Chinese (docs/barcodes.md "Reduced-to-clear stickers")."""

from __future__ import annotations

import subprocess
from pathlib import Path

from daemon_testkit import GATEWAY, NO_SYNC, Daemon, box_config

CROISSANT_AT_070 = "2900501000708"  # the example catalog's croissant: PLU 501, 1.40
CROISSANT_HALF_OFF = "2700000501504"
CROISSANT_AT_150 = "2900501001507"


def receipt(config: Path, seq: int, language: str) -> str:
    done = subprocess.run(
        [str(GATEWAY), "receipt", str(seq), "--config", str(config), "--language", language],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_reduced_stickers_sell_at_their_price_through_the_daemon(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        above = daemon.key("scan", code=CROISSANT_AT_150)
        assert above["refused"] == "reduced_sticker", above
        assert "above Butter croissant's price of 1.40" in str(above["error"]), above
        one = daemon.key("scan", code=CROISSANT_AT_070)
        assert one["ok"] and one["lane"]["total"] == "0.70", one  # type: ignore[index]
        two = daemon.key("scan", code=CROISSANT_HALF_OFF)
        assert two["ok"] and two["lane"]["total"] == "1.40", two  # type: ignore[index]
        paid = daemon.key("tender", type="cash", amount="2")
        assert paid["ok"] and paid["state"] == "idle", paid
        seq = int(paid["records"][0])  # type: ignore[index]
    finally:
        assert daemon.stop() == 0, daemon.output()
    english = receipt(config, seq, "en")
    assert english.count("Reduced from 1.40") == 2, english
    assert "1.40" in english and "-0.70" in english
    assert receipt(config, seq, "zh").count("特价处理 原价 1.40") == 2
