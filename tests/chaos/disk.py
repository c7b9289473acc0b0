"""A small disk for a state directory: a tmpfs mount of a given size (the tests run as root), that
fills up for real and can be given more space while mounted.

    >>> with small_disk(tmp_path / "disk", kib=768) as disk:
    ...     outbox = open_outbox(disk.path)        # writes fail once the 768 KiB are used
    ...     disk.grow(kib=65536)                   # space returns (mount -o remount,size=...)

A test that needs it fails with the reason when mounting is not permitted (not root, or in a
container without CAP_SYS_ADMIN): a loop image needs the same right, and SQLite's
``max_page_count`` would fake the fault rather than cause it.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    path: Path

    def grow(self, *, kib: int) -> None:
        """Give the mount ``kib`` KiB in all; the data on it stays."""
        _mount(["-o", f"remount,size={kib}k", str(self.path)])

    def free_kib(self) -> int:
        found = subprocess.run(["df", "-k", "--output=avail", str(self.path)], capture_output=True, text=True)
        return int(found.stdout.split()[-1])


def _mount(arguments: list[str]) -> None:
    done = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"mount {' '.join(arguments)}: {done.stderr.strip()}")


@contextlib.contextmanager
def small_disk(path: Path, *, kib: int) -> Iterator[SmallDisk]:
    path.mkdir(parents=True, exist_ok=True)
    try:
        _mount(["-t", "tmpfs", "-o", f"size={kib}k,mode=0700", "tmpfs", str(path)])
    except OSError as error:
        pytest.fail(f"the full-disk test mounts a small tmpfs, which needs root (CAP_SYS_ADMIN): {error}")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
