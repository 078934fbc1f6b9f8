"""What the customer pole display shows, following the screens' view.

Owns the choice of the two lines: the last item and its price while ringing up, the total
(and what is still due) during payment, the change and a thank-you after it, a welcome
when idle. Writes happen on a thread of their own (a serial write can block for as long as
the display's buffer drains), always the newest view; a display that fails is retried on
the next change. It never prices: every amount is a string from the view.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable

from devices.errors import DeviceError
from devices.pole_display import PoleDisplay
from gateway.i18n import translator
from gateway.screens.view import ScreenView

Lines = tuple[tuple[str, str], tuple[str, str]]


def pole_lines(view: ScreenView, language: str, store_name: str) -> Lines:
    """The two (label, value) lines for `view`."""
    t = translator(language)
    if view.paid and view.due:
        return (t("total"), view.total), (t("pole_due"), view.due)
    line = view.last_line
    if line is not None:
        return (line.name, line.amount_plain), (t("total"), view.total)
    sale = view.thanks  # cleared at the next sign-on or after [screens] thanks_seconds
    if sale is not None:
        if sale.change_amount:
            return (t("total"), sale.total), (t("change"), sale.change)
        return (t("thank_you"), ""), (t("total"), sale.total)
    return (t("welcome"), ""), (store_name, "")


def _can_show(encoding: str, language: str) -> bool:
    """A Chinese screen with a Latin-only pole display: the pole stays English (not '??')."""
    try:
        translator(language)("total").encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


class PoleFeed:
    """Follows a hub (`hub.add_listener(feed)`) and keeps the display showing its view."""

    def __init__(
        self,
        display: PoleDisplay,
        *,
        language: str | None,
        store_name: str,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """`language`: the display's own; None: each view's (the signed-on cashier's).
        Either falls back to English on a display whose character set cannot show it."""
        self.display = display
        self.language = language
        self.store_name = store_name
        self.on_error = on_error
        self._views: queue.Queue[ScreenView | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="pole display", daemon=True)
        self._shown: Lines | None = None
        self._thread.start()

    def __call__(self, view: ScreenView) -> None:
        """Listener: keep only the newest view (older ones would be overwritten anyway)."""
        with contextlib.suppress(queue.Empty):
            self._views.get_nowait()
        with contextlib.suppress(queue.Full):
            self._views.put_nowait(view)

    def stop(self) -> None:
        with contextlib.suppress(queue.Empty):
            self._views.get_nowait()
        self._views.put(None)
        self._thread.join(timeout=3)
        self.display.close()

    def _run(self) -> None:
        while (view := self._views.get()) is not None:
            language = self.language or view.language
            if not _can_show(self.display.encoding, language):
                language = "en"
            lines = pole_lines(view, language, self.store_name)
            if lines == self._shown:
                continue
            try:
                self.display.show_pair(*lines)
                self._shown = lines
            except DeviceError as exc:
                self._shown = None
                if self.on_error is not None:
                    self.on_error(str(exc))
