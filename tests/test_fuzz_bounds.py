"""The hostile suites' ``bounded``: a case's own time counts (computing or blocked), the time the
machine's load kept it off the CPU does not, so a loaded machine fails no case."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from fuzz import bounded, cpu_wait


def spin(seconds: float) -> None:
    """Compute for ``seconds`` of this thread's CPU time."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def test_computing_or_blocking_past_the_bound_fails() -> None:
    with pytest.raises(AssertionError, match=r"the bound is 0.2 s"), bounded(seconds=0.2, megabytes=16):
        time.sleep(0.3)  # blocked, not waiting for a CPU: counts
    with pytest.raises(AssertionError, match=r"the bound is 0.2 s"), bounded(seconds=0.2, megabytes=16):
        spin(0.3)
    with pytest.raises(AssertionError, match=r"peak .* the bound is 1 MB"), bounded(seconds=5, megabytes=1):
        bytearray(2 * 1024 * 1024)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or cpu_wait() == 0.0, reason="Linux schedstat")
def test_time_spent_waiting_for_a_cpu_is_not_the_cases() -> None:
    cpu = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    # a competitor for the one CPU this thread may run on: the case gets about half of it
    rival = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"]
    )
    try:
        os.sched_setaffinity(0, {cpu})
        time.sleep(0.2)  # the rival is spinning
        with bounded(seconds=0.6, megabytes=16) as usage:
            spin(0.4)
        started = time.perf_counter()
        spin(0.4)
        wall = time.perf_counter() - started
    finally:
        os.sched_setaffinity(0, before)
        rival.kill()
        rival.wait()
    assert wall > 0.6  # the wall clock alone would have failed the case
    assert usage.waited > 0.1 and usage.seconds < 0.6
