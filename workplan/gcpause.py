"""Fast path: the cyclic garbage collector kept out of bulk work. Every such use is here.

Python's cyclic collector runs after every few hundred allocations and, now and then, walks the
whole heap. Work that builds hundreds of thousands of objects that all stay alive until it ends
(and makes little or no cyclic garbage) pays for that walk again and again. Each use below is
kept because bench/README.md has a target it is needed for; measured on the bench's 10,000-action
workplan, CPU seconds, medians of interleaved runs on 2026-12-06 (a loaded machine: compare
the pairs, not the seconds with the table):

* :func:`paused_gc` around reading the actions file (``spec.loads``) and syncing it
  (``services.sync``): the first sync 5.96 s with, 10.15 s without (target: 10 s at 10,000
  actions, and at most 12x from 10,000 to 100,000);
* :func:`paused_gc` around each read command (``cli/reading.py``): ``overdue --format json``
  0.50 s with, 0.55 s without; and :func:`leave_survivors` at the end of the ``workplan``
  program: 0.58 s without. Together they hold the target of that command (at most 1.5x
  ``import sqlalchemy.orm``: 1.22x in the table, 1.68x in one run of the same code).

Rendering the feeds is not paused: 4.81 s with a pause against 4.95 s without (``calendars``
at 10,000 actions; 3.3 s in the table, target 5 s). tests/test_fast_paths.py checks that what
a paused piece of work returns is what it returns with the collector running.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block; whatever cyclic garbage it made is collected
    when the collector resumes."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def leave_survivors() -> None:
    """At the end of a process: leave what is still alive to the operating system.

    When the interpreter exits it runs the cyclic collector over everything still alive
    (SQLAlchemy's classes, the rows just printed): a tenth of a second after a listing of 10,000
    actions, with the output already written. Frozen objects are never collected again, so this
    is for the end of the program only (the tests call ``main`` many times in one process)."""
    gc.freeze()
