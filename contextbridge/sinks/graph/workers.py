"""Queries of the embedded store in worker processes, on snapshots, killed at their time limit.

    pool = QueryPool(size=4)
    answer = pool.run(snapshot_dir, query, graphs, limit=10_000, timeout=30.0)   # blocking
    pool.close()

A pyoxigraph query cannot be interrupted while it computes its first solution (a cross product,
a big ORDER BY): in a thread it would hold its slot, and a CPU, until it ends by itself, however
long that is, and a few such queries would deny the endpoint to everyone. So each query runs in
a worker process (``_query_worker``) that opens a read-only snapshot of the store (a RocksDB
checkpoint: hard links, made by ``EmbeddedStore`` when the data changed since the last one; a
read-only open of the live store while it is written is undefined behaviour in pyoxigraph), and
a worker still busy at the time limit is killed (SIGKILL) and replaced by a fresh one at once. At most ``size`` queries run at once; one more is refused at once (``QueryBusy``).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from contextbridge.errors import DeliveryError, QueryBusy, QueryTimeout

WORKER = Path(__file__).with_name("_query_worker.py")


class _Worker:
    """One worker process and the parent's end of its socket pair."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", str(WORKER), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # nor do they hold the service's output open
                stderr=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self.connection = Connection(mine.detach())

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        self.connection.close()


class QueryPool:
    """Up to ``size`` worker processes; ``run`` takes an idle one (or starts one) per query."""

    def __init__(self, size: int) -> None:
        self.size = size
        # Started now, so that no query waits for a worker to start (a fraction of a second).
        self._idle: list[_Worker] = [_Worker() for _ in range(size)]
        self._busy = 0
        self._lock = threading.Lock()
        self.killed: list[int] = []  # pids of the workers stopped at a time limit (for tests)
        self._closed = False

    def run(self, snapshot: str, query: str, graphs: list[str] | None, *, limit: int, timeout: float) -> Any:
        """The worker's answer (see ``_query_worker``); QueryTimeout when it took too long."""
        with self._lock:
            if self._closed:
                raise DeliveryError("the graph store is closed")
            if self._busy >= self.size:
                raise QueryBusy(f"{self.size} queries are still running: try again later")
            self._busy += 1
            worker = self._idle.pop() if self._idle else None
        keep = False
        try:
            if worker is None:
                worker = _Worker()
            try:
                worker.connection.send((snapshot, query, graphs, limit))
                if not worker.connection.poll(timeout):
                    self.killed.append(worker.process.pid)
                    raise QueryTimeout(f"the query ran longer than {timeout:g} s")
                found = worker.connection.recv()
            except (OSError, EOFError) as error:  # the worker died (out of memory, killed)
                raise DeliveryError(f"the query worker stopped: {error or 'no answer'}") from None
            keep = True
            return found
        finally:
            with self._lock:
                self._busy -= 1
                if worker is not None and keep and not self._closed:
                    self._idle.append(worker)
                    worker = None
            if worker is not None:  # killed at its time limit (or broken): replaced at once
                worker.kill()
                replacement: _Worker | None = _Worker()
                with self._lock:
                    if not self._closed:
                        self._idle.append(replacement)  # type: ignore[arg-type]
                        replacement = None
                if replacement is not None:
                    replacement.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
