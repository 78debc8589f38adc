"""Python's cyclic garbage collector, set for a process that hosts a worker.

A worker keeps every cached workflow in memory (up to MAX_CACHED_WORKFLOWS pairings, each with its
state, events and pending coroutines), and the default collector walks all of it on every full
collection: a young collection every 700 new container objects, an older one every 10 of those. In
a simulated program of 1,000 pairings the worker spent 20 of its 137 CPU seconds in the collector,
13 of them in 32 full collections. The bare yardstick of bench/lifecycle.py, with its few objects,
spent 0.7 s. With the settings below: 1.9 s, for 490 MB of peak memory instead of 470.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# New container objects between young collections (default 700), then young collections between
# middle ones and middle ones between full ones (defaults 10 and 10). Cyclic garbage still goes in
# the young collections, where nearly all of it is: a fired timer's exception, a finished task.
THRESHOLDS = (50_000, 20, 10)

# Tunings in force: only the first changes the settings, only the last to end gives them back, in
# whatever order they end (two workers started by concurrent tasks need not stop last-in first-out).
_depth = 0
_before: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def tuned() -> Iterator[None]:
    """Within: the thresholds above, and what was alive on entry (modules, classes, validators)
    frozen out of every collection. The process's own settings come back on exit."""
    global _depth, _before
    if _depth == 0:
        _before = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.set_threshold(*_before)
            gc.unfreeze()
