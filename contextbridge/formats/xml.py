"""XML input: the elements a path matches become records, streamed with defusedxml.

    >>> fmt = XmlFormat({"records": "lights/light"})
    >>> next(fmt.parse(io.BytesIO(b'<lights><light id="7"><lamp>LED</lamp></light></lights>')))
    {'@id': '7', 'lamp': 'LED'}

``records`` is an element path: ``lights/light`` starts at the root element (``lights``),
``//light`` (or just ``light``) matches that element at any depth, ``*`` matches any element;
omitted, each child of the root is a record. Tags are matched on their local names (the
``{namespace}`` is dropped). In a record, attributes become ``"@name"``, a child without
attributes or children its stripped text, other children nested dicts built the same way,
repeated children lists, and the text of an element that also has attributes or children
``"#text"``. Finished elements are dropped as the parse goes, so memory stays bounded.
Entity declarations are refused (billion laughs, external entities): the document is rejected,
as is a document nested deeper than ``MAX_XML_DEPTH`` (256) elements.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse

from ..errors import FormatError
from .base import Format, OptionReader, Record, bad_option

__all__ = ["MAX_XML_DEPTH", "XmlFormat"]

_ANY = "*"
# Records are built recursively; a real export is a few levels deep. Deeper documents are
# refused before Python's own recursion limit turns them into a crash.
MAX_XML_DEPTH = 256


class XmlFormat(Format):
    """An XML document whose record elements are picked by an element path."""

    name = "xml"
    options = frozenset({"records"})

    def configure(self, options: OptionReader) -> None:
        path = options.text("records", None)
        everywhere: tuple[bool, tuple[str, ...]] = (True, (_ANY, _ANY))
        self.anchored, self.steps = (
            options.checked("records", lambda: _compile_path(path), everywhere)
            if path is not None
            else everywhere
        )

    def parse(self, stream: BinaryIO, *, source: str | None = None) -> Iterator[Record | FormatError]:
        number = 0
        names: list[str] = []  # local names of the open elements, root first
        open_elements: list[Element] = []
        record_depth = 0  # depth of the record being read; 0 outside any record
        events = iterparse(
            stream, events=("start", "end"), forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
        try:
            for event, element in events:
                if event == "start":
                    if len(names) >= MAX_XML_DEPTH:
                        reason = f"XML refused: nested deeper than {MAX_XML_DEPTH} elements"
                        yield FormatError(reason, source=source)
                        return
                    names.append(_local(element.tag))
                    open_elements.append(element)
                    if not record_depth and self._matches(names):
                        record_depth = len(names)
                    continue
                depth = len(names)
                names.pop()
                open_elements.pop()
                if depth == record_depth:
                    record_depth = 0
                    number += 1
                    yield _record(element)
                    element.clear()
                if not record_depth and open_elements:
                    # Everything before this point is finished: drop it from its parent.
                    del open_elements[-1][:]
        except ParseError as error:
            line, column = error.position
            reason = str(error).rsplit(": line ", 1)[0]
            yield FormatError(f"invalid XML at line {line}, column {column + 1}: {reason}", source=source)
        except DefusedXmlException as error:
            yield FormatError(_refusal(error), source=source)

    def _matches(self, names: list[str]) -> bool:
        steps = self.steps
        if len(names) < len(steps) or (self.anchored and len(names) != len(steps)):
            return False
        for step, name in zip(reversed(steps), reversed(names), strict=False):
            if step != _ANY and step != name:
                return False
        return True


def _compile_path(path: str) -> tuple[bool, tuple[str, ...]]:
    """``a/b`` → anchored at the root; ``//b``, ``//a/b`` and a single ``b`` → at any depth."""
    text = path.strip()
    anchored = not text.startswith("//") and ("/" in text.lstrip("/"))
    steps = tuple(step.strip().rpartition(":")[2] for step in text.lstrip("/").split("/"))
    if not text or not all(steps) or any(("[" in step or "@" in step) for step in steps):
        raise bad_option("records", path, "expected an element path such as 'lights/light' or '//light'")
    return anchored, steps


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _record(element: Element) -> Record:
    value = _value(element)
    if isinstance(value, dict):
        return value
    return {"#text": value} if value else {}


def _value(element: Element) -> str | dict[str, Any]:
    if not element.attrib and not len(element):
        return (element.text or "").strip()
    result: dict[str, Any] = {f"@{_local(key)}": value for key, value in element.attrib.items()}
    for child in element:
        key = _local(child.tag)
        value = _value(child)
        if key not in result:
            result[key] = value
        elif isinstance(result[key], list):  # values are str or dict: a list means a repeated tag
            result[key].append(value)
        else:
            result[key] = [result[key], value]
    text = " ".join(
        part.strip() for part in (element.text, *(child.tail for child in element)) if part and part.strip()
    )
    if text:
        result["#text"] = text
    return result


def _refusal(error: DefusedXmlException) -> str:
    if isinstance(error, EntitiesForbidden):
        return (
            f"XML refused: it declares the entity {error.name!r}; entity declarations are not accepted "
            "(they can expand without bound or read local files)"
        )
    if isinstance(error, ExternalReferenceForbidden):
        return f"XML refused: it refers to the external resource {error.sysid!r}"
    return f"XML refused: {error}"
