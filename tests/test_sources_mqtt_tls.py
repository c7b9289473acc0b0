"""The MQTT source over TLS with a username and password, against a real Mosquitto started for
these tests on a free loopback port (its own CA and server certificate, made with openssl)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import aiomqtt
import pytest
from services import ServiceUnavailable, free_port, stop, wait_for_port

from contextbridge import ConfigError, RetryPolicy, build_source
from contextbridge.sources import MqttSource

T = TypeVar("T")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
TOOLS = [MOSQUITTO, shutil.which("mosquitto_passwd"), shutil.which("openssl")]


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, 20)

    return asyncio.run(bounded())


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A Mosquitto with TLS and a password file; yields its port and the directory holding ca.pem."""
    if not all(tool and Path(tool).exists() for tool in TOOLS):
        pytest.fail(
            "mosquitto, mosquitto_passwd and openssl are needed to start a TLS broker (apt-get install mosquitto openssl)"
        )
    home = tmp_path_factory.mktemp("mosquitto")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=contextbridge test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=home)  # fmt: skip
    (home / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr", cwd=home)  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=home)  # fmt: skip
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(home / "passwords"), "santander", "s3cret"], check=True
    )
    port = free_port()
    (home / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous false\n"
        f"password_file {home / 'passwords'}\n"
        f"cafile {home / 'ca.pem'}\ncertfile {home / 'server.pem'}\nkeyfile {home / 'server.key'}\n"
        "persistence false\n" + ("user root\n" if os.geteuid() == 0 else "")
        # As root, Mosquitto drops to user "mosquitto", which cannot read pytest's private temporary directory.
    )
    broker = subprocess.Popen([MOSQUITTO, "-c", str(home / "mosquitto.conf")], stderr=subprocess.PIPE)
    try:
        wait_for_port(
            port,
            broker,
            "the TLS Mosquitto",
            lambda: broker.stderr.read().decode() if broker.stderr else "",
            timeout=10,
        )
    except ServiceUnavailable as error:
        pytest.fail(str(error))
    try:
        yield port, home
    finally:
        stop(broker)


def test_tls_and_credentials_from_the_configuration(tls_broker: tuple[int, Path]) -> None:
    port, home = tls_broker
    root = f"cb-tls/{uuid.uuid4().hex[:8]}"
    source = build_source(
        {"mqtt": {"url": f"mqtts://127.0.0.1:{port}", "topic": f"{root}/+device", "username": "santander",
                  "password": "s3cret", "tls": {"ca": "ca.pem"}}},
        base_dir=home,
    )  # fmt: skip
    assert isinstance(source, MqttSource)

    async def scenario() -> list[tuple[bytes, str]]:
        received: list[tuple[bytes, str]] = []

        async def consume() -> None:
            async for message in source.messages():
                received.append((message.read(), message.metadata["device"]))
                await message.ack()
                await source.close()

        task = asyncio.create_task(consume())
        while source.subscribed == 0:
            await asyncio.sleep(0.01)
        async with aiomqtt.Client("127.0.0.1", port, username="santander", password="s3cret",
                                  tls_context=source.tls, protocol=aiomqtt.ProtocolVersion.V5) as client:  # fmt: skip
            await client.publish(f"{root}/sensor-1", b"{}", qos=1)
        await task
        return received

    assert run(scenario()) == [(b"{}", "sensor-1")]


def test_refused_credentials_are_a_config_error_not_a_retry(tls_broker: tuple[int, Path]) -> None:
    port, home = tls_broker
    source = build_source(
        {
            "mqtt": {
                "url": f"mqtts://santander:wrong@127.0.0.1:{port}",
                "topic": "x/#",
                "tls": {"ca": "ca.pem"},
            }
        },
        base_dir=home,
    )
    assert isinstance(source, MqttSource)
    source.backoff = RetryPolicy(initial=0.01, maximum=0.01, jitter=0, attempts=None)

    async def scenario() -> None:
        async for _ in source.messages():
            pass

    with pytest.raises(ConfigError) as caught:
        run(scenario())
    assert caught.value.key == "mqtt.username"


def test_an_unknown_certificate_authority_is_not_trusted(tls_broker: tuple[int, Path]) -> None:
    port, _ = tls_broker
    source = MqttSource(f"mqtts://127.0.0.1:{port}", ["x/#"], username="santander", password="s3cret",
                        backoff=RetryPolicy(initial=0.05, maximum=0.05, jitter=0, attempts=None))  # fmt: skip

    async def scenario() -> int:
        task = asyncio.create_task(anext(source.messages(), None))
        await asyncio.sleep(0.5)
        await source.close()
        await task
        return source.connections

    assert run(scenario()) == 0  # the system trust store does not know the test CA: never connected
