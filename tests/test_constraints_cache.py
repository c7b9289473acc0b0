"""The compiled constraints are cached on disk: a hit compiles nothing, a changed ontology misses,
a corrupt, stale or unwritable cache is compiled around silently, ``off`` keeps nothing, and the
cached constraints find exactly what freshly compiled ones find on the example feeds."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from contextbridge import Constraints, Translator, load_mapping, union_ontology
from contextbridge.entities import constraints, ontology, shapes
from contextbridge.entities import plancache as plans
from contextbridge.entities.constraints import load_constraints

ROOT = Path(__file__).resolve().parent.parent
VENDOR = """
@prefix city: <https://contextbridge.dev/ontology/city#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ngsi-ld: <https://uri.etsi.org/ngsi-ld/> .
@prefix v: <https://bikes.example/#> .
v:BikeDock a owl:Class ; rdfs:label "d"@en ; rdfs:comment "d"@en ; city:ngsiName "BikeDock" .
v:mode a owl:DatatypeProperty ; rdfs:label "m"@en ; rdfs:comment "m"@en ; city:ngsiName "dockMode" ;
    city:ngsiType "Property" ; rdfs:domain v:BikeDock ; rdfs:range xsd:string .
v:DockShape a sh:NodeShape ; sh:targetClass v:BikeDock ;
    sh:property [ sh:path ( v:mode ngsi-ld:hasValue ) ; sh:in ( ALLOWED ) ; sh:message "dockMode is one of the allowed modes" ] .
"""
DOCK = {"id": "urn:ngsi-ld:BikeDock:1", "type": "BikeDock", "dockMode": {"type": "Property", "value": "b"}}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of the test's own, and no constraints kept in this process."""
    where = tmp_path / "cache"
    monkeypatch.setenv(plans.ENV, str(where))
    forget(monkeypatch)
    return where


def forget(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a new process: what this one compiled or read is forgotten (the disk cache is not)."""
    monkeypatch.setattr(constraints, "_COMPILED", {})
    monkeypatch.setattr(constraints, "_BY_KEY", {})
    ontology._union.cache_clear()  # the vendor ontologies loaded (the bundled one may stay: unchanged)


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The entity types of every compilation from the shapes (one entry per compilation)."""
    calls: list[str] = []
    real = shapes.compile_plans

    def counting(ontology: Any) -> Any:
        calls.append(",".join(sorted(ontology.classes)))
        return real(ontology)

    monkeypatch.setattr(shapes, "compile_plans", counting)
    return calls


def vendor(path: Path, allowed: str) -> Path:
    path.write_text(VENDOR.replace("ALLOWED", allowed))
    return path


def files(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir()) if where.is_dir() else []


def test_a_hit_compiles_nothing(cache: Path, compiled: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_constraints()
    assert len(compiled) == 1 and len(files(cache)) == 1
    forget(monkeypatch)
    again = load_constraints()
    assert len(compiled) == 1  # read from the disk, not compiled
    assert again is not first and again.to_data() == first.to_data()
    assert files(cache) == [name for name in files(cache) if not name.startswith(".")]  # no temporary left


def test_a_changed_vendor_ontology_misses(
    tmp_path: Path, cache: Path, compiled: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = vendor(tmp_path / "bikes.ttl", '"a"')
    assert [v.rule for v in load_constraints([path]).check(DOCK)] == ["shacl"]
    forget(monkeypatch)
    assert load_constraints([path]).check(DOCK) and len(compiled) == 1  # a hit
    vendor(path, '"a" "b"')  # the same file, now allowing "b"
    forget(monkeypatch)
    assert load_constraints([path]).check(DOCK) == [] and len(compiled) == 2
    assert len(files(cache)) == 2  # one per version of the vendor's ontology


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{not json",
        b'{"key": "another", "data": {"constraints": [], "types": {}}}',
        b"[1, 2, 3]",
        "KEY:{}",
        'KEY:{"constraints": [["s", "a", "i", "r", "m", "src", "elsewhere", 0, null, []]], "types": {"T": [0]}}',
        'KEY:{"constraints": [], "types": {"ParkingSpot": [7]}}',
        'KEY:{"constraints": [["s", "a", "i", "r", "m", "src", "value", 0, null, [["~", 1]]]], "types": {}}',
        'KEY:{"constraints": [["s", "a", "i", "r", "m", "src", "value", 0, null, [[">", "1"]]]], "types": {}}',
    ],
    ids=["empty", "truncated", "other-key", "no-object", "no-plans", "bad-member", "bad-number", "bad-op", "bad-bound"],
)  # fmt: skip
def test_a_corrupt_file_is_compiled_again_and_replaced(
    cache: Path, compiled: list[str], monkeypatch: pytest.MonkeyPatch, damage: bytes | str
) -> None:
    fresh = load_constraints().to_data()
    (path,) = cache.iterdir()
    key = json.loads(path.read_bytes())["key"]
    if isinstance(damage, str):  # valid JSON under the right key, with broken plans
        damage = json.dumps({"key": key, "data": json.loads(damage[len("KEY:") :])}).encode()
    path.write_bytes(damage)
    forget(monkeypatch)
    assert load_constraints().to_data() == fresh and len(compiled) == 2
    assert json.loads(path.read_bytes()) == {"key": key, "data": fresh}  # written over, whole


def test_an_unwritable_cache_is_no_error(
    tmp_path: Path, compiled: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("a file, where the cache directory should be")
    monkeypatch.setenv(plans.ENV, str(tmp_path / "file" / "cache"))
    forget(monkeypatch)
    assert load_constraints().check(DOCK | {"type": "ParkingSpot"})  # still checks
    forget(monkeypatch)
    assert load_constraints().of("ParkingSpot") and len(compiled) == 2  # nothing kept: compiled again


def test_off_keeps_nothing(tmp_path: Path, compiled: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plans.ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # where the default would be
    forget(monkeypatch)
    assert plans.cache_dir() is None
    load_constraints()
    forget(monkeypatch)
    load_constraints()
    assert len(compiled) == 2 and list(tmp_path.iterdir()) == []


def test_the_default_directory_is_the_users_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(plans.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    forget(monkeypatch)
    load_constraints()
    assert [p.name for p in (tmp_path / "contextbridge").glob("constraints-*.json")]


def test_a_missing_vendor_file_still_fails_as_before(tmp_path: Path, cache: Path) -> None:
    from contextbridge import OntologyError

    with pytest.raises(OntologyError, match=r"nowhere\.ttl: cannot load the ontology"):
        load_constraints([tmp_path / "nowhere.ttl"])


def _broken(entity: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of ``entity`` that break what they can: texts swapped, numbers far out, units wrong,
    each attribute left out in turn."""
    made = []
    for name, attribute in entity.items():
        if not isinstance(attribute, dict) or "value" not in attribute:
            continue
        bad = copy.deepcopy(entity)
        value = attribute["value"]
        bad[name]["value"] = (
            "banana" if isinstance(value, str) else -1e9 if isinstance(value, int | float) else value
        )
        bad[name]["unitCode"] = "FAH"
        made.append(bad)
        made.append({key: item for key, item in entity.items() if key != name})
    return made


def test_cached_and_fresh_constraints_find_the_same_on_the_example_feeds(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_constraints()  # fills the cache
    forget(monkeypatch)
    cached = load_constraints()
    fresh = Constraints(shapes.compile_plans(union_ontology()))
    assert cached is not fresh and cached.to_data() == fresh.to_data()
    checked = broken = 0
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        mapping = load_mapping(path)
        for sample in mapping.samples:
            entities = []
            for check in (cached, fresh):
                translator = Translator(mapping, constraints=check, mode="warn")
                with sample.input.open("rb") as feed:
                    entities.append([e for e in translator.translate_stream(feed) if isinstance(e, dict)])
                entities.append(translator.stats.warning_examples)
            assert entities[0] == entities[2] and entities[1] == entities[3], sample.input
            for entity in [e for e in entities[0] if e.get("type")][:12]:
                for variant in [entity, *_broken(entity)]:
                    found = [str(v) for v in cached.check(variant)]
                    assert found == [str(v) for v in fresh.check(variant)]
                    checked += 1
                    broken += bool(found)
    assert checked > 500 and broken > 200  # the example feeds and their broken copies were judged


def test_old_plans_and_dead_writers_files_are_cleared(cache: Path) -> None:
    cache.mkdir()
    for number in range(plans.KEEP + 4):
        old = cache / f"constraints-{number:032x}.json"
        old.write_text("{}")
        os.utime(old, (1_000_000 + number, 1_000_000 + number))
    dead = cache / ".constraints-dead.tmp"
    dead.write_text("half a file")
    os.utime(dead, (1_000_000, 1_000_000))
    load_constraints()
    kept = files(cache)
    assert len(kept) == plans.KEEP and ".constraints-dead.tmp" not in kept
    assert f"constraints-{plans.KEEP + 3:032x}.json" in kept  # the newest old ones stay
    assert f"constraints-{0:032x}.json" not in kept
