"""At shutdown the main loop answers whoever still waits on it (a key press on a screen, a
control request, a pushed document) instead of leaving them to their 20-30 s time-outs."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

from daemon_testkit import write_config

from gateway.daemon.box import Box, DocumentJob, Request
from gateway.daemon.requests import StatusRequest
from gateway.daemon.screens import Call
from gateway.errors import StoregateError
from gateway.settings import load_settings


def test_what_waits_on_the_loop_at_shutdown_is_answered_at_once(tmp_path: Path) -> None:
    box = Box(load_settings(write_config(tmp_path)), None)
    asked: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    pressed: queue.SimpleQueue[Any] = queue.SimpleQueue()
    pushed: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
    box.inbox.put(Request(StatusRequest(), asked))
    box.inbox.put(Call(lambda: "never run", pressed))
    box.inbox.put(DocumentJob("catalog", 2, {}, pushed))
    box._answer_waiting()
    answer = asked.get_nowait()
    assert answer["ok"] is False and "stopping" in answer["error"], answer
    refused = pressed.get_nowait()
    assert isinstance(refused, StoregateError) and "stopping" in refused.what
    document = pushed.get_nowait()
    assert document is not None and "stopping" in str(document)
    assert box.inbox.empty()
