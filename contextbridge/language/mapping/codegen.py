"""A compiled mapping as Python source: one function per entity rule and a combined ``entities``.

    >>> generated = generate(load_mapping("mappings/santander-parking.yaml"))
    >>> print(generated.source)          # what ``contextbridge check --show-code`` prints
    >>> generated.entities(record, skip, report)

The closures of :mod:`contextbridge.language.mapping.attributes` call one another per step (getter, cast,
scale, round, range, attribute); here the steps of each attribute are written out as straight
code: direct subscripts, inlined casts and templates, constants bound once. What the generator
does not know how to write (language maps, GeoJSON, computed ids...) calls the attribute's own
closure: the fall-back is per attribute, never a failure. The output is the closures' output,
byte for byte, errors included (``tests/test_codegen.py`` compares both on hostile records).

Safety: the source is generated from a validated mapping, never from records. Every string of
the mapping that reaches the source (attribute and type names, template texts, field names) is
written with ``repr()``; other constants (lists, maps, defaults) are bound in the namespace the
source runs in, never spelled in it.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...entities.constraints import Constraints, _violation
from ...errors import TransformError
from ..fieldpaths import MISSING
from ..templates import _URI_SAFE, to_text, uri_escape
from .attributes import _blame, checked_value, is_missing
from .casts import time_parser
from .compiler import EntityRule
from .emit import Writer, attribute_code, covers, known, read, template
from .proofs import check_code, residual_check

Entities = Callable[..., list[dict[str, Any]]]
_PLAIN = (str, int, bool)


@dataclass(frozen=True)
class Generated:
    """The generated source of a mapping and its compiled ``entities(record, skip, report)``."""

    source: str
    entities: Entities
    fallbacks: tuple[str, ...]  # the attributes (``Type.name``) left to their closures


def _rule(w: Writer, number: int, rule: EntityRule, decimal: str, fallbacks: list[str]) -> str:
    """``def _rule_N(view, skip)``: the entity of ``rule`` from one view of the record (the rules
    with ``each:`` or lookups: the others are written into ``entities`` itself)."""
    name = f"_rule_{number}"
    w.line(f"def {name}(view, skip):")
    w.depth += 1
    w.view, w.observed, w.memo = "view", "observed", None
    _body(w, rule, decimal, fallbacks)
    w.line("return entity")
    w.depth -= 1
    w.line("")
    return name


def _body(w: Writer, rule: EntityRule, decimal: str, fallbacks: list[str]) -> None:
    """The statements making ``entity``, the entity of ``rule`` from ``w.view``."""
    fields = ",".join(rule.id.fields)
    entity_id = w.local("entity_id")
    certain = False
    if isinstance(_entity_spec(w.data, rule.key).get("id"), str):  # a URI template, not {expr: ...}
        texts, certain = template(w, entity_id, rule.id.source, uri=True)
    else:
        texts = []
        w.line(f"{entity_id} = {w.bind('id', rule.id.render)}({w.view})")
    if not certain:
        w.line(f"if {entity_id} is MISSING:")
        if rule.each is not None:
            w.line(f"    reason = {rule.type + ' id: missing value'!r} + f\" (item {{view['index']}})\"")
            w.line(f"    raise TransformError(reason, field={fields!r})")
        else:
            w.line(f"    raise TransformError({rule.type + ' id: missing value'!r}, field={fields!r})")
    known(w, texts)
    _observed_at(w, rule)
    w.start(entity_id, rule.type)
    inherit = rule.observed_at is not None
    for attribute in rule.attributes:
        covered = covers(attribute)
        if attribute.skip_on_error or not covered:
            w.flush()  # the entity exists before a member that may be skipped or is built apart
        if attribute.skip_on_error:
            w.line("try:")
            w.depth += 1
        if covered:
            attribute_code(w, attribute, decimal, inherit)
        else:
            fallbacks.append(f"{rule.type}.{attribute.name}")
            made = w.local("made")
            w.line(f"{made} = {w.bind('build', attribute.build)}({w.view}, {w.observed})")
            w.line(f"if {made} is not None:")
            w.line(f"    entity[{attribute.name!r}] = {made}")
        if attribute.skip_on_error:
            w.depth -= 1
            w.line("except TransformError as error:")
            w.line(f"    skip({attribute.name!r}, error)")
    w.flush()


def _observed_at(w: Writer, rule: EntityRule) -> None:
    """The entity's observedAt, once per record for every rule reading the same time the same way."""
    if rule.observed_at is None:
        w.observed = "None"
        return
    spec = _entity_spec(w.data, rule.key).get("observedAt")
    if not isinstance(spec, Mapping) or "from" not in spec or "template" in spec:
        w.observed = w.local("observed")
        w.line(f"{w.observed} = {w.bind('observed', rule.observed_at)}({w.view})")
        return
    key = ("observed", spec["from"], spec.get("format", "iso8601"), spec.get("tz"))
    found = w.recall(key)
    if found is not None:
        w.observed = found
        return
    # attributes.time_getter, written out
    raw, path = read(w, spec["from"]), spec["from"]
    w.observed = w.local("observed")
    w.line(f"if {raw} is MISSING or {raw} is None or (type({raw}) is str and not {raw}.strip()):")
    w.line(f'    raise TransformError("missing time", field={path!r})')
    w.line("try:")
    w.line(f"    {w.observed} = {w.bind('time', time_parser(key[2], key[3]))}({raw})")
    w.line("except TransformError as error:")
    w.line(f"    error.field = {path!r}")
    w.line("    raise")
    w.remember(key, w.observed)
    w.remember(("parsed", *key[1:]), w.observed)


def _entity_spec(data: Any, key: tuple[Any, ...]) -> Mapping[str, Any]:
    """The entity rule as the mapping writes it, at ``key`` (``("entities", 0)``)."""
    for part in key:
        data = data[part]
    return data if isinstance(data, Mapping) else {}


# -- the mapping ------------------------------------------------------------------------------


def generate(mapping: Any, checker: Constraints | None = None) -> Generated:
    """The source of ``mapping`` (its entities checked against ``checker``, if given), compiled."""
    from ..translator import _item_views

    namespace: dict[str, Any] = {
        "MISSING": MISSING,
        "TransformError": TransformError,
        "to_text": to_text,
        "uri_escape": uri_escape,
        "_URI_SAFE": _URI_SAFE,
        "isfinite": math.isfinite,
        "is_missing": is_missing,
        "_blame": _blame,
        "_PLAIN": _PLAIN,
        "checked_value": checked_value,
        "_item_views": _item_views,
        "_violation": _violation,
    }
    w = Writer(namespace)
    w.data = mapping.document.data
    decimal = _decimal(mapping)
    fallbacks: list[str] = []
    names = {
        number: _guarded(w, rule, fallbacks, functools.partial(_rule, w, number, rule, decimal, fallbacks))
        for number, rule in enumerate(mapping.entities)
        if rule.each is not None or rule.lookups
    }
    w.line("def entities(record, skip, report):")
    w.depth += 1
    w.base, w.memo = w.depth, {}
    if mapping.filter is not None:
        w.line(f"if not {w.bind('filter', mapping.filter)}(record):")
        w.line("    return []")
    # No rule with ``when`` or ``each``: one entity per rule, returned as one list display.
    fixed = all(rule.when is None and rule.each is None for rule in mapping.entities)
    made: list[str] = []
    if not fixed:
        w.line("out = []")
    shared: dict[int, str] = {}
    last_lookups: Any = None
    for number, rule in enumerate(mapping.entities):
        where = ".".join(str(part) for part in rule.key)
        w.line(f"# {rule.type!r} ({where})")
        check = _rule_check(rule, checker) if checker is not None else None
        w.view = "record"
        if rule.each is not None:
            each, lookups = w.bind("each", rule.each), w.bind("lookups", rule.lookups)
            w.line(f"for view in _item_views(record, {each}, {lookups}):")
            w.depth += 1
            view = "view"
        elif rule.lookups:
            if rule.lookups is not last_lookups:
                # one shallow copy of the record per lookup set, as the closures' translator makes
                enriched = w.local("enriched")
                w.line(f"{enriched} = dict(record)")
                for lookup_name, bind in rule.lookups:
                    w.line(f"{enriched}[{lookup_name!r}] = {w.bind('bind', bind)}(record)")
                shared[id(rule.lookups)] = enriched
                last_lookups = rule.lookups
            view = shared[id(rule.lookups)]
        else:
            view = "record"
        opened = 1 if rule.each is not None else 0
        if rule.when is not None:
            w.line(f"if {w.bind('when', rule.when)}({view}):")
            w.depth += 1
            opened += 1
        if number in names:
            w.line(f"entity = {names[number]}({view}, skip)")
        else:
            function = _guarded(w, rule, fallbacks, functools.partial(_body, w, rule, decimal, fallbacks))
            if function is not None:
                w.line(f"entity = {function}({view}, skip)")
        check_code(w, rule, check)
        if fixed:
            made.append(w.local("entity"))
            w.line(f"{made[-1]} = entity")
        else:
            w.line("out.append(entity)")
        w.depth -= opened
    w.line(f"return [{', '.join(made)}]" if fixed else "return out")
    head = [f"# The mapping {mapping.id!r} compiled to Python (contextbridge.language.mapping.codegen)."]
    if fallbacks:
        head.append(f"# Built by their closures: {', '.join(fallbacks)}.")
    source = "\n".join([*head, "", *w.lines, *_constants(w.namespace, w.bound)]) + "\n"
    # Generated from the validated mapping (strings as repr() literals, other constants bound in
    # the namespace): no record value is ever part of the source.
    code = compile(source, f"<mapping {mapping.id}>", "exec")
    exec(code, namespace)
    return Generated(source, namespace["entities"], tuple(fallbacks))


def _rule_check(rule: EntityRule, checker: Constraints) -> Any:
    """The constraints left to check on the entities of ``rule`` (see ``proofs``)."""
    try:
        return residual_check(rule, checker)
    except Exception:
        return checker.for_rule(rule.type, {a.name: a.unit_code for a in rule.attributes})


def _guarded(w: Writer, rule: EntityRule, fallbacks: list[str], write: Callable[[], Any]) -> Any:
    """``write()``; should it fail (a shape of mapping the generator gets wrong), what it wrote is
    taken back and the rule is built by its closures instead (``closure_rule``): the fall-back is
    per rule, and generation never fails. Returns what ``write`` returns, or the closure's name."""
    mark = w.mark()
    try:
        return write()
    except Exception:
        w.restore(mark)
        fallbacks.append(f"{rule.type} (the whole rule)")
        return w.bind("rule", closure_rule(rule))


def closure_rule(rule: EntityRule) -> Callable[[Any, Any], dict[str, Any]]:
    """The entity of ``rule`` from one view, by the rule's closures, as the translator's
    closures path builds it."""
    render_id, observed_at, type_name = rule.id.render, rule.observed_at, rule.type
    attributes = tuple((a.name, a.build, a.skip_on_error) for a in rule.attributes)
    fields, each = ",".join(rule.id.fields), rule.each is not None

    def build(view: Any, skip: Any) -> dict[str, Any]:
        entity_id = render_id(view)
        if entity_id is MISSING:
            item = f" (item {view['index']})" if each else ""
            raise TransformError(f"{type_name} id: missing value{item}", field=fields)
        observed = observed_at(view) if observed_at is not None else None
        entity: dict[str, Any] = {"id": entity_id, "type": type_name}
        for name, make, skips in attributes:
            try:
                value = make(view, observed)
            except TransformError as error:
                if not skips:
                    raise
                skip(name, error)
                continue
            if value is not None:
                entity[name] = value
        return entity

    return build


_CACHE: dict[tuple[int, int], tuple[Any, Any, Generated]] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 64


def generated(mapping: Any, checker: Constraints | None = None) -> Generated:
    """:func:`generate`, once per mapping and constraints (the last few kept)."""
    key = (id(mapping), id(checker))
    found = _CACHE.get(key)
    if found is not None and found[0] is mapping and found[1] is checker:
        return found[2]
    made = generate(mapping, checker)
    with _LOCK:
        while len(_CACHE) >= _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = (mapping, checker, made)  # both kept alive: their ids stay theirs
    return made


def _constants(namespace: dict[str, Any], names: list[str]) -> list[str]:
    """The constants the source names, shown as comments (functions are not shown)."""
    shown = [f"# {name} = {_short(repr(namespace[name]))}" for name in names if not callable(namespace[name])]
    return ["", "# Constants of the mapping, bound beside this source:", *shown] if shown else []


def _short(text: str, limit: int = 160) -> str:
    text = text.replace("\n", "\\n").replace("\r", "\\r")  # one comment line each, whatever repr gives
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _decimal(mapping: Any) -> str:
    source = mapping.document.data.get("source", {})
    return str(source.get("decimal", "."))
