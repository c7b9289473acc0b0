"""Hostile bytes through every format parser: each ends in records or typed FormatErrors, in bounded
time and memory. ``CONTEXTBRIDGE_FUZZ=long`` runs more examples and the 100 MB record."""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
import pytest
from fuzz import FUZZ, HUGE_RECORD_BYTES, bounded, run_child
from hypothesis import given
from hypothesis import strategies as st

from contextbridge import FORMATS, FormatError, get_format
from contextbridge.formats.json import MAX_RECORD_BYTES
from contextbridge.formats.nesting import MAX_JSON_DEPTH, DepthGuard
from contextbridge.formats.xml import MAX_XML_DEPTH

OPTIONS: dict[str, dict[str, Any]] = {
    "json": {},
    "ndjson": {},
    "csv": {},
    "xml": {},
    "senml": {"group": True},
}


def parse(name: str, data: bytes, **options: Any) -> list[Any]:
    return list(get_format(name, options or OPTIONS[name]).parse(io.BytesIO(data), source="hostile"))


def assert_typed(items: list[Any]) -> None:
    for item in items:
        assert isinstance(item, (dict, FormatError)), type(item)
        if isinstance(item, FormatError):
            assert str(item) and item.kind == "format"


# --- any bytes at all ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_give_records_or_format_errors(name: str, data: bytes) -> None:
    with bounded(seconds=5, megabytes=64):
        assert_typed(parse(name, data))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=40,
)


@FUZZ
@given(value=json_values, cut=st.integers(min_value=0, max_value=10_000))
def test_json_documents_cut_anywhere_give_records_or_one_error(value: Any, cut: int) -> None:
    data = json.dumps([value]).encode()
    items = parse("json", data[: cut % (len(data) + 1)])
    assert_typed(items)
    fatal = [
        index for index, item in enumerate(items) if isinstance(item, FormatError) and item.record is None
    ]
    assert fatal in ([], [len(items) - 1])  # a document that cannot be resumed ends with one error


@FUZZ
@given(value=json_values, chunks=st.integers(min_value=1, max_value=64))
def test_the_depth_guard_never_counts_less_than_the_real_depth(value: Any, chunks: int) -> None:
    data = json.dumps(value).encode()
    depth = _depth(value)
    size = max(1, len(data) // chunks)
    pieces = [data[start : start + size] for start in range(0, len(data), size)]
    generous = DepthGuard(limit=3 * depth)  # the bound may exceed the depth, at most threefold
    for piece in pieces:
        generous.feed(piece)
    if depth:
        tight = DepthGuard(limit=depth - 1)  # sound: a deeper document is always refused
        with pytest.raises(ValueError):
            for piece in pieces:
                tight.feed(piece)


class _Padded(io.BytesIO):
    """The document, then one more read of a blank: never whole in the first read, so the JSON
    parser streams it (ijson) instead of parsing it at once (orjson), in the same chunk."""

    padded = False

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data and not self.padded:
            self.padded = True
            return b" "
        return data


def _parsed(stream: io.BytesIO) -> list[Any]:
    return [
        "error" if isinstance(item, FormatError) else item
        for item in get_format("json", {}).parse(stream, source="hostile")
    ]


@FUZZ
@given(
    value=json_values,
    spice=st.sampled_from(
        [
            b"",
            b"1e400",
            b"-0.0",
            b"18446744073709551616",
            b'"\\ud800"',
            b'"\\ud83d\\ude00"',
            b'"\\u0000"',
            b'{"a": 1, "a": 2}',
            b"\x01",
            b"\xff",
            b'"\x7f"',
            b'"\xc3\xb1"',
            b'"\xed\xa0\x80"',
            b'"\xf4\x90\x80\x80"',
            b" ,",
            b"]",
            b"NaN",
            b"01",
            b"1.",
            b"[" * 600,
        ]
    ),
    at=st.integers(min_value=0, max_value=10_000),
)
def test_a_whole_message_parses_as_the_streaming_parser_reads_it(value: Any, spice: bytes, at: int) -> None:
    """A small document is parsed at once: the same records as streamed, and refused alike."""
    data = json.dumps(value).encode()
    cut = at % (len(data) + 1)
    data = data[:cut] + spice + data[cut:]
    whole, streamed = _parsed(io.BytesIO(data)), _parsed(_Padded(data))
    assert whole == streamed


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


# --- the named attacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("opening", [b"[", b'{"a":', b'[{"a":[', b'["\\\\",['])
def test_deeply_nested_json_is_refused_in_bounded_memory(opening: bytes) -> None:
    depth = 200_000
    data = opening * depth + b"1" + b"]" * depth
    for name in ("json", "senml"):
        with bounded(seconds=5, megabytes=32):
            items = parse(name, data)
        assert isinstance(items[-1], FormatError) and "nested deeper than" in str(items[-1])


def test_json_nested_up_to_the_limit_is_read() -> None:
    depth = MAX_JSON_DEPTH - 1
    data = b"[" + b'{"a":' * depth + b"1" + b"}" * depth + b"]"
    (record,) = parse("json", data)
    assert isinstance(record, dict)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    noise = '[[[{{{\\"\\\\' * 10_000
    data = orjson.dumps([{"a": noise, "b": [noise, {"c": noise}]}])
    (record,) = parse("json", data)
    assert record == {"a": noise, "b": [noise, {"c": noise}]}


def test_deeply_nested_ndjson_rejects_the_line_only() -> None:
    data = b"[" * 100_000 + b"]" * 100_000 + b'\n{"id": 1}\n'
    with bounded(seconds=5, megabytes=32):
        first, second = parse("ndjson", data)
    assert isinstance(first, FormatError) and second == {"id": 1}


@pytest.mark.parametrize(
    "literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" + b"0" * 400, b"1" * 100_000]
)
@pytest.mark.parametrize("name", ["json", "ndjson", "senml"])
def test_nan_infinity_and_huge_numbers_are_format_errors(name: str, literal: bytes) -> None:
    record = b'{"n": "x", "v": ' + literal + b"}"
    data = record + b"\n" if name == "ndjson" else b"[" + record + b"]"
    with bounded(seconds=2, megabytes=32):
        items = parse(name, data)
    assert len(items) == 1 and isinstance(items[0], FormatError), items


@pytest.mark.parametrize("name", ["json", "ndjson", "xml", "senml"])
@pytest.mark.parametrize("bad", [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])
def test_invalid_utf8_is_a_format_error(name: str, bad: bytes) -> None:
    data = {
        "json": b'[{"a": "' + bad + b'"}]',
        "ndjson": b'{"a": "' + bad + b'"}\n',
        "xml": b"<r><a>" + bad + b"</a></r>",
        "senml": b'[{"n": "' + bad + b'", "v": 1}]',
    }[name]
    items = parse(name, data)
    assert items and isinstance(items[-1], FormatError), items


def test_invalid_utf8_in_csv_rejects_its_row_only() -> None:
    first, second = parse("csv", b"id,name\n1,caf\xe9\n2,ok\n")
    assert isinstance(first, FormatError) and first.field == "name" and second == {"id": "2", "name": "ok"}


def test_ragged_csv_rows_are_rejected_one_by_one() -> None:
    items = parse("csv", b'a,b\n1\n1,2,3\n1,2\n\n"open\n')
    assert [type(item).__name__ for item in items] == ["FormatError", "FormatError", "dict", "FormatError"]
    assert items[2] == {"a": "1", "b": "2"}


@FUZZ
@given(rows=st.lists(st.lists(st.text(max_size=20), max_size=6), max_size=20))
def test_any_csv_rows_give_records_or_row_errors(rows: list[list[str]]) -> None:
    text = io.StringIO()
    import csv

    csv.writer(text).writerows([["a", "b", "c"], *rows])
    data = text.getvalue().encode("utf-8", "surrogatepass")
    items = parse("csv", data)
    assert_typed(items)


def test_a_huge_csv_field_is_a_row_error() -> None:
    with bounded(seconds=5, megabytes=64):
        items = parse("csv", b"a,b\n" + b"x" * 2_000_000 + b",1\n3,4\n")
    assert isinstance(items[0], FormatError) and items[-1] == {"a": "3", "b": "4"}


def test_billion_laughs_is_refused() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{entities}]><r><a>&l9;</a></r>'.encode()
    with bounded(seconds=2, megabytes=16):
        (item,) = parse("xml", data)
    assert isinstance(item, FormatError) and "entity" in str(item)


def test_quadratic_blowup_entity_is_refused() -> None:
    data = b'<!DOCTYPE r [<!ENTITY a "' + b"x" * 100_000 + b'">]><r>' + b"&a;" * 10_000 + b"</r>"
    with bounded(seconds=2, megabytes=32):
        (item,) = parse("xml", data)
    assert isinstance(item, FormatError)


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'<!ENTITY leak "secret">')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    seen: ClassVar[list[str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_external_entities_and_dtds_are_never_fetched(loopback: tuple[str, list[str]]) -> None:
    url, seen = loopback
    attacks = [
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}/entity">]><r><a>&x;</a></r>',
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><a>&x;</a></r>',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/param"> %p;]><r><a>1</a></r>',
        f'<!DOCTYPE r SYSTEM "{url}/dtd"><r><a>1</a></r>',
        f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}/xinclude"/></r>',
    ]
    for attack in attacks:
        items = parse("xml", attack.encode())
        assert_typed(items)
        assert "secret" not in repr(items) and "root:" not in repr(items)
    assert seen == []


def test_deeply_nested_xml_is_refused() -> None:
    data = b"<a>" * 100_000 + b"</a>" * 100_000
    for options in ({}, {"records": "//a"}):
        with bounded(seconds=5, megabytes=64):
            items = parse("xml", data, **options)
        assert isinstance(items[-1], FormatError) and "nested deeper" in str(items[-1])
    fine = b"<r>" + b"<a>" * (MAX_XML_DEPTH - 2) + b"</a>" * (MAX_XML_DEPTH - 2) + b"</r>"
    assert_typed(parse("xml", fine))


@FUZZ
@given(text=st.text(alphabet="<>/a b=\"'&;!-[]?x", max_size=300))
def test_xml_like_noise_gives_records_or_format_errors(text: str) -> None:
    assert_typed(parse("xml", text.encode()))


# --- one huge record -----------------------------------------------------------------------------


class _Repeat(io.RawIOBase):
    """``head + filler * n + tail`` as a stream, never held whole in memory."""

    def __init__(self, head: bytes, filler: bytes, size: int, tail: bytes) -> None:
        self.parts = iter([head, *([filler] * (size // len(filler))), tail])
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self.buffer:
            self.buffer = next(self.parts, b"")
            if not self.buffer:
                return 0
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


HUGE = """
import io
from test_hostile_formats import _Repeat
from contextbridge.formats import get_format
size = {size}
stream = io.BufferedReader(_Repeat({head!r}, b"x" * 65536, size, {tail!r}))
print([type(item).__name__ for item in get_format({name!r}, {{}}).parse(stream, source="huge")])
"""


@pytest.mark.parametrize(
    ("name", "head", "tail", "outcome"),
    [
        ("json", b'[{"id": 1}, {"big": "', b'"}, {"id": 2}]', "['dict', 'FormatError']"),
        ("ndjson", b'{"big": "', b'"}\n{"id": 2}\n', "['FormatError', 'dict']"),
    ],
)
def test_a_huge_single_record_is_refused_in_bounded_memory(
    name: str, head: bytes, tail: bytes, outcome: str
) -> None:
    """Measured in a child process: the JSON parser's own buffers are invisible to tracemalloc."""
    assert HUGE_RECORD_BYTES > MAX_RECORD_BYTES, "the case must exceed the limit"
    fields = {"name": name, "head": head, "tail": tail}
    _, baseline = run_child(HUGE.format(size=65536, **fields), seconds=60)
    output, peak = run_child(HUGE.format(size=HUGE_RECORD_BYTES, **fields), seconds=120)
    assert output.strip() == outcome
    assert peak - baseline < 3 * MAX_RECORD_BYTES, f"{(peak - baseline) / 2**20:.0f} MiB above the baseline"
