"""The engine process runs below the window's priority, every thread of it (Linux nice values are per thread)."""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

import pytest


def _threads_nice(queue) -> None:
    import threading

    from gui.jobs import lower_priority

    started, stop = threading.Event(), threading.Event()

    def pool_thread():  # stands for a BLAS pool that an import started before the priority was lowered
        started.set()
        stop.wait(10)

    threading.Thread(target=pool_thread, daemon=True).start()
    started.wait(5)
    lower_priority(5)
    later = threading.Thread(target=stop.wait, args=(10,), daemon=True)  # started after: inherits it
    later.start()
    nice = [
        int(Path(f"/proc/self/task/{t}/stat").read_text().rsplit(")", 1)[1].split()[16])
        for t in os.listdir("/proc/self/task")
    ]
    stop.set()
    queue.put(nice)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux matter")
def test_every_thread_of_the_engine_process_is_niced():
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_threads_nice, args=(queue,))
    child.start()
    nice = queue.get(timeout=60)
    child.join(30)
    assert len(nice) >= 3 and all(n >= 5 for n in nice), nice
