"""What the ontology and the constraints say about one entity type, for people and for the console.

    >>> describe_type(default_ontology(), "WeatherObserved")["attributes"]["relativeHumidity"]
    {'iri': 'https://smartdatamodels.org/dataModel.Weather/relativeHumidity', 'kind': 'Property',
     'datatype': 'xsd:double', 'unit': 'C62', 'enumeration': None, 'range': '>= 0 and <= 1',
     'required': False, 'constraints': [...]}

``contextbridge describe TYPE`` prints it; ``GET /types/{name}`` serves it to the playground.
"""

from __future__ import annotations

import difflib
from typing import Any

from ..entities.constraints import constraints_for
from ..entities.ontology import Ontology
from ..errors import OntologyError


class UnknownType(OntologyError):
    """A type name the ontology does not have; ``suggestions`` are the closest it has."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown entity type {name!r}: not a class of the ontology{hint}")


def type_suggestions(ontology: Ontology, name: str) -> list[str]:
    """The closest class names, case-insensitively first (``parkingspot`` → ``ParkingSpot``)."""
    names = [n for n in ontology.classes if ":" not in n]
    folded = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(folded), n=3, cutoff=0.6)
    return [folded[found] for found in close]


def describe_type(ontology: Ontology, name: str) -> dict[str, Any]:
    """The type's IRI, superclasses and attributes (IRI, kind, datatype, unit, enumeration, range,
    required, and each constraint with its origin); raises UnknownType with suggestions."""
    cls = ontology.cls(name)
    if cls is None:
        raise UnknownType(name, type_suggestions(ontology, name))
    constraints = constraints_for(ontology).of(name)
    attributes = {}
    for short, prop in sorted(ontology.attributes(name).items()):
        own = [c for c in constraints if c.attribute == short]
        enumeration = next((sorted(c.allowed) for c in own if c.allowed and c.member == "value"), None)
        bounds = next((c.describe() for c in own if c.bounds), None)
        datatype = prop.range if prop.kind == "Relationship" or prop.range == "json" else f"xsd:{prop.range}"
        attributes[short] = {
            "iri": prop.iri,
            "kind": prop.kind,
            "datatype": datatype,
            "unit": prop.unit,
            "enumeration": enumeration,
            "range": bounds,
            "required": any(c.min_count for c in own),
            "constraints": [{"rule": c.rule, "says": c.describe(), "source": c.source} for c in own],
            "comment": prop.comment,
        }
    ancestors = sorted(p for p in ontology.classes if p != name and ontology.is_subclass(name, p))
    return {
        "type": name,
        "iri": cls.iri,
        "label": cls.label,
        "comment": cls.comment,
        "superclasses": [{"name": p, "iri": ontology.classes[p].iri} for p in ancestors],
        "attributes": attributes,
    }


def describe_text(description: dict[str, Any]) -> str:
    """The description as a few lines of text (``contextbridge describe``)."""
    lines = [f"{description['type']} <{description['iri']}>"]
    if description["comment"]:
        lines.append(f"  {description['comment']}")
    supers = ", ".join(f"{s['name']} <{s['iri']}>" for s in description["superclasses"])
    lines.append(f"  superclasses: {supers or 'none'}")
    lines.append("  attributes:")
    for name, attr in description["attributes"].items():
        facts = [attr["kind"], attr["datatype"]]
        facts += [f"unit {attr['unit']}"] if attr["unit"] else []
        facts += [f"one of {', '.join(attr['enumeration'])}"] if attr["enumeration"] else []
        facts += [attr["range"]] if attr["range"] else []
        facts += ["required"] if attr["required"] else []
        lines.append(f"    {name} <{attr['iri']}>: {'; '.join(facts)}")
        lines += [f"      {c['rule']}: {c['source']}" for c in attr["constraints"]]
    return "\n".join(lines) + "\n"
