"""Shared pieces of the hostile-input suites (``tests/test_hostile_*.py``).

Two profiles, the switch shared with the chaos suites (``chaos.profile``):
``CONTEXTBRIDGE_PROFILE=short`` (default, CI: a few dozen examples per property, inputs of a few
megabytes) or ``long`` (on demand: thousands of examples, the 100 MB record);
``CONTEXTBRIDGE_FUZZ=long`` is accepted as an older name of the same switch. Every case runs under ``bounded``: it must end within a time and a peak of
Python memory, whatever the input. The time is the case's own: the wall-clock time less what the
thread spent ready to run but waiting for a CPU (Linux's ``/proc/thread-self/schedstat``), so a
machine loaded by other work does not fail a case, while a case that computes or blocks too long
still does.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

from chaos.profile import LONG, PROFILE
from hypothesis import HealthCheck, settings

__all__ = [
    "FUZZ",
    "HUGE_RECORD_BYTES",
    "LONG",
    "PROFILE",
    "bounded",
    "cpu_wait",
    "recording_server",
    "run_child",
]

settings.register_profile(
    "contextbridge-short",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "contextbridge-long",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("contextbridge-long" if LONG else "contextbridge-short")

# The size of the "huge single record" case: 100 MB in the long profile, 20 MB in CI (over the
# 16 MiB record limit either way).
HUGE_RECORD_BYTES = 100 * 1024 * 1024 if LONG else 20 * 1024 * 1024


@dataclass
class Usage:
    seconds: float = 0.0  # wall-clock time less ``waited``
    peak_bytes: int = 0
    waited: float = 0.0  # seconds the thread was ready to run, waiting for a CPU (the machine's load)


def cpu_wait() -> float:
    """Seconds the calling thread has spent runnable but not running, since it started; 0.0
    where the kernel does not say (then ``bounded`` falls back to the wall clock alone)."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


@contextlib.contextmanager
def bounded(*, seconds: float, megabytes: float) -> Iterator[Usage]:
    """Fail unless the block ends within ``seconds`` and a Python-memory peak of ``megabytes``."""
    usage = Usage()
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    waited = cpu_wait()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        yield usage
    finally:
        elapsed = time.perf_counter() - start
        usage.peak_bytes = tracemalloc.get_traced_memory()[1]
        usage.waited = max(0.0, cpu_wait() - waited)
        usage.seconds = elapsed - usage.waited
        if started_tracing:
            tracemalloc.stop()
    assert usage.seconds < seconds, (
        f"took {usage.seconds:.2f} s (and {usage.waited:.2f} s waiting for a CPU), the bound is {seconds} s"
    )
    assert usage.peak_bytes < megabytes * 1024 * 1024, (
        f"peak {usage.peak_bytes / 1e6:.1f} MB, the bound is {megabytes} MB"
    )


def run_child(code: str, *, seconds: float) -> tuple[str, int]:
    """Run ``code`` in a fresh Python (``tests`` importable); its stdout and peak RSS in bytes.

    For memory that tracemalloc cannot see: what C parsers (yajl, expat) allocate themselves.
    """
    import resource
    import subprocess
    import sys
    from pathlib import Path

    wrapper = (
        f"import sys, resource; sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
        f"{code}\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    del resource
    done = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=seconds, check=True
    )
    output, _, peak = done.stdout.rpartition("PEAK ")
    return output, int(peak) * 1024  # ru_maxrss is in kilobytes on Linux


@contextlib.contextmanager
def recording_server(
    body: bytes = b"{}", content_type: str = "application/json"
) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that answers ``body`` and records the path of every request:
    what the code under test must never fetch. Yields its base URL and the list of paths."""
    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
