"""The broker double in a process of its own on a loopback port, for the benchmarks.

    with broker_double() as url:      # http://127.0.0.1:PORT, served by uvicorn
        ...

A separate process, so that the double's request handling does not share the measured
process's CPU time and event loop (the machine has two cores).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def broker_double() -> Iterator[str]:
    port = free_port()
    code = (
        f"import sys, time; sys.path.insert(0, {str(TESTS)!r})\n"
        "from broker_double import BrokerDouble, serve\n"
        f"with serve(BrokerDouble(), port={port}):\n"
        "    time.sleep(1e9)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(400):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
