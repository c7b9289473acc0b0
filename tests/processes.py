"""``contextbridge serve`` as a process of its own, as an operator runs it (for the tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """A running ``contextbridge serve CONFIG``: its base URL, then ``stop()`` (SIGTERM) for its exit."""

    def __init__(self, config: Path, state: Path, env: dict[str, str]) -> None:
        port = free_port()
        command = [sys.executable, "-m", "contextbridge", "serve", str(config), "--state", str(state),
                   "--port", str(port), "--log-level", "warning"]  # fmt: skip
        self.process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url + "/health", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    pytest.fail(f"serve did not start: {self.process.communicate()[1].decode()}")
                time.sleep(0.1)

    def stop(self, timeout: float = 30) -> tuple[int, str]:
        """SIGTERM, then the exit code and what it wrote on stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return self.process.returncode, stderr.decode()
