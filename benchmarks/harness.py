"""Tiny benchmark harness: best-of-N timings and a table of ratios against a baseline.

Every benchmark measures its baseline in the same run, on the same machine, so the
ratios mean something even where absolute numbers do not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    name: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")


def best_of(name: str, run: Callable[[], int], *, repeat: int = 5) -> Measure:
    """Run ``run`` (which returns how many items it processed) ``repeat`` times; keep the fastest."""
    best, items = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        items = run()
        best = min(best, time.perf_counter() - started)
    return Measure(name, items, best)


def alternating(runs: dict[str, Callable[[], int]], *, repeat: int = 7) -> list[Measure]:
    """Each of ``runs`` ``repeat`` times, taking turns (a, b, c, a, b, c...), timed in CPU time
    (``process_time``): load on the machine then slows every side alike and steals no time from
    any. The fastest turn of each is kept, in the order given."""
    best = dict.fromkeys(runs, float("inf"))
    items = dict.fromkeys(runs, 0)
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.process_time()
            items[name] = run()
            best[name] = min(best[name], time.process_time() - started)
    return [Measure(name, items[name], best[name]) for name in runs]


def table(title: str, rows: list[Measure], *, baseline: Measure, unit: str = "items/s") -> str:
    lines = [title, f"  {'':40} {unit:>14} {'vs baseline':>12}"]
    for row in [baseline, *rows]:
        ratio = row.rate / baseline.rate if baseline.rate else float("nan")
        mark = " (baseline)" if row is baseline else ""
        lines.append(f"  {row.name + mark:40} {row.rate:14,.0f} {ratio:11.2f}×")
    return "\n".join(lines)
