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


def table(title: str, rows: list[Measure], *, baseline: Measure, unit: str = "items/s") -> str:
    lines = [title, f"  {'':40} {unit:>14} {'vs baseline':>12}"]
    for row in [baseline, *rows]:
        ratio = row.rate / baseline.rate if baseline.rate else float("nan")
        mark = " (baseline)" if row is baseline else ""
        lines.append(f"  {row.name + mark:40} {row.rate:14,.0f} {ratio:11.2f}×")
    return "\n".join(lines)
