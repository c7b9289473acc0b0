"""The file source: a file, a glob or a directory, once or watched, with a state file so that a
restart does not read a file again; payloads are streamed from disk."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from test_sources_base import take_all

from contextbridge import ConfigError, build_source, get_format
from contextbridge.sources import FileSource, Message, records_with_metadata

T = TypeVar("T")
CSV = "dc:identifier;ayto:temperature\n{n}1;16,45\n{n}2;15,1\n"


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, 20)

    return asyncio.run(bounded())


def write(path: Path, text: str, *, age: float = 0.0) -> Path:
    path.write_text(text, encoding="utf-8")
    if age:
        past = time.time() - age
        os.utime(path, (past, past))
    return path


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_a_directory_is_read_once_in_name_order_without_hidden_or_partial_files(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    for name in ("b.csv", "a.csv", ".hidden.csv", "c.csv.part", "d.tmp"):
        write(feed / name, CSV.format(n=name[0]))
    messages = run(take_all(FileSource("feed", base_dir=tmp_path)))
    assert [m.name for m in messages] == ["a.csv", "b.csv"]
    first = messages[0]
    assert first.payload is None and first.path == feed / "a.csv"  # streamed, not in memory
    assert first.metadata["file"] == "a.csv"
    assert first.metadata["size"] == len(CSV.format(n="a"))
    assert first.metadata["modified"].endswith("Z")
    fmt = get_format("csv", {"delimiter": ";"})
    with first.open() as stream:
        records = list(records_with_metadata(fmt.parse(stream, source=first.name), first.metadata))
    assert [(r["dc:identifier"], r["_source"]["file"]) for r in records] == [("a1", "a.csv"), ("a2", "a.csv")]


def test_a_glob_and_a_single_file(tmp_path: Path) -> None:
    for name in ("x1.csv", "x2.csv", "y.json"):
        write(tmp_path / name, CSV.format(n=name[1]))
    assert [m.name for m in run(take_all(FileSource("x*.csv", base_dir=tmp_path)))] == ["x1.csv", "x2.csv"]
    assert [m.name for m in run(take_all(FileSource("y.json", base_dir=tmp_path)))] == ["y.json"]


def test_nothing_to_read_once_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        run(take_all(FileSource("*.csv", base_dir=tmp_path)))
    assert caught.value.key == "file"


def test_a_watched_directory_reads_files_as_they_arrive_and_only_when_complete(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox / "old.csv", CSV.format(n="o"), age=60)
    state = tmp_path / "state.json"
    source = FileSource("inbox", base_dir=tmp_path, watch=True, interval=0.05, settle=0.4, state_file=state)

    async def scenario() -> list[tuple[str, bytes]]:
        seen: list[tuple[str, bytes]] = []

        async def consume() -> None:
            async for message in source.messages():
                seen.append((message.name, message.read()))
                await message.ack()

        task = asyncio.create_task(consume())
        await until(lambda: len(seen) == 1)  # what was there already
        write(inbox / "new.csv", CSV.format(n="n"))
        partial = inbox / "slow.csv"
        with partial.open("w", encoding="utf-8") as stream:  # a copy in progress
            stream.write("dc:identifier;ayto:temperature\n")
            stream.flush()
            await asyncio.sleep(0.2)  # several scans happen meanwhile; the file is too fresh to be read
            assert [name for name, _ in seen] == ["old.csv"]
            stream.write("s1;1\n")
        await until(lambda: len(seen) == 3)
        await asyncio.sleep(0.3)  # nothing is read twice
        await source.close()
        await task
        return seen

    seen = run(scenario())
    assert [name for name, _ in seen] == ["old.csv", "new.csv", "slow.csv"]
    assert seen[2][1] == b"dc:identifier;ayto:temperature\ns1;1\n"
    remembered = json.loads(state.read_text(encoding="utf-8"))["files"]
    assert sorted(Path(p).name for p in remembered) == ["new.csv", "old.csv", "slow.csv"]


def test_a_restart_reads_only_new_changed_or_unacknowledged_files(tmp_path: Path) -> None:
    state = tmp_path / ".contextbridge" / "files.json"
    for name in ("a.csv", "b.csv", "c.csv"):
        write(tmp_path / name, CSV.format(n=name[0]), age=60)

    def source() -> FileSource:
        return FileSource("*.csv", base_dir=tmp_path, watch=True, interval=0.05, settle=0.1, state_file=state)

    async def session(*, acked: Callable[[Message], bool], expect: int) -> list[str]:
        watched = source()
        names: list[str] = []

        async def consume() -> None:
            async for message in watched.messages():
                names.append(message.name)
                if acked(message):
                    await message.ack()

        task = asyncio.create_task(consume())
        await until(lambda: len(names) >= expect)
        await asyncio.sleep(0.2)
        await watched.close()
        await task
        return names

    # First run: c.csv is read but its records never reach the outbox (no ack).
    assert run(session(acked=lambda m: m.name != "c.csv", expect=3)) == ["a.csv", "b.csv", "c.csv"]
    write(tmp_path / "b.csv", CSV.format(n="B"), age=30)  # changed while stopped
    write(tmp_path / "d.csv", CSV.format(n="d"), age=30)  # arrived while stopped
    assert run(session(acked=lambda m: True, expect=3)) == ["b.csv", "c.csv", "d.csv"]
    assert run(session(acked=lambda m: True, expect=0)) == []


def test_a_deleted_file_is_forgotten_by_the_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    write(tmp_path / "a.csv", "x", age=60)
    write(tmp_path / "b.csv", "x", age=60)
    run(take_all(FileSource("*.csv", base_dir=tmp_path, state_file=state)))
    (tmp_path / "a.csv").unlink()
    write(tmp_path / "c.csv", "x", age=60)
    run(take_all(FileSource("*.csv", base_dir=tmp_path, state_file=state)))
    assert sorted(Path(p).name for p in json.loads(state.read_text())["files"]) == ["b.csv", "c.csv"]


def test_file_configuration(tmp_path: Path) -> None:
    source = build_source({"file": "data/*.csv", "watch": True, "interval": 5}, base_dir=tmp_path)
    assert isinstance(source, FileSource) and source.watch and source.interval == 5
    assert source.state_file is not None and source.state_file.is_relative_to(tmp_path / ".contextbridge")
    elsewhere = build_source(
        {"file": "data/*.csv", "watch": True}, base_dir=tmp_path, state_dir=tmp_path / "s"
    )
    assert isinstance(elsewhere, FileSource) and elsewhere.state_file is not None
    assert elsewhere.state_file.is_relative_to(tmp_path / "s")
    once = build_source({"file": {"path": "data", "watch": True}}, base_dir=tmp_path, once=True)
    assert isinstance(once, FileSource) and not once.watch and once.pattern == "data"


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"file": 7}, "file.path"),
        ({"file": "x", "watch": "yes"}, "file.watch"),
        ({"file": "x", "interval": 0}, "file.interval"),
        ({"file": "x", "wacth": True}, "file.wacth"),
        ({"file": {"watch": True}}, "file.path"),
    ],
)
def test_bad_file_settings_name_their_key(config: dict[str, Any], key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_source(config, base_dir=tmp_path)
    assert caught.value.key == key, str(caught.value)


def test_an_unreadable_state_file_is_a_config_error(tmp_path: Path) -> None:
    state = write(tmp_path / "state.json", "{not json")
    with pytest.raises(ConfigError, match="state"):
        FileSource("*.csv", base_dir=tmp_path, state_file=state)
