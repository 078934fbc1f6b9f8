"""The card-reader simulator: magstripe swipes and RFID taps typed as key events and read
through the wedge adapter and decoder — in-process, on the command line, and by the daemon
from a FIFO (staff badge signs on, a payment card pays, nothing of the track is kept)."""

from __future__ import annotations

import queue
import sqlite3
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from daemon_testkit import NO_SYNC, Daemon, box_config

from devices.cards import CardLineDecoder, WedgeCardDecoder
from devices.events import CardEvent, CardKind, DeviceStateEvent
from devices.inputs import WedgeInput
from devices.keymaps import load_keymap
from devices.settings import InputMatch
from devices.simulators.card_reader import CardReaderSimulator, key_events, swipe_text, tap_text
from gateway.cli import main

VISA_TEST = "4111111111111111"  # the schemes' published test PAN
TRACK1 = f"%B{VISA_TEST}^TEST/CARD^29121010000000000000?"
TRACKS = TRACK1 + f";{VISA_TEST}=29121010000000000000?"
BADGE = bytes.fromhex("04A1B2C3")
MILK = "7612345001036"


def test_what_a_reader_types_for_a_tap_and_a_swipe() -> None:
    assert tap_text(BADGE) == "0077705923"  # 10-digit decimal, MSB first
    assert tap_text(BADGE, byte_order="lsb_first") == f"{0xC3B2A104:010d}"
    assert tap_text(BADGE, rfid_format="hex") == "04A1B2C3"
    assert swipe_text() == "E"  # nothing readable
    assert swipe_text(None, ";123=4?") == ";123=4?"


def test_layouts_and_byte_orders_decode_to_one_card_id() -> None:
    at = lambda: None  # noqa: E731 - the decoder only stamps events
    for layout in ("us", "de", "fr"):
        for order in ("msb_first", "lsb_first"):
            decoder = WedgeCardDecoder(
                CardLineDecoder("r", at, rfid_byte_order=order, staff_prefixes=("04A1",)),
                load_keymap(layout),
            )
            typed = key_events(tap_text(BADGE, byte_order=order), layout, start=1000.0)
            events = [o for e in typed for o in decoder.feed(e)]
            assert len(events) == 1 and isinstance(events[0], CardEvent), (layout, order)
            assert events[0].card_id == "04A1B2C3" and events[0].kind is CardKind.STAFF


def test_the_fifo_is_read_by_the_wedge_adapter_like_a_node(tmp_path: Path) -> None:
    fifo = tmp_path / "reader"
    events: queue.Queue[object] = queue.Queue()
    decoder = WedgeCardDecoder(CardLineDecoder("front", lambda: None), load_keymap("us"))
    stop = threading.Event()
    with CardReaderSimulator(fifo) as sim:
        wedge = WedgeInput("front", "card_reader", InputMatch(path=str(fifo)), decoder,
                           events.put, clock=lambda: None)  # type: ignore[arg-type]  # fmt: skip
        thread = threading.Thread(target=wedge.run, args=(stop,), daemon=True)
        thread.start()
        try:
            state = events.get(timeout=5)
            assert isinstance(state, DeviceStateEvent) and state.state.value == "connected"
            sim.swipe(TRACK1)  # a card with one track
            sim.tap(BADGE)
            first, second = events.get(timeout=5), events.get(timeout=5)
        finally:
            stop.set()
            thread.join(5)
    assert isinstance(first, CardEvent) and first.kind is CardKind.PAYMENT
    assert first.masked == "411111******1111" and first.card_id is None
    assert isinstance(second, CardEvent) and second.card_id == "04A1B2C3"


def test_the_rehearsal_command_uses_the_configured_reader(tmp_path: Path, capsys) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[[devices.card_readers]]\nname = "front"\nmatch = { vendor_product = "0801:0001" }\n'
        'staff_prefixes = ["04A1"]\nrfid_byte_order = "lsb_first"\n'
    )
    args = ["devices", "simulate", "card-reader", "--config", str(config)]
    # the reader types LSB first, the settings say so: one card id, the staff prefix matches
    assert main([*args, "--tap", "04A1B2C3", "--swipe", TRACKS]) == 0
    out = capsys.readouterr().out
    assert "card 1: " in out and "staff 04A1B2C3 (rfid)" in out
    assert "payment 411111******1111" in out and "TEST/CARD" not in out and "2912" not in out
    # a reader programmed for AZERTY on a box that expects US: the rehearsal shows it
    assert main([*args, "--tap", "04A1B2C3", "--layout", "fr"]) == 1
    assert "not a card id" in capsys.readouterr().out


def test_the_daemon_reads_the_simulated_reader_staff_badge_and_payment_card(
    tmp_path: Path,
) -> None:
    from gateway.database import open_database
    from gateway.lane.staff import StaffDirectory
    from gateway.settings import load_settings

    fifo = tmp_path / "card-reader.fifo"
    config = box_config(
        tmp_path,
        f'\n[[devices.card_readers]]\nname = "front"\nmatch = {{ path = "{fifo}" }}\n'
        'staff_prefixes = ["04A1"]\n',
    )
    db = open_database(tmp_path / "storegate.db")
    StaffDirectory(db, load_settings(config).lane).add("102", "Cleo", "cashier", card="04A1B2C3")
    db.conn.close()
    with CardReaderSimulator(fifo) as sim:
        daemon = Daemon(tmp_path, config, NO_SYNC)
        try:
            deadline = time.monotonic() + 20
            while daemon.status()["devices"].get("front", {}).get("state") != "connected":
                assert time.monotonic() < deadline, daemon.status()["devices"]
                time.sleep(0.05)
            sim.tap(BADGE)
            while daemon.status()["lane"]["cashier"] != "Cleo":
                assert time.monotonic() < deadline, daemon.status()["lane"]
                time.sleep(0.05)
            assert daemon.key("scan", code=MILK)["ok"]
            sim.swipe(TRACKS)
            while daemon.status()["lane"]["state"] != "idle":
                assert time.monotonic() < deadline, daemon.status()["lane"]
                time.sleep(0.05)
        finally:
            daemon.stop()
    with sqlite3.connect(f"file:{tmp_path / 'storegate.db'}?mode=ro", uri=True) as conn:
        dump = "\n".join(str(row) for row in conn.iterdump())
    assert "411111******1111" in dump  # the masked number only
    assert VISA_TEST not in dump and "TEST/CARD" not in dump  # no track data kept
    assert VISA_TEST not in daemon.output() and "TEST/CARD" not in daemon.output()
