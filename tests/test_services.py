"""The servers the tests need start with the tests (``tests/services.py``), not with the machine.

The session's PostgreSQL and Mosquitto listen on free ports of their own, never on the machine's
5432 and 1883 unless a variable names a server; each answers; each is gone when its context ends;
a missing binary fails with the command that installs it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
import psycopg
import pytest
import services


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_the_session_postgres_is_its_own_and_answers(postgres_url: str) -> None:
    if not os.environ.get("CONTEXTBRIDGE_TEST_POSTGRES"):
        assert urlsplit(postgres_url).port != 5432, "the tests must not use the machine's PostgreSQL"
    with psycopg.connect(postgres_url, connect_timeout=5) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_the_session_mosquitto_is_its_own_and_answers(mqtt_broker: tuple[str, int]) -> None:
    if not os.environ.get("CONTEXTBRIDGE_TEST_MQTT"):
        assert mqtt_broker[1] != 1883, "the tests must not use the machine's Mosquitto"
    topic = f"cb-test/{uuid.uuid4().hex}"

    async def round_trip() -> bytes:
        async with aiomqtt.Client(*mqtt_broker) as client:
            await client.subscribe(topic, qos=1)
            await client.publish(topic, b"hello", qos=1)
            async for message in client.messages:
                return bytes(message.payload)  # type: ignore[arg-type]
        raise AssertionError("no message")

    assert asyncio.run(asyncio.wait_for(round_trip(), 10)) == b"hello"


def test_a_mosquitto_started_for_tests_is_stopped_at_the_end(tmp_path: Path) -> None:
    with services.mosquitto_server(tmp_path) as (_, port):
        assert not refused(port)
    assert refused(port)


def test_a_missing_mosquitto_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "mosquitto_binary", lambda: None)
    with pytest.raises(services.ServiceUnavailable, match="apt-get install mosquitto"):
        services.mosquitto_server(tmp_path).__enter__()


def test_a_missing_postgresql_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_postgres_bin", lambda name: None)
    with pytest.raises(services.ServiceUnavailable, match="apt-get install postgresql"):
        services.postgres_server().__enter__()
