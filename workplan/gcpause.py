"""Pausing the cyclic garbage collector around bulk work.

Reading a large actions file or syncing it builds hundreds of thousands of objects that stay
alive until the work ends. Each few hundred allocations set off the cyclic collector, which
walks the ever-growing heap again and again: on a 10,000-action workplan that is more than
half of the time. The work creates little or no cyclic garbage, and whatever it does create is
collected when the collector resumes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
