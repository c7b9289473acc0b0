"""SHACL shapes from the Smart Data Models JSON Schemas (``scripts/sdm/``, see its SOURCES.md).

Called by ``build_ontology.py``, which writes ``contextbridge/data/shapes/sdm.ttl``. For every
entity type of the ontology that comes from a Smart Data Model, one ``sh:NodeShape`` targets the
type's class, with one named property shape per constraint the schema states and the NGSI-LD
graph can carry:

* ``sdm-required`` — an attribute of the schema's ``required`` list (``sh:minCount 1``);
* ``sdm-enum`` — a string enumeration, of the value or of an array's items (``sh:in`` on
  ``(attribute ngsi-ld:hasValue)``);
* ``sdm-range`` — ``minimum``/``maximum`` (exclusive too) of a number (``sh:minInclusive``...);
* ``sdm-unit`` — the unit the ontology expects (``city:unitCode``) for an attribute of the schema,
  which the schema states in prose if at all (``sh:in`` on ``(attribute ngsi-ld:unitCode)``).

Each shape says where it comes from (``dct:source``: the schema file and attribute) and which
rule it is (``city:rule``); ``contextbridge.entities.constraints`` compiles them, pySHACL reads them as is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SDM_DIR = Path(__file__).resolve().parent / "sdm"
REMOTE = {
    "https://smart-data-models.github.io/data-models/": "",
    "https://smart-data-models.github.io/": "",
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/": "dataModel.Environment/",
}
_UNITS_TEXT = re.compile(r"Units?\s*:\s*'([^']*)'", re.IGNORECASE)
# Enumerations a model's specification lists where its current schema.json states none (the
# Transportation subject's BikeHireDockingStation schema.json is a stub, {"$schemaVersion": "0.1.1"}):
# (model, attribute) -> (values, origin). Copied from the specification, in its order.
SPEC_ENUMS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("BikeHireDockingStation", "status"): (
        ("working", "outOfService", "withIncidence", "full", "almostFull", "empty", "almostEmpty"),
        "SDM smart-data-models/dataModel.Transportation Bike/BikeHireDockingStation/doc/spec.md "
        "(commit 539731f43d17e3d32f41409a7a6fc3862af988d4, the FIWARE model's schema.json enum), "
        "attribute status",
    ),
}


def _load(relative: str) -> Any:
    return json.loads((SDM_DIR / relative).read_text(encoding="utf-8"))


def _resolve(ref: str, here: str) -> tuple[Any, str]:
    """The schema a ``$ref`` points at, and the file it lives in (refs resolve to the local copies)."""
    url, _, pointer = ref.partition("#")
    path = here
    if url:
        for prefix, local in REMOTE.items():
            if url.startswith(prefix):
                path = local + url[len(prefix) :]
                break
        else:
            raise SystemExit(f"{here}: $ref {ref!r} has no local copy in {SDM_DIR}")
    node = _load(path)
    for part in filter(None, pointer.split("/")):
        node = node[part]
    return node, path


def _merge(schema: dict[str, Any], here: str, props: dict[str, Any], required: list[str]) -> None:
    """The properties and required names of a schema and of everything its ``allOf`` pulls in."""
    if "$ref" in schema:
        target, where = _resolve(schema["$ref"], here)
        _merge(target, where, props, required)
    for part in schema.get("allOf", ()):
        _merge(part, here, props, required)
    for name, prop in schema.get("properties", {}).items():
        if "$ref" in prop and len(prop) <= 2:
            prop = {**_resolve(prop["$ref"], here)[0], **{k: v for k, v in prop.items() if k != "$ref"}}
        props.setdefault(name, prop)  # a model's own definition comes first and wins
    required.extend(name for name in schema.get("required", ()) if name not in required)


def schema_constraints(subject: str, model: str) -> tuple[str, dict[str, Any], list[str]]:
    """(schema file, properties, required attributes) of one model."""
    here = f"dataModel.{subject}/{model}/schema.json"
    props: dict[str, Any] = {}
    required: list[str] = []
    # The model's own properties first (the last allOf entry), then the commons it includes.
    schema = _load(here)
    parts = schema.get("allOf", [])
    for part in [p for p in parts if "properties" in p] + [p for p in parts if "properties" not in p]:
        _merge(part, here, props, required)
    _merge({k: v for k, v in schema.items() if k != "allOf"}, here, props, required)
    return here, props, [name for name in required if name not in ("id", "type")]


def _enum(prop: dict[str, Any]) -> list[str] | None:
    values = prop.get("enum")
    if values is None and prop.get("type") == "array":
        values = prop.get("items", {}).get("enum")
    if values and all(isinstance(v, str) for v in values):
        return list(values)
    return None


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value) if isinstance(value, int) else f"{float(value)!r}e0".replace("e0", "E0", 1)


def render_shapes(models: dict[str, str], ontology: Any) -> str:
    """Turtle text of the shapes of ``models`` (name → SDM subject), for the ontology's IRIs."""
    out = [SHAPES_HEADER]
    for model in sorted(models):
        subject = models[model]
        if (SDM_DIR / f"dataModel.{subject}/{model}/schema.json").exists():
            shapes = _model_shapes(model, subject, ontology)
        else:
            shapes = []  # no offline copy of its schema (Vehicle): only the specification's enumerations
        shapes += _spec_shapes(model, ontology)
        if not shapes:
            continue
        cls_iri = ontology.cls(model).iri
        node = [f"shape:{model} a sh:NodeShape", f"sh:targetClass <{cls_iri}>"]
        node += [f"sh:property {name}" for name, _ in shapes]
        out.append(" ;\n    ".join(node) + " .\n")
        for name, lines in shapes:
            out.append(" ;\n    ".join([f"{name} a sh:PropertyShape", *lines]) + " .\n")
    return "\n".join(out)


def _model_shapes(model: str, subject: str, ontology: Any) -> list[tuple[str, list[str]]]:
    """(shape name, Turtle lines) of each constraint of one model."""
    source, props, required = schema_constraints(subject, model)
    attributes = ontology.attributes(model)
    shapes: list[tuple[str, list[str]]] = []

    def add(name: str, rule: str, lines: list[str], where: str = "") -> None:
        origin = f"SDM {source}, attribute {name}{where}"
        shapes.append(
            (
                f"shape:{model}-{name}-{rule.removeprefix('sdm-')}",
                [
                    *lines,
                    f"sh:name {_literal(name)}",
                    f"city:rule {_literal(rule)}",
                    f"dct:source {_literal(origin)}",
                ],
            )
        )

    for name in sorted(set(required) | set(props)):
        prop = attributes.get(name)
        if prop is None:
            continue  # not an attribute of the city's type (e.g. NGSI v2 leftovers)
        iri = f"<{prop.iri}>"
        spec = props.get(name, {})
        if name in required:
            add(name, "sdm-required", [f"sh:path {iri}", "sh:minCount 1",
                f"sh:message {_literal(f'{model} requires {name}')}"])  # fmt: skip
        if prop.kind != "Property":
            continue
        values = _enum(spec)
        if values:
            listed = " ".join(_literal(v) for v in values)
            add(name, "sdm-enum", [f"sh:path ( {iri} ngsi-ld:hasValue )", f"sh:in ( {listed} )",
                f"sh:message {_literal(f'{name} is one of ' + ', '.join(values))}"])  # fmt: skip
        bounds = [
            (key, spec[key])
            for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
            if isinstance(spec.get(key), int | float) and not isinstance(spec.get(key), bool)
        ]
        if bounds and spec.get("type") in ("number", "integer"):
            terms = {"minimum": "sh:minInclusive", "exclusiveMinimum": "sh:minExclusive",
                     "maximum": "sh:maxInclusive", "exclusiveMaximum": "sh:maxExclusive"}  # fmt: skip
            words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
            text = " and ".join(f"{words[key]} {value}" for key, value in bounds)
            add(name, "sdm-range", [f"sh:path ( {iri} ngsi-ld:hasValue )",
                *(f"{terms[key]} {_literal(value)}" for key, value in bounds),
                f"sh:message {_literal(f'{name} is a number {text}')}"])  # fmt: skip
        found = _UNITS_TEXT.search(spec.get("description", ""))
        if prop.unit and name in props:
            # SDM states most units in prose ("Units:'Celsius degrees'"), some not at all: the
            # code is the ontology's (curated in build_ontology.UNITS), the prose is quoted.
            said = f"units: {found.group(1).strip()!r}" if found else "unit code from the city ontology"
            add(name, "sdm-unit", [f"sh:path ( {iri} ngsi-ld:unitCode )", f"sh:in ( {_literal(prop.unit)} )",
                f"sh:message {_literal(f'{name} is measured in {prop.unit}')}"],
                f" ({said})")  # fmt: skip
    return shapes


def _spec_shapes(model: str, ontology: Any) -> list[tuple[str, list[str]]]:
    """The ``sdm-enum`` shapes of the enumerations :data:`SPEC_ENUMS` gives for ``model``."""
    shapes = []
    attributes = ontology.attributes(model)
    for (owner, name), (values, origin) in sorted(SPEC_ENUMS.items()):
        prop = attributes.get(name)
        if owner != model or prop is None:
            continue
        listed = " ".join(_literal(v) for v in values)
        lines = [f"sh:path ( <{prop.iri}> ngsi-ld:hasValue )", f"sh:in ( {listed} )",
                 f"sh:message {_literal(f'{name} is one of ' + ', '.join(values))}",
                 f"sh:name {_literal(name)}", f"city:rule {_literal('sdm-enum')}",
                 f"dct:source {_literal(origin)}"]  # fmt: skip
        shapes.append((f"shape:{model}-{name}-enum", lines))
    return shapes


SHAPES_HEADER = """\
# Smart Data Models constraints as SHACL shapes. GENERATED by scripts/build_ontology.py from the SDM
# JSON Schemas in scripts/sdm/ (see its SOURCES.md): edit the script, not this file.
@prefix city: <https://contextbridge.dev/ontology/city#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix ngsi-ld: <https://uri.etsi.org/ngsi-ld/> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix shape: <https://contextbridge.dev/shapes/sdm#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
