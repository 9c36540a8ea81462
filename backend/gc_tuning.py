"""The garbage collector set for bursts of short-lived objects.

A bulk import or a health pass allocates tens of thousands of small objects (rows,
dataclasses) in no reference cycles, which reference counting frees. Yet at the
default thresholds the collector runs every 700 allocations, and each older-generation
pass walks the objects the program loaded first (SQLAlchemy, the models, the schema):
a quarter of an import's time, as much of a health pass's Python. Long-running
processes move what start-up built out of the collector's sight once (``gc.freeze()``
in ``backend/entrypoints/app.py`` and ``waypost worker``); a burst then collects its youngest
generation every 50,000 allocations instead of 700.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_holders = 0
_saved = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The youngest generation collected every ``YOUNG_THRESHOLD`` allocations while
    the block runs; overlapping blocks (concurrent passes) count as one, and the last
    to end restores the thresholds."""
    global _holders, _saved
    with _lock:
        _holders += 1
        if _holders == 1:
            _saved = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, *_saved[1:])
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_saved)
