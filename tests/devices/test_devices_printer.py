"""Receipt printers through python-escpos over a real TCP socket and a real pty."""

from __future__ import annotations

import queue
import socket
import time

import pytest
from devices_testkit import StepClock
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import PrinterNotReady, PrinterOffline, ProfileError
from devices.events import DeviceState, DeviceStateEvent
from devices.printer import (
    FS_CHINESE_OFF,
    FS_CHINESE_ON,
    ReceiptPrinter,
    available_profiles,
    encode_text,
    load_printer_profile,
    new_receipt,
    parse_printer_uri,
)
from devices.printer_status import decode_status, status_byte
from devices.simulators.printer import NetworkPrinterSimulator, SerialPrinterSimulator


def test_profiles_load_and_reference_escpos_profiles():
    names = available_profiles()
    assert {"default", "epson-tm-t88v", "generic-58mm-cjk"} <= set(names)
    for name in names:
        profile = load_printer_profile(name)
        assert profile.columns in (32, 42, 48)
    assert load_printer_profile("epson-tm-t88v").columns == 42
    with pytest.raises(ProfileError):
        load_printer_profile("no-such-printer")


def test_uris():
    assert parse_printer_uri("tcp://10.0.0.5").target == "10.0.0.5:9100"
    serial_uri = parse_printer_uri("serial:///dev/ttyUSB0?baudrate=19200")
    assert (serial_uri.target, serial_uri.options["baudrate"]) == ("/dev/ttyUSB0", "19200")
    assert parse_printer_uri("usb://04B8:0202").target == "04b8:0202"
    with pytest.raises(PrinterOffline):
        parse_printer_uri("lpt://nowhere")


def test_status_decoding_epson_table():
    # device-protocols.md §5.2: paper end = 0x60 on n=4, cover open = bit 2 on n=2
    assert decode_status({1: 0x12, 2: 0x12, 4: 0x12}).state is DeviceState.READY
    assert decode_status({1: 0x1A, 2: 0x32, 4: 0x72}).state is DeviceState.PAPER_OUT
    assert decode_status({1: 0x1A, 2: 0x16, 4: 0x12}).state is DeviceState.COVER_OPEN
    assert decode_status({1: 0x12, 2: 0x12, 4: 0x1E}).state is DeviceState.PAPER_NEAR_END
    assert not decode_status({}).answered
    assert not decode_status({1: 0x41}).answered  # no 0x12 pattern: not a status reply


@given(st.dictionaries(st.sampled_from([1, 2, 3, 4, 5]), st.integers(0, 255)))
def test_fuzz_status_decoder(replies):
    status = decode_status(replies)
    assert status.state in DeviceState
    status.describe()


def test_print_bytes_arrive_and_status_ready():
    with NetworkPrinterSimulator() as sim:
        events: queue.Queue = queue.Queue()
        with ReceiptPrinter("front", sim.uri, "epson-tm-t88v", timeout=1, sink=events.put) as p:
            receipt = new_receipt(p.profile)
            receipt.textln("TOTAL 12.34")
            receipt.cut()
            status = p.print_bytes(bytes(receipt.output))
            p.kick_drawer()
        wait_until(lambda: b"\x1b\x70\x00" in sim.received)
    assert status is not None and status.answered and status.state is DeviceState.READY
    assert b"TOTAL 12.34\n" in sim.printed
    assert sim.printed.endswith(b"\x1b\x70\x00\x32\x32")  # ESC p pin 2, 100 ms
    assert sim.queries[:3] == [1, 2, 4]
    first = events.get_nowait()
    assert isinstance(first, DeviceStateEvent) and first.state is DeviceState.READY


def test_paper_out_refuses_to_print_and_reports_state():
    with NetworkPrinterSimulator() as sim:
        sim.flags.add("paper_out")
        events: queue.Queue = queue.Queue()
        with ReceiptPrinter("front", sim.uri, timeout=1, sink=events.put, clock=StepClock()) as p:
            with pytest.raises(PrinterNotReady) as info:
                p.print_bytes(b"hello\n")
            assert "paper" in info.value.describe()
            assert events.get_nowait().state is DeviceState.PAPER_OUT
            sim.flags.clear()
            p.print_bytes(b"hello\n")
            assert events.get_nowait().state is DeviceState.READY
        wait_until(lambda: b"hello\n" in sim.printed)
    assert sim.printed.count(b"hello") == 1


def test_cover_open():
    with NetworkPrinterSimulator() as sim:
        sim.flags.add("cover_open")
        with ReceiptPrinter("front", sim.uri, timeout=1) as p:
            assert p.status().state is DeviceState.COVER_OPEN


def test_late_status_replies_are_not_taken_for_the_next_query():
    with NetworkPrinterSimulator() as sim:
        sim.reply_delay = 0.15
        with ReceiptPrinter("front", sim.uri, timeout=1, status_timeout=0.05) as p:
            assert not p.status().answered  # the reply comes after we stopped waiting
            time.sleep(0.3)  # ... and is now sitting in the socket
            sim.reply_delay = 0.0
            sim.flags.add("paper_out")
            assert p.status().state is DeviceState.PAPER_OUT


def test_printer_that_never_answers_status_is_unknown_not_healthy_and_bounded():
    with NetworkPrinterSimulator() as sim:
        sim.silent = True
        with ReceiptPrinter("front", sim.uri, timeout=1, status_timeout=0.1) as p:
            started = time.monotonic()
            status = p.status()
            assert (
                time.monotonic() - started < 1.0
            )  # 0.1 s per query, one query: bounded, with slack for a loaded CI box
            assert not status.answered and "unknown" in status.describe()
            p.print_bytes(b"still prints\n")
        wait_until(lambda: b"still prints" in sim.printed)


def test_refused_connection_is_offline_quickly():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    events: queue.Queue = queue.Queue()
    printer = ReceiptPrinter("front", f"tcp://127.0.0.1:{port}", timeout=1, sink=events.put)
    started = time.monotonic()
    with pytest.raises(PrinterOffline) as info:
        printer.print_bytes(b"x")
    assert time.monotonic() - started < 1.5
    assert "9100" in info.value.describe()
    assert events.get_nowait().state is DeviceState.OFFLINE


def test_stalled_printer_times_out_instead_of_hanging():
    with NetworkPrinterSimulator(stalled=True) as sim:
        printer = ReceiptPrinter("front", sim.uri, timeout=0.5, status_timeout=0.05)
        started = time.monotonic()
        with pytest.raises(PrinterOffline):
            printer.print_bytes(b"x" * 8_000_000)
        assert time.monotonic() - started < 3
        printer.close()


def test_serial_printer_over_pty():
    with SerialPrinterSimulator() as sim:
        sim.responder.flags.add("paper_near_end")
        uri = f"serial://{sim.path}?baudrate=19200"
        with ReceiptPrinter("kitchen", uri, "default", timeout=1) as p:
            status = p.print_bytes(b"kitchen order 7\n")
            p.cut()
        wait_until(lambda: b"\x1dV" in sim.responder.printed)
    assert status.state is DeviceState.PAPER_NEAR_END and status.can_print
    assert b"kitchen order 7\n" in sim.responder.printed


def test_cjk_text_gb18030_only_where_the_profile_allows():
    cjk = load_printer_profile("generic-58mm-cjk")
    plain = load_printer_profile("epson-tm-t88v")
    out = encode_text("中文 ok", cjk)
    assert out == FS_CHINESE_ON + "中文 ok".encode("gb18030") + FS_CHINESE_OFF
    assert "中文".encode("gb18030") == bytes.fromhex("d6d0cec4")  # device-protocols.md §5.4
    latin = encode_text("中文 ok", plain)
    assert b"\xd6\xd0" not in latin and b"?? ok" in latin
    accented = encode_text("caf\u00e9", cjk)  # code-page text: leave Chinese mode first
    assert accented.startswith(FS_CHINESE_OFF) and accented.endswith(b"\x82")
    assert not encode_text("cafe", cjk).startswith(FS_CHINESE_OFF)


def test_test_page_reports_status():
    with NetworkPrinterSimulator() as sim:
        with ReceiptPrinter("front", sim.uri, "generic-58mm-cjk", timeout=1) as p:
            status = p.print_test_page()
        wait_until(lambda: FS_CHINESE_OFF in sim.printed)
    assert status.answered
    assert b"profile: generic-58mm-cjk" in sim.printed
    assert FS_CHINESE_ON + "中文测试".encode("gb18030") in sim.printed


def test_status_byte_round_trip():
    for flags in ({"paper_out"}, {"cover_open"}, set()):
        replies = {n: status_byte(n, flags) for n in (1, 2, 4)}
        assert flags <= decode_status(replies).flags


def wait_until(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_settings_overrides_cjk_and_code_page():
    printer = ReceiptPrinter(
        "p", "tcp://127.0.0.1:9100", "epson-tm-t88v", cjk=True, code_page="CP858"
    )
    assert printer.profile.cjk and not load_printer_profile("epson-tm-t88v").cjk
    assert printer.encode_text("中文").startswith(FS_CHINESE_ON)
    euro = printer.encode_text("5 €")
    assert euro.endswith(b"5 \xd5")  # CP858 puts the euro sign at 0xD5
    receipt = printer.new_receipt()
    receipt.text("€")
    assert bytes(receipt.output).endswith(b"\xd5")


def test_printer_monitor_reports_offline_and_back():
    import threading

    from devices.runner import PrinterMonitor

    sim = NetworkPrinterSimulator().start()
    port = sim.port
    events: queue.Queue = queue.Queue()
    printer = ReceiptPrinter("front", sim.uri, timeout=0.3, sink=events.put)
    monitor = PrinterMonitor(printer, interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=monitor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert next_state(events) is DeviceState.READY
        sim.stop()
        assert next_state(events) is DeviceState.OFFLINE
        sim = NetworkPrinterSimulator(port=port).start()
        sim.flags.add("paper_near_end")
        assert next_state(events) is DeviceState.PAPER_NEAR_END
    finally:
        stop.set()
        thread.join(timeout=2)
        sim.stop()
    assert not thread.is_alive()


def next_state(events: queue.Queue, timeout: float = 3.0) -> DeviceState:
    event = events.get(timeout=timeout)
    assert isinstance(event, DeviceStateEvent)
    return event.state
