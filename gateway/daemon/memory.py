"""Giving back to the operating system the heap that start-up used and freed, and keeping
full garbage collections from walking what start-up built.

Start-up parses the settings, the catalog and the libraries' data files (biip's prefix
tables arrive as ~5 MB of JSON text) and frees most of it again; glibc keeps those freed
blocks in its arenas, so they would stay in the daemon's RSS for its whole life. Once the
daemon is ready, `release_freed_heap()` runs a full garbage collection and then glibc's
`malloc_trim(0)`, which returns free pages of every arena. It frees nothing still in use,
and later allocations simply take pages again. Where the C library is not glibc (musl,
macOS) there is no `malloc_trim` and only the collection runs.

The same call freezes what survives (`gc.freeze`): the modules, models and the catalog
then sit in the permanent generation, which a full collection does not walk. Without
it a full collection, triggered every few hundred big baskets, walked a 20,000-product
catalog for about 55 ms on the main loop, i.e. a scan waited that long (0.1 ms
frozen). Frozen objects are still freed by reference counting; only garbage in
reference cycles would stay, so the daemon calls this again after swapping a catalog,
and each call first unfreezes and collects.

Owns nothing else; no thread, no timer (bench/README.md, section "Daemon", has the figures).
"""

from __future__ import annotations

import ctypes
import gc


def release_freed_heap() -> bool:
    """Collect garbage, freeze the survivors, then `malloc_trim(0)`; True when glibc gave
    memory back."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim with
        return False
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0))
