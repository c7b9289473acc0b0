"""What every source shares: messages, metadata in records, the factory and its schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from contextbridge import (
    ConfigError,
    FormatError,
    MappingError,
    OptionsError,
    Source,
    build_source,
    get_format,
    load_config,
)
from contextbridge.language.fieldpaths import compile_path
from contextbridge.sources import (
    SOURCES,
    FileSource,
    HttpPollSource,
    Message,
    MqttSource,
    WebhookSource,
    records_with_metadata,
    source_schema,
)


async def take_all(source: Source, *, ack: bool = True) -> list[Message]:
    """Every message of a source that ends (one-shot files, one poll), acked unless told not to."""
    messages = []
    async for message in source.messages():
        messages.append(message)
        if ack:
            await message.ack()
    return messages


def test_metadata_is_reachable_by_plain_field_paths_in_every_record() -> None:
    fmt = get_format("csv", {"delimiter": ";"})
    message = Message(
        name="t", metadata={"device": "419", "headers": {"x-gw": "g1"}}, payload=b"id;v\n1;2\n3\n4;5\n"
    )
    outcomes = list(records_with_metadata(fmt.parse(message.open(), source="t"), message.metadata))
    assert isinstance(outcomes[1], FormatError)  # a broken row passes through untouched
    records = [o for o in outcomes if isinstance(o, dict)]
    assert [compile_path("_source.device")(r) for r in records] == ["419", "419"]
    assert compile_path('_source.headers["x-gw"]')(records[0]) == "g1"
    assert records[0]["id"] == "1"


def test_the_reserved_key_and_its_name() -> None:
    records = list(records_with_metadata([{"_source": "own", "meta": 1}], {"topic": "t"}, field="meta"))
    assert records == [{"_source": "own", "meta": {"topic": "t"}}]


def test_a_message_holds_bytes_or_a_path(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert Message(name="f", metadata={}, path=path).read() == b"abc"
    with Message(name="m", metadata={}, payload=b"xyz").open() as stream:
        assert stream.read() == b"xyz"
    with pytest.raises(ValueError):
        Message(name="x", metadata={})
    with pytest.raises(ValueError):
        Message(name="x", metadata={}, payload=b"", path=path)


def test_ack_and_nack_call_the_source() -> None:
    calls: list[Any] = []

    async def ack() -> None:
        calls.append("ack")

    async def nack(error: BaseException) -> None:
        calls.append(error)

    async def scenario() -> None:
        message = Message(name="m", metadata={}, payload=b"", _ack=ack, _nack=nack)
        await message.ack()
        await message.nack(error := RuntimeError("x"))
        assert calls == ["ack", error]
        await Message(name="m", metadata={}, payload=b"").ack()  # nothing to confirm: a no-op

    asyncio.run(scenario())


CONFIGS: list[tuple[dict[str, Any], type]] = [
    ({"mqtt": {"url": "mqtt://mosquitto.city.example", "topic": "santander/+device/attrs", "qos": 1, "share": "workers"}},
     MqttSource),
    ({"http": {"url": "https://datos.santander.es/api/rest/datasets/sensores_smart_env_monitoring.json",
               "interval": 60, "pagination": {"style": "page", "size_param": "items", "size": 80,
                                              "records": "resources"}}}, HttpPollSource),
    ({"file": "data/*.csv", "watch": True}, FileSource),
    ({"webhook": {"api_key": "k", "secret": "s", "prefix": "sha256="}}, WebhookSource),
]  # fmt: skip


@pytest.mark.parametrize(("config", "kind"), CONFIGS)
def test_build_source_and_the_schema_agree_on_good_sections(config: dict[str, Any], kind: type) -> None:
    source = build_source(config, base_dir=Path("."))
    assert isinstance(source, kind) and isinstance(source, Source)
    assert SOURCES[source.kind] is kind
    assert list(jsonschema.Draft202012Validator(source_schema()).iter_errors(config)) == []


BAD: list[tuple[Any, str]] = [
    ({}, "source"),
    ({"ftp": {}}, "source"),
    ({"file": "x", "mqtt": {"topic": "a"}}, "source"),
    ("mqtt://h", "source"),
    ({"mqtt": {"topic": "a"}, "interval": 3}, "interval"),
    ({"http": {}}, "http.url"),
    ({"http": {"url": "http://h", "timeout": -1}}, "http.timeout"),
    ({"http": {"url": "http://h", "pagination": {"style": "json"}}}, "http.pagination.next"),
    ({"http": {"url": "http://h", "retry": {"attempts": -1}}}, "http.retry.attempts"),
    ({"http": {"url": "http://h", "headers": {"a": ["b"]}}}, "http.headers"),
    ({"webhook": {"api_key": "k", "max_body": 0}}, "webhook.max_body"),
    ({"mqtt": {"topic": "a/b+", "qos": 1}}, "mqtt.topic"),
]


@pytest.mark.parametrize(("config", "key"), BAD)
def test_build_source_and_the_schema_agree_on_bad_sections(config: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_source(config, base_dir=Path("."))
    assert caught.value.key == key, str(caught.value)
    if isinstance(config, dict) and key not in ("mqtt.topic",):  # the schema does not parse topic levels
        assert list(jsonschema.Draft202012Validator(source_schema()).iter_errors(config)), config


def test_every_mistake_of_a_section_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        build_source({"mqtt": {"topic": "a", "qos": 5, "keepalive": 1, "ack": "never", "colour": "red"}},
                     base_dir=Path("."))  # fmt: skip
    message = str(caught.value)
    for key in ("mqtt.qos", "mqtt.keepalive", "mqtt.ack", "mqtt.colour"):
        assert key in message


def test_every_mistake_of_a_source_in_a_configuration_is_located_at_its_line(tmp_path: Path) -> None:
    """The configuration loader and ``build_source`` read the same schema: in a file, each mistake
    of a feed's source gets its own line."""
    config = tmp_path / "contextbridge.yaml"
    config.write_text(
        "feeds:\n"
        "  - id: sensors\n"
        "    mapping: sensors.yaml\n"
        "    source:\n"
        "      mqtt:\n"
        "        topic: city/#\n"
        "        qos: 5\n"
        "        colour: red\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_config(config)
    located = {(problem.line, problem.file) for problem in caught.value.problems}
    assert {(7, str(config)), (8, str(config))} <= located
    with pytest.raises(OptionsError) as direct:
        build_source({"mqtt": {"topic": "city/#", "qos": 5, "colour": "red"}}, base_dir=tmp_path)
    assert [key for key, _ in direct.value.problems] == ["mqtt.qos", "mqtt.colour"]
