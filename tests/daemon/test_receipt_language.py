"""A cashier's language reaches the paper: through `gateway run`, its control socket and
the TCP printer simulator with a Chinese printer's profile, a cashier whose own language
is Chinese (`[screens] staff_languages`) signs on and gets a Chinese receipt (合计, 找零,
税; the catalog's Chinese product and promotion names) in GB18030 inside the printer's
Chinese mode (`FS &` ... `FS .`), also after the daemon restarted mid-shift; the next
cashier, signed on without a choice, gets the box's default, English. `gateway receipt`
reprints in the cashier's language too."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, GATEWAY, NO_SYNC, Daemon, box_config

from devices.printer import FS_CHINESE_OFF, FS_CHINESE_ON
from devices.simulators.printer import NetworkPrinterSimulator

MILK, YOGHURT = "7612345001012", "7612345001050"
CUT = b"\x1dV\x00"  # GS V 0: python-escpos' full cut, the end of each receipt
CONTROL = re.compile(rb"\x1b@|\x1b[tEa!Md-].|\x1c[&.]", re.DOTALL)  # ESC @, ESC x n, FS & / .


def chinese_catalog(directory: Path) -> Path:
    """The example catalog with Chinese names (`names`) on two products and a promotion."""
    doc = json.loads(EXAMPLE_CATALOG.read_text())
    zh = {"MILK-1L": "全脂牛奶 1升", "YOG-STR": "草莓酸奶 180克"}
    for product in doc["products"]:
        if product["sku"] in zh:
            product["names"] = {"zh": zh[product["sku"]]}
    for promo in doc["promotions"]:
        if promo["id"] == "yog-3for2":
            promo["names"] = {"zh": "酸奶任选3件2.00"}
    path = directory / "catalog.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def printed_receipts(printer: NetworkPrinterSimulator) -> list[bytes]:
    """Each receipt's text part: the bytes before its QR code."""
    jobs = bytes(printer.printed).split(CUT)[:-1]
    return [job.split(b"\x1d(k")[0] for job in jobs]


def text_lines(receipt: bytes) -> list[str]:
    """The printed lines as read on paper: commands dropped, GB18030 decoded (ASCII is
    the same in it, and no command byte occurs inside a GB18030 character)."""
    body = receipt.split(b"\x1b@", 1)[1]  # after the initialise of the receipt
    return [CONTROL.sub(b"", line).decode("gb18030") for line in body.split(b"\n")[:-1]]


def wait_for_receipts(printer: NetworkPrinterSimulator, count: int) -> list[bytes]:
    deadline = time.monotonic() + 20
    while len(found := printed_receipts(printer)) < count:
        assert time.monotonic() < deadline, bytes(printer.printed)[-300:]
        time.sleep(0.05)
    return found


def sell_milk_and_yoghurts(daemon: Daemon) -> int:
    """The sale's journal seq."""
    assert daemon.key("scan", code=MILK)["ok"]
    assert daemon.key("scan", code=YOGHURT, quantity="3")["ok"]
    paid = daemon.key("tender", type="cash", amount="10")
    assert paid["ok"] and paid["state"] == "idle", paid
    return int(paid["records"][0])  # type: ignore[index]


def reprint(config: Path, seq: int, *more: str) -> list[str]:
    """`gateway receipt SEQ`: the copy as the command prints it."""
    done = subprocess.run(
        [str(GATEWAY), "receipt", str(seq), "--config", str(config), *more],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_chinese_cashiers_receipt_prints_in_chinese_and_the_next_cashiers_in_english(
    tmp_path: Path,
) -> None:
    printer = NetworkPrinterSimulator().start()
    config = box_config(
        tmp_path,
        f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
        'profile = "rongta-rp326-cjk"\n'
        '\n[screens.staff_languages]\n"101" = "zh"\n'  # Anna's own language
        '\n[store.texts.zh]\nfooter = ["谢谢惠顾！"]\n',  # the header stays [store]'s
    )
    catalog = chinese_catalog(tmp_path)
    config.write_text(config.read_text().replace(str(EXAMPLE_CATALOG), str(catalog)))
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        refused = daemon.key("sign_on", staff="101", pin="472951", language="fr")
        assert not refused["ok"] and refused["refused"] == "bad_language", refused
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]  # in her own: zh
        daemon.stop()  # the shift stays open, and so does its language
        daemon = Daemon(tmp_path, config, NO_SYNC)
        sale = sell_milk_and_yoghurts(daemon)
        [chinese] = wait_for_receipts(printer, 1)
        lines = text_lines(chinese)
        header, footer = lines[:3], lines[-2]
        assert [h.strip() for h in header] == [
            "Corner Shop",
            "Bahnhofstrasse 1, 8001 Zurich",
            "VAT CHE-123.456.789",
        ]  # the store's own header: no Chinese one configured
        assert re.fullmatch(r"box-1-000001 +\d{4}-\d\d-\d\d \d\d:\d\d", lines[4]), lines[4]
        assert re.fullmatch(r"日志 #\d+ [0-9a-f]{16}", lines[-1]), lines[-1]
        assert footer.strip() == "谢谢惠顾！"  # [store.texts.zh]
        rule = "-" * 42
        assert lines[3:4] + lines[5:-2] == [
            "                 购物小票",
            "收银员：Anna                 store-1/box-1",
            rule,
            "全脂牛奶 1升                          1.75",
            "草莓酸奶 180克                        2.55",
            "  3 x 0.85",
            "  酸奶任选3件2.00                    -0.55",
            rule,
            "已优惠                                0.55",
            "合计 CHF                              3.75",
            "现金                                 10.00",
            "找零                                  6.25",
            rule,
            "税                   净额    税额   含税额",
            "2.6%                 3.66    0.09     3.75",
            rule,
        ]
        # Chinese lines in GB18030 inside the printer's Chinese mode, ASCII lines outside
        total = FS_CHINESE_ON + "合计 CHF".encode("gb18030")
        assert total in chinese and "找零".encode("gb18030") + b" " * 34 + b"6.25" in chinese
        raw_lines = chinese.split(b"\x1b@", 1)[1].split(b"\n")[:-1]
        wide = [line for line in raw_lines if not line.isascii()]
        assert len(wide) == 12  # the lines with Chinese text, each in Chinese mode
        assert all(FS_CHINESE_ON in line and line.endswith(FS_CHINESE_OFF) for line in wide)
        assert "合计".encode() not in chinese

        assert daemon.key("close_shift", counted="3.75")["ok"]
        assert daemon.key("sign_on", staff="201", pin="836104")["ok"]  # the box's default: en
        sell_milk_and_yoghurts(daemon)
        english = text_lines(wait_for_receipts(printer, 2)[1])
        assert english[3].strip() == "RECEIPT" and english[5].startswith("Staff: Beat")
        assert english[7:10] == [
            "Whole milk 1 l                        1.75",
            "Yoghurt Strawberry 180 g              2.55",
            "  3 x 0.85",
        ]
        assert "TOTAL CHF                             3.75" in english
        assert "Change                                6.25" in english
        assert english[-2].strip() == "Thank you for shopping with us!"
        assert FS_CHINESE_ON not in wait_for_receipts(printer, 2)[1]

        copy = reprint(config, sale)  # in the language its cashier chose at sign-on
        assert copy[3].strip() == "*** 重印副本 / COPY ***" and copy[4].strip() == "购物小票"
        assert "合计 CHF                              3.75" in copy
        assert "全脂牛奶 1升                          1.75" in copy
        english_copy = reprint(config, sale, "--language", "en")
        assert "TOTAL CHF                             3.75" in english_copy
        assert english_copy[3].strip() == "*** COPY / 重印 ***"
    finally:
        daemon.stop()
        printer.stop()
