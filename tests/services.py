"""Throwaway servers for the tests: PostgreSQL, Mosquitto and NATS on free loopback ports.

Each starts from nothing in a temporary directory and is stopped when the test session ends, so a
fresh clone passes its tests on any machine that has the server binaries; a missing binary fails
with the command that installs it. An already running server is used instead when a variable names
it (``CONTEXTBRIDGE_TEST_POSTGRES=postgresql://...``, ``CONTEXTBRIDGE_TEST_MQTT=host:port``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

INSTALL_POSTGRES = "install PostgreSQL's server binaries with: apt-get install postgresql"
INSTALL_MOSQUITTO = "install Mosquitto with: apt-get install mosquitto"


class ServiceUnavailable(RuntimeError):
    """A server the tests need could not be started; the message says how to get it."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], what: str, log: Callable[[], str], *, timeout: float = 30
) -> None:
    """Until ``process`` listens on ``port``; ServiceUnavailable (with its ``log()``) if it exits or
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise ServiceUnavailable(f"{what} did not start on 127.0.0.1:{port}: {log()}") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def _postgres_bin(name: str) -> str | None:
    """The server binary: on PATH, else Debian's versioned directory (newest first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL cluster made in a temporary directory; yields the URL of its database ``test``."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ServiceUnavailable(f"the PostgreSQL server (initdb, pg_ctl) is missing: {INSTALL_POSTGRES}")
    home = Path(tempfile.mkdtemp(prefix="contextbridge-postgres-"))
    # The server refuses to run as root: run it as the `postgres` account that the package creates.
    runas: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise ServiceUnavailable(
                f"running as root needs the `postgres` account: {INSTALL_POSTGRES}"
            ) from None
        os.chown(home, account.pw_uid, account.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    data, port, log = home / "data", free_port(), home / "postgres.log"
    try:
        subprocess.run([*runas, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True)  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c fsync=off -c max_connections=200"
        started = subprocess.run([*runas, pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w",
                                  "start"], capture_output=True)  # fmt: skip
        if started.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else started.stderr.decode()
            raise ServiceUnavailable(f"PostgreSQL did not start: {text[-2000:]}")
        try:
            createdb = str(Path(initdb).resolve().with_name("createdb"))
            subprocess.run([*runas, createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"],
                           check=True, capture_output=True)  # fmt: skip
            yield f"postgresql://postgres@127.0.0.1:{port}/test"
        finally:
            subprocess.run([*runas, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def mosquitto_binary() -> str | None:
    """The broker: on PATH, else where Debian puts it (sbin, often not on a user's PATH)."""
    return shutil.which("mosquitto") or next(
        (path for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(path).exists()), None
    )


@contextmanager
def mosquitto_server(home: Path, *, settings: str = "") -> Iterator[tuple[str, int]]:
    """A Mosquitto listening on a free loopback port, anonymous, in memory; yields ``(host, port)``.

    ``settings`` adds lines to its configuration (``max_queued_messages 0``...).
    """
    binary = mosquitto_binary()
    if binary is None:
        raise ServiceUnavailable(f"the `mosquitto` broker is missing: {INSTALL_MOSQUITTO}")
    port = free_port()
    config = home / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        # As root, Mosquitto would drop to the "mosquitto" account, which cannot read pytest's directories.
        + ("user root\n" if os.geteuid() == 0 else "")
        + settings
    )
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_port(
        port, process, "Mosquitto", lambda: process.stderr.read().decode() if process.stderr else ""
    )
    try:
        yield "127.0.0.1", port
    finally:
        stop(process)


INSTALL_NATS = "install the NATS server with: apt-get install nats-server"


@contextmanager
def nats_server(home: Path, *, port: int = 0, mqtt_port: int = 0) -> Iterator[tuple[str, int]]:
    """A ``nats-server`` with JetStream (stored in ``home``) and its MQTT listener, on loopback ports
    (0: free ones); yields ``(nats_url, mqtt_port)``. The MQTT listener needs JetStream and a server
    name. Started again on the same ``home`` and ports, it has kept its streams and consumers."""
    binary = shutil.which("nats-server") or next(
        (path for path in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if Path(path).exists()), None
    )
    if binary is None:
        raise ServiceUnavailable(f"the `nats-server` is missing: {INSTALL_NATS}")
    port, mqtt_port = port or free_port(), mqtt_port or free_port()
    config = home / "nats.conf"
    config.write_text(
        f'server_name: "contextbridge-test"\nlisten: "127.0.0.1:{port}"\n'
        f'jetstream {{ store_dir: "{home / "jetstream"}" }}\n'
        f'mqtt {{ host: "127.0.0.1", port: {mqtt_port} }}\n'
    )
    log = home / "nats.log"
    with log.open("wb") as output:
        process = subprocess.Popen([binary, "-c", str(config)], stdout=output, stderr=subprocess.STDOUT)
    read = lambda: log.read_text(errors="replace")[-2000:]  # noqa: E731
    wait_for_port(port, process, "nats-server", read)
    wait_for_port(mqtt_port, process, "nats-server's MQTT listener", read)
    try:
        yield f"nats://127.0.0.1:{port}", mqtt_port
    finally:
        stop(process)
