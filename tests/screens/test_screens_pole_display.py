"""The pole display driver through its simulator: real pyserial on a real pty, and the
simulator's decoder turning the bytes back into the two lines a customer would read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.errors import DeviceNotFound
from devices.pole_display import PoleDisplay, columns, fit, two_columns
from devices.simulators.pole_display import PoleDisplayScreen, PoleDisplaySimulator


@pytest.fixture
def sim() -> Iterator[PoleDisplaySimulator]:
    with PoleDisplaySimulator() as display:
        yield display


@pytest.mark.parametrize("command_set", ["cd5220", "escpos"])
def test_item_then_total_then_change(command_set: str) -> None:
    with PoleDisplaySimulator() as sim, PoleDisplay(sim.path, command_set=command_set) as pole:
        assert isinstance(sim, PoleDisplaySimulator)
        pole.show_pair(("Whole milk 1 l", "1.75"), ("Total", "CHF 1.75"))
        top, bottom = sim.wait_for("Whole milk 1 l  1.75", "Total       CHF 1.75")
        assert (top, bottom) == ("Whole milk 1 l  1.75", "Total       CHF 1.75")
        pole.show_pair(("Total", "CHF 12.40"), ("Change", "CHF 7.60"))
        top, bottom = sim.wait_for(bottom="Change      CHF 7.60")
        assert top == "Total      CHF 12.40" and bottom == "Change      CHF 7.60"
        assert sim.screen.unknown == b""
        assert sim.received.startswith(b"\x1b@")  # reset first


def test_cd5220_frames_use_the_line_commands(sim: PoleDisplaySimulator) -> None:
    with PoleDisplay(sim.path) as pole:
        pole.show("Welcome", "Corner Shop", top_align="center", bottom_align="center")
        sim.wait_for("Welcome", "Corner Shop")
    data = bytes(sim.received)
    assert b"\x0c\x1bQA      Welcome       \r\x1bQB    Corner Shop     \r" in data


def test_long_names_are_cut_and_the_price_always_shows(sim: PoleDisplaySimulator) -> None:
    with PoleDisplay(sim.path) as pole:
        pole.show_pair(("Olive oil extra virgin 5 dl", "12.90"), ("", ""))
        top, _ = sim.wait_for("Olive oil extr 12.90")
    assert top == "Olive oil extr 12.90"


def test_chinese_text_is_never_cut_in_half() -> None:
    # 9 CJK characters = 18 columns; with a 4-column price 15 are left: 7 characters.
    name = "进口特级初榨橄榄油"
    line = two_columns(name, "9.90", "gb18030")
    assert len(line) == 20
    assert line.decode("gb18030") == "进口特级初榨橄  9.90"
    odd = fit("a" + name, "gb18030")  # 1 + 2 * 9 = 19 columns: fits, padded to 20
    assert odd.decode("gb18030") == "a" + name + " "
    cut = fit("ab" + name, "gb18030")  # 20 columns exactly
    assert cut.decode("gb18030") == "ab" + name
    cut = fit("abc" + name, "gb18030")  # the last character would cross column 20
    assert cut.decode("gb18030") == "abc" + name[:-1] + " "
    assert columns("牛奶", "gb18030") == 4


def test_chinese_display_through_the_simulator() -> None:
    with (
        PoleDisplaySimulator(encoding="gb18030") as sim,
        PoleDisplay(sim.path, encoding="gb18030") as pole,
    ):
        assert isinstance(sim, PoleDisplaySimulator)
        pole.show_pair(("全脂牛奶 1升 特价商品", "¥12.50"), ("合计", "¥88.00"))
        top, bottom = sim.wait_for(bottom="合计         ￥88.00")
    assert "\ufffd" not in top + bottom  # the half-width yen became the GB full-width one
    assert top == "全脂牛奶 1升 ￥12.50"
    assert bottom == "合计         ￥88.00"


def test_unshowable_characters_become_question_marks() -> None:
    assert fit("Café €2", "ascii") == b"Caf? ?2" + b" " * 13
    assert fit("Café €2", "cp858") == "Café €2".encode("cp858") + b" " * 13


def test_decoder_handles_split_writes_and_cursor_moves() -> None:
    screen = PoleDisplayScreen()
    for chunk in (b"\x1b@HELLO", b"\x1bl", b"\x05\x02", b"X", b"\x1bQ", b"Atop\r", b"\x0b!"):
        screen.feed(chunk)
    assert screen.lines == ("!op" + " " * 17, "    X" + " " * 15)
    screen.feed(b"\x1bZ")
    assert screen.unknown == b"\x1bZ"


def test_missing_display_reports_and_comes_back_when_plugged_in(tmp_path: Path) -> None:
    """The configured by-id path does not exist yet: an error with a fix, no crash; once it
    appears (a symlink to the simulator's pty, as udev would make) the next frame shows."""
    link = tmp_path / "usb-Prolific_pole-if00-port0"
    pole = PoleDisplay(str(link))
    with pytest.raises(DeviceNotFound) as info:
        pole.show("one", "")
    assert "plug the device in" in (info.value.fix or "")
    with PoleDisplaySimulator() as sim:
        assert isinstance(sim, PoleDisplaySimulator)
        link.symlink_to(sim.path)
        pole.show("two", "lines")
        assert sim.wait_for("two", "lines") == ("two" + " " * 17, " " * 15 + "lines")
        pole.close()


def test_unknown_command_set_is_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="cd5220, escpos"):
        PoleDisplay("/dev/null", command_set="epson")


def test_feed_shows_chinese_only_on_a_display_that_can() -> None:
    from gateway.screens.pole import PoleFeed
    from gateway.screens.view import ScreenView

    idle = ScreenView(language="zh", state="idle", state_text="")
    for encoding, expected in (("ascii", "Welcome"), ("gb18030", "欢迎光临")):
        with PoleDisplaySimulator(encoding=encoding) as sim:
            assert isinstance(sim, PoleDisplaySimulator)
            feed = PoleFeed(
                PoleDisplay(sim.path, encoding=encoding), language="zh", store_name="Corner Shop"
            )
            feed(idle)
            top, bottom = sim.wait_for(expected, "Corner Shop")
            feed.stop()
        assert (top.strip(), bottom.strip()) == (expected, "Corner Shop")


def test_feed_without_a_language_follows_each_views_language() -> None:
    from gateway.screens.pole import PoleFeed
    from gateway.screens.view import ScreenView

    with PoleDisplaySimulator(encoding="gb18030") as sim:
        assert isinstance(sim, PoleDisplaySimulator)
        feed = PoleFeed(PoleDisplay(sim.path, encoding="gb18030"), language=None, store_name="S")
        feed(ScreenView(language="zh", state="idle", state_text=""))  # a Chinese cashier
        assert sim.wait_for("欢迎光临", "S")[0].strip() == "欢迎光临"
        feed(ScreenView(language="en", state="closed", state_text=""))  # signed off
        assert sim.wait_for("Welcome", "S")[0].strip() == "Welcome"
        feed.stop()
