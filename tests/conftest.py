from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from contextbridge.mapping import Mapping, load_mapping

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def write_mapping(tmp_path: Path) -> Callable[[str], Path]:
    """Write a mapping (dedented YAML) to a file and return its path."""

    def write(text: str, name: str = "feed.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_mapping(write_mapping: Callable[[str], Path]) -> Callable[[str], Mapping]:
    """Load a mapping from dedented YAML text."""
    return lambda text: load_mapping(write_mapping(text))


INSTALL = "install the Oxigraph server with: pip install oxigraph  (it provides the `oxigraph` command)"


def _oxigraph_binary() -> str | None:
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.exists() else shutil.which("oxigraph")


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``oxigraph serve`` on a free loopback port; its query URL."""
    binary = _oxigraph_binary()
    if binary is None:
        pytest.fail(f"the `oxigraph` server is missing: {INSTALL}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    location = tmp_path_factory.mktemp("oxigraph")
    command = [
        binary,
        "serve",
        "--location",
        str(location),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout-s",
        "20",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, params={"query": "ASK {}"}, timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(
                    f"`oxigraph serve` did not start: {process.stderr.read().decode() if process.stderr else ''}"
                )
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)
