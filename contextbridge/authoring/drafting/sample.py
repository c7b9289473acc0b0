"""Read a sample payload the way a mapping would: guess its format and options, parse its records.

    >>> sample = read_sample(b'{"data": [{"id": "a", "temp_c": "7,5"}]}', name="feed.json")
    >>> sample.format, sample.options
    ('json', {'records': 'data[*]'})

The guesses are the ones an integrator makes by looking: the file extension or the first byte
says the format; a JSON document's records are its largest list of objects; an XML document's
records are the element that repeats most; a CSV file's delimiter is the one every line splits
the same way, its encoding UTF-8 unless the bytes say otherwise, its decimal separator a comma
when numbers are written ``7,5``. The records are then parsed by the project's own formats,
so the draft sees exactly what the translation will.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from defusedxml import ElementTree

from ...errors import ConfigError, FormatError
from ...formats import FORMATS, get_format
from .profile import time_format

MAX_RECORDS = 500
MAX_BYTES = 32 * 1024 * 1024  # a sample, not a whole feed: the JSON and XML guesses read it at once
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
_EXTENSIONS = {".json": "json", ".geojson": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}
_EXTENSIONS |= {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xml": "xml", ".senml": "senml"}


@dataclass(frozen=True)
class Sample:
    """A parsed sample: the source block a mapping needs, the records, and why it was guessed."""

    format: str
    options: dict[str, Any]
    records: list[dict[str, Any]]  # as the entity rule reads them: with ``each``, one view per item
    reasons: list[str] = field(default_factory=list)
    each: str = ""  # ``each: PATH`` over a list of the one record, when its own fields are wanted too


def read_sample(payload: bytes, *, name: str = "", format: str | None = None) -> Sample:
    """Parse ``payload`` (the bytes of a sample file named ``name``); ``format`` overrides the guess."""
    where = name or "sample"
    if not payload.strip():
        raise ConfigError(f"{where}: the sample is empty")
    if len(payload) > MAX_BYTES:
        raise ConfigError(f"{where}: {len(payload)} bytes; a sample of at most {MAX_BYTES} bytes is enough")
    try:
        return _read(payload, name, format)
    except (ValueError, SyntaxError, RecursionError) as error:  # json, defusedxml and ElementTree errors
        raise ConfigError(f"{where}: cannot read the sample: {type(error).__name__}: {error}") from None


def _read(payload: bytes, name: str, format: str | None) -> Sample:
    reasons: list[str] = []
    chosen = format or _guess_format(payload, name, reasons)
    if chosen not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ConfigError(f"unknown format {chosen!r} (known formats: {known})", key="format")
    options = _guess_options(chosen, payload, reasons)
    each, records = "", list[dict[str, Any]]()
    if chosen == "json" and options.get("records"):
        each, records = _each(options, json.loads(payload), reasons)
    records = records or _parse(chosen, options, payload, name)
    if chosen == "csv" and _has_decimal_comma(records):
        options["decimal"] = ","
        reasons.append("numbers are written with a decimal comma (7,5)")
    if not records:
        raise ConfigError(f"{name or 'sample'}: no record found in the sample ({chosen})")
    return Sample(chosen, options, records, reasons, each)


def _each(options: dict[str, Any], document: Any, reasons: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """``each:`` over the records list when the document's own fields hold a time (a GBFS feed's
    ``last_updated``): reading the document as one record keeps that time readable beside
    ``item.``; paging counts (``summary.items``) are no reason to. The views are the ones the
    entity rule sees, less the list itself, which the item already shows."""
    path = options.get("records", "").removesuffix("[*]")
    if not path or "[" in path or not isinstance(document, dict):
        return "", []
    holder, _, last = path.rpartition(".")
    parent = document
    for step in holder.split(".") if holder else ():
        parent = parent[step]
    items = parent.pop(last)
    times = [k for k, v in document.items() if not isinstance(v, dict | list) and time_format([v])]
    if not times:
        return "", []
    del options["records"]
    reasons[-1] = f"each: {path}: the largest list of objects, beside the document's time ({times[0]})"
    return path, [{**document, "item": item} for item in items[:MAX_RECORDS] if isinstance(item, dict)]


def _guess_format(payload: bytes, name: str, reasons: list[str]) -> str:
    lowered = name.lower()
    for extension, fmt in _EXTENSIONS.items():
        if lowered.endswith(extension) and fmt != "json":
            reasons.append(f"format {fmt}: file extension {extension}")
            return fmt
    head = payload.lstrip()[:1]
    if head == b"<":
        reasons.append("format xml: the payload starts with '<'")
        return "xml"
    if head in (b"{", b"["):
        try:
            document = json.loads(payload)
        except ValueError:
            reasons.append("format ndjson: one JSON value per line")
            return "ndjson"
        if _is_senml(document):
            reasons.append("format senml: a JSON array of SenML records (n, v, bn, bt)")
            return "senml"
        reasons.append("format json: one JSON document")
        return "json"
    reasons.append("format csv: plain text lines")
    return "csv"


def _is_senml(document: Any) -> bool:
    if not isinstance(document, list) or not document:
        return False
    objects = [item for item in document if isinstance(item, dict)]
    senml_keys = {"n", "v", "vs", "vb", "bn", "bt", "u"}
    return len(objects) == len(document) and all(
        set(item) <= senml_keys | {"t", "bu", "bv", "s"} for item in objects
    )


def _guess_options(fmt: str, payload: bytes, reasons: list[str]) -> dict[str, Any]:
    if fmt == "json":
        path = _records_path(json.loads(payload))
        if path:
            reasons.append(f"records {path}: the largest list of objects in the document")
            return {"records": path}
        return {}
    if fmt == "xml":
        path = _xml_records(payload)
        reasons.append(f"records {path}: the element that repeats most")
        return {"records": path}
    if fmt == "senml":
        reasons.append("group: true: the records of one time make one reading")
        return {"group": True}
    if fmt == "csv":
        return _csv_options(payload, reasons)
    return {}


def _records_path(document: Any) -> str:
    """``resources[*]`` for the largest list of objects, when it holds most of the document (an
    API page); a list that is a small part of it (the gateways of one LoRaWAN uplink) is a field
    of one record, and the document is that record."""
    best: tuple[int, str, Any] = (0, "", None)

    def visit(node: Any, path: str, depth: int) -> None:
        nonlocal best
        if isinstance(node, list):
            objects = sum(isinstance(item, dict) for item in node)
            if objects > best[0]:
                best = (objects, f"{path}[*]", node)
        elif isinstance(node, dict) and depth < 4:
            for key, value in node.items():
                if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][\w:-]*", key):
                    visit(value, f"{path}.{key}" if path else key, depth + 1)

    visit(document, "", 0)
    _, path, found = best
    if path in ("", "[*]") or _leaves(found) * 2 < _leaves(document):
        return ""  # a top-level list is read without a records option; an object is one record
    return path


def _leaves(node: Any) -> int:
    if isinstance(node, dict):
        return sum(_leaves(value) for value in node.values())
    if isinstance(node, list):
        return sum(_leaves(value) for value in node)
    return 1


def _xml_records(payload: bytes) -> str:
    """The path of the most repeated element, in local names (the XML format ignores namespaces)."""
    root = ElementTree.fromstring(payload)
    best: tuple[int, str] = (0, _local(root.tag))

    def visit(node: Any, path: str, depth: int) -> None:
        nonlocal best
        counts = Counter(child.tag for child in node)
        for tag, count in counts.items():
            if count > best[0]:
                best = (count, f"{path}/{_local(tag)}")
        if depth < 6:
            for tag in counts:
                visit(node.find(tag), f"{path}/{_local(tag)}", depth + 1)

    visit(root, _local(root.tag), 0)
    return best[1]


def _local(tag: str) -> str:
    """``{namespace}name`` → ``name``."""
    return tag.rpartition("}")[2]


def _csv_options(payload: bytes, reasons: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        # bytes 0x80-0x9F are printable in Windows-1252 and control codes in latin-1
        encoding = "cp1252" if re.search(rb"[\x80-\x9f]", payload) else "latin-1"
        options["encoding"] = encoding
        reasons.append(f"encoding {encoding}: the bytes are not UTF-8")
        text = payload.decode(encoding, errors="replace")
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    # the delimiter most lines (a ragged row aside) split into the same number of cells
    best: tuple[float, str] = (0.0, ",")
    for delimiter in (",", ";", "\t", "|"):
        count, agreeing = Counter(line.count(delimiter) for line in lines).most_common(1)[0]
        if count and agreeing / len(lines) > best[0]:
            best = (agreeing / len(lines), delimiter)
    if best[1] != ",":
        options["delimiter"] = best[1]
    reasons.append(f"delimiter {best[1]!r}: {best[0]:.0%} of the lines have as many")
    return options


def _parse(fmt: str, options: dict[str, Any], payload: bytes, name: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for item in get_format(fmt, options).parse(io.BytesIO(payload), source=name or None):
        if isinstance(item, FormatError):
            continue  # a broken record is the translation's business, not the draft's
        records.append(item)
        if len(records) >= MAX_RECORDS:
            break
    return records


def _has_decimal_comma(records: list[dict[str, Any]]) -> bool:
    return any(isinstance(v, str) and _DECIMAL_COMMA.match(v) for r in records[:50] for v in r.values())
