"""What `gateway run` loads, and the heap it gives back: guards for the idle-RSS work
(bench/README.md, section "Daemon"). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

# What `gateway run` imports before it reads its settings: the command tree (every room's
# sub-commands are registered) and the daemon with sync and the screens' glue.
RUN = """
import gateway.cli
gateway.cli.build_parser("gateway", "", gateway.cli.COMMAND_MODULES)
import gateway.daemon.box, gateway.daemon.status, gateway.sync.service
"""


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_box_runs_without_head_offices_libraries() -> None:
    """A box installs no extra: nothing of the box may import psycopg or matplotlib (`cloud`),
    numpy (which only matplotlib brings; sqlite-utils merely uses it when present) or amqtt
    (`demo`)."""
    _python(
        "import sys\nfor name in ('numpy', 'matplotlib', 'psycopg', 'amqtt'):\n"
        "    sys.modules[name] = None  # import raises ImportError, as on a box\n"
        + RUN
        + "import gateway.daemon.install, gateway.daemon.doctor, gateway.screens.app\n"
        "import gateway.receipts.escpos, devices.printer, gateway.sync.signing\n"
    )


def test_gateway_run_loads_escpos_and_the_screens_only_when_configured() -> None:
    loaded = json.loads(
        _python(
            "import sys, json\n" + RUN + "print(json.dumps(sorted({m.split('.')[0] "
            "for m in sys.modules})))"
        )
    )
    assert not {"matplotlib", "psycopg", "amqtt"} & set(loaded)
    # python-escpos comes with the first configured printer (PrinterWorker, printer_for);
    # the web stack with `[screens] enabled` (gateway.daemon.screens).
    assert not {"escpos", "starlette", "uvicorn", "jinja2", "qrcode"} & set(loaded)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_goes_back_to_the_system() -> None:
    """Blocks freed around a few survivors stay in RSS until `release_freed_heap()`."""
    figures = json.loads(
        _python("""
import json, os
from gateway.daemon.memory import release_freed_heap

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

blocks = [bytes(4000) + bytes([i % 251]) for i in range(20000)]  # ~80 MB, malloc heap
keep = blocks[::50]  # survivors scattered through the heap stop free() trimming its top
del blocks
before = rss()
trimmed = release_freed_heap()
print(json.dumps({"before": before, "after": rss(), "trimmed": trimmed, "kept": len(keep)}))
""")
    )
    assert figures["trimmed"] is True
    assert figures["before"] - figures["after"] > 40, figures


def test_survivors_are_frozen_out_of_full_collections_and_a_swap_frees_old_cycles() -> None:
    """After `release_freed_heap()` a full collection does not walk the catalog built at
    start-up; calling it again (the daemon does after a catalog swap) still frees the old
    catalog's reference cycles, which freezing alone would keep for ever."""
    figures = json.loads(
        _python("""
import gc, json, time, weakref
from gateway.daemon.memory import release_freed_heap

class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it

def full_collection_ms():
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000

catalog = [{"sku": str(i), "names": [str(i)] * 3} for i in range(300_000)]
walked = full_collection_ms()
release_freed_heap()
frozen = full_collection_ms()
old = Node()
gone = weakref.ref(old)
release_freed_heap()  # `old` is frozen now; the daemon swaps its catalog:
del old
release_freed_heap()
print(json.dumps({"walked": walked, "frozen": frozen, "freed": gone() is None,
                  "frozen_count": gc.get_freeze_count()}))
""")
    )
    assert figures["frozen_count"] > 300_000, figures
    assert figures["frozen"] < figures["walked"] / 5, figures
    assert figures["freed"] is True, figures
