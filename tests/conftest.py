from __future__ import annotations

import os
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
from services import ServiceUnavailable, mosquitto_server, nats_server, postgres_server

from contextbridge import Mapping, load_mapping

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _constraint_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The compiled constraints are cached in a folder of the test session's, not the user's."""
    previous = os.environ.get("CONTEXTBRIDGE_CACHE_DIR")
    os.environ["CONTEXTBRIDGE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("CONTEXTBRIDGE_CACHE_DIR", None)
    else:
        os.environ["CONTEXTBRIDGE_CACHE_DIR"] = previous


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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a database on a PostgreSQL server this test session started on a free port.

    ``CONTEXTBRIDGE_TEST_POSTGRES`` names an already running one instead.
    """
    given = os.environ.get("CONTEXTBRIDGE_TEST_POSTGRES")
    if given:
        yield given
        return
    try:
        with postgres_server() as url:
            yield url
    except ServiceUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``(host, port)`` of a Mosquitto this test session started on a free port.

    ``CONTEXTBRIDGE_TEST_MQTT=host:port`` names an already running one instead.
    """
    given = os.environ.get("CONTEXTBRIDGE_TEST_MQTT")
    if given:
        host, _, port = given.rpartition(":")
        yield host, int(port)
        return
    try:
        with mosquitto_server(tmp_path_factory.mktemp("mosquitto")) as address:
            yield address
    except ServiceUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def nats_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``(nats_url, mqtt_port)`` of a nats-server (JetStream, MQTT listener) this session started."""
    try:
        with nats_server(tmp_path_factory.mktemp("nats")) as address:
            yield address
    except ServiceUnavailable as error:
        pytest.fail(str(error))
