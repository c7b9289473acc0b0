"""Mappings compiled to Python source give, on every record, exactly what the closures they are
generated from give: the same entities (key order, types, bytes), the same errors, the same
counts; and no record value ever becomes source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextbridge import Mapping, RecordError, Translator, load_mapping
from contextbridge.language.mapping.codegen import generate, generated

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = sorted((ROOT / "mappings").glob("*.yaml"))

# Literal texts of templates that must reach the source only as repr() literals.
HOSTILE = "q'\"\"\" \\ \\n \n %s %(x)s {{}} }}{{ ñ \u2028 \t '''"
LABEL = json.dumps(HOSTILE + "{name|upper}-{id|strip}")
DESCRIBED = json.dumps(HOSTILE)

WIDE = f"""
id: wide
source: {{format: json}}
entities:
  - id: "urn:ngsi-ld:ParkingSpot:{{id}}"
    type: ParkingSpot
    observedAt: {{from: when, format: iso8601}}
    attributes:
      status:       {{from: state, map: {{"0": free, "1": occupied, "*": unknown}}, required: true}}
      category:     {{value: [onStreet]}}
      width:        {{from: w, cast: float, range: [0, 10]}}
      length:       {{from: l, cast: float, scale: 0.1, round: 2, default: 4.5}}
      name:         {{from: name}}
      label:        {{template: {LABEL}}}
      lowered:      {{template: "{{name|lower}}", observedAt: false}}
      refParkingSite: {{relationship: "urn:ngsi-ld:OnStreetParking:{{street|slug}}", required: true}}
      refDevice:    {{relationship: "urn:ngsi-ld:Device:{{id}}-{{street}}", default: "urn:ngsi-ld:Device:none"}}
      location:     {{geo: point, lon: lon, lat: lat}}
      count:        {{from: n, cast: int, on_error: skip}}
      flag:         {{from: f, cast: bool}}
      text:         {{from: n, cast: string}}
      seen:         {{from: when, cast: datetime}}
      fahrenheit:   {{from: t, unit: CEL, unitCode: FAH, round: 1}}
      scaled:       {{from: t, scale: 0.5, offset: 3}}
      level:        {{from: t, cast: float, bins: [[0, low], [10, mid], [null, high]]}}
      either:       {{from: [a, b], on_error: skip}}
      nested:       {{from: deep.inner}}
      first:        {{from: "items[0]"}}
      doubled:      {{from: t, expr: "float(value) * 2", on_error: skip}}
      address:      {{object: {{streetAddress: street, postalCode: {{from: n, cast: string}}}}}}
      reading:      {{from: t, cast: float, datasetId: "urn:ngsi-ld:Dataset:{{street}}", on_error: skip}}
      own:          {{from: name, observedAt: {{from: other, format: iso8601}}, on_error: skip}}
      area:         {{geo: geojson, from: shape, on_error: skip}}
      description:  {{language: {{es: "{{name}}", en: {DESCRIBED}}}}}
  - id: "urn:ngsi-ld:Device:{{id}}"
    type: Device
    observedAt: {{from: when, format: iso8601}}
    attributes:
      batteryLevel: {{from: b, cast: float, scale: 0.01, round: 2, unitCode: C62, range: [0, 1], on_error: skip}}
      controlledProperty: {{value: [occupancy]}}
      location:     {{geo: point, lon: lon, lat: lat, required: true}}
      refSpot:      {{relationship: "urn:ngsi-ld:ParkingSpot:{{id}}"}}
      state:        {{from: state, map: {{"0": free, "1": occupied}}, on_error: skip}}
  - id: {{expr: "'urn:ngsi-ld:Thing:' + str(id)"}}
    type: Thing
    when: "state == '1'"
    attributes:
      name: {{from: name, required: true}}
  - id: "urn:ngsi-ld:Item:{{id}}-{{index}}"
    type: Item
    each: items
    attributes:
      value: {{from: item}}
      position: {{from: index, cast: int}}
"""

LOOKED_UP = """
id: looked
source: {format: json}
filter: "kind != 'test'"
lookups:
  sensors: {csv: sensors.csv, key: sensor}
  zones: {csv: zones.csv, key: zone}
entities:
  - id: "urn:ngsi-ld:ParkingSpot:{sensor}"
    type: ParkingSpot
    lookup: {sensors: "{sensor}"}
    attributes:
      street: {from: sensors.street}
      reading: {from: value}
  - id: "urn:ngsi-ld:Device:{sensor}"
    type: Device
    attributes:
      reading: {from: value}
  - id: "urn:ngsi-ld:Zone:{zone}"
    type: Zone
    lookup: {zones: "{zone}"}
    attributes:
      name: {from: zones.name}
  - id: "urn:ngsi-ld:Sensor:{sensor}"
    type: Sensor
    lookup: {sensors: "{sensor}"}
    attributes:
      street: {from: sensors.street, required: true}
"""

COMMA = """
id: comma
source: {format: json, decimal: ","}
constraints: reject
entity:
  id: "urn:ngsi-ld:Device:{id}"
  type: Device
  attributes:
    batteryLevel: {from: b, cast: float, scale: 0.01, round: 2, unitCode: XYZ}
    location: {geo: point, lon: lon, lat: lat}
    deviceCategory: {from: kind}
"""


@pytest.fixture(scope="module")
def mappings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Mapping]:
    folder = tmp_path_factory.mktemp("codegen")
    (folder / "sensors.csv").write_text("sensor,street\n1,Calle Alta\n2,Río 'x'\n", encoding="utf-8")
    (folder / "zones.csv").write_text("zone,name\nA,Centro\n", encoding="utf-8")
    made = {}
    for name, text in {"wide": WIDE, "looked": LOOKED_UP, "comma": COMMA}.items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        made[name] = load_mapping(path)
    return made


def outcomes(translator: Translator, records: list[Any]) -> list[Any]:
    """What a translation gives, spelled so that 1, 1.0 and True differ and errors compare."""
    found: list[Any] = []
    for outcome in translator.translate(records, source="input"):
        if isinstance(outcome, RecordError):
            found.append((type(outcome).__name__, str(outcome), outcome.field))
        else:
            found.append(repr(outcome))
            try:
                found.append(orjson.dumps(outcome))
            except TypeError:  # a lone surrogate has no UTF-8: both sides must agree on it
                found.append(json.dumps(outcome))
    stats = translator.stats
    found.append(
        (
            stats.records,
            stats.filtered,
            stats.entities,
            stats.rejected,
            dict(stats.reasons),
            dict(stats.skipped_attributes),
            stats.skipped_examples,
            dict(stats.warnings),
            stats.warning_examples,
            [str(error) for error in stats.examples],
        )
    )
    return found


def same_both_ways(mapping: Mapping, records: list[Any], **options: Any) -> list[Any]:
    generated_side = outcomes(Translator(mapping, **options), records)
    closures_side = outcomes(Translator(mapping, generated=False, **options), records)
    assert generated_side == closures_side
    return generated_side


# Hostile values: quotes, backslashes, newlines, braces, percent signs, unicode (lone surrogates
# too), numbers as text with spaces and commas, non-finite floats, nesting.
texts = st.one_of(
    st.text(st.characters(blacklist_categories=()), max_size=12),
    st.sampled_from(["", " ", "0", "1", "2", " 1 ", "-1", "35", "7,5", "1.234,5", "1e400", "nan", "x'y\"z"]),
    st.sampled_from(["{}", "{{id}}", "%s", "%(x)s", "\\", "\n", "Calle Río de la Pila", "Straße", "a\x00b"]),
    st.sampled_from(["2024-05-01T10:00:00+02:00", "2024-05-01T10:00:00Z", "2024-13-01", "yesterday"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), texts)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)
FIELDS = ["id", "state", "w", "l", "name", "street", "lon", "lat", "n", "f", "when", "t", "a", "b"]
FIELDS += ["deep", "items", "other", "shape", "kind", "sensor", "zone", "value"]


# A record every rule of the test mappings translates; the strategies below spoil a few fields.
VALID = {
    "id": "1", "state": "1", "w": "2.5", "l": "40", "name": "Plaza Mayor", "street": "Calle Río",
    "lon": "-3.8", "lat": "43.46", "n": "7", "f": "yes", "when": "2024-05-01T10:00:00.250+02:00",
    "t": "21.5", "a": "", "b": "35", "deep": {"inner": "x"}, "items": ["p", "q"], "other": "2024-05-01",
    "shape": {"type": "Point", "coordinates": [1, 2]}, "kind": "sensor", "sensor": "2", "zone": "A",
    "value": "3",
}  # fmt: skip


def records_of(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly-valid records: a few fields replaced by hostile values, a few dropped."""
    spoiled = st.dictionaries(st.sampled_from(fields), values, max_size=3)
    dropped = st.sets(st.sampled_from(fields), max_size=2)
    return st.tuples(spoiled, dropped).map(
        lambda change: {
            name: value for name, value in {**VALID, **change[0]}.items() if name not in change[1]
        }
    )


PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY
@given(st.lists(records_of(FIELDS), min_size=1, max_size=4))
def test_random_records_translate_alike_both_ways(mappings: dict[str, Mapping], records: list[Any]) -> None:
    for mode in ("warn", "reject", "off"):
        same_both_ways(mappings["wide"], records, mode=mode)
    same_both_ways(mappings["looked"], records)
    same_both_ways(mappings["comma"], records)


@PROPERTY
@given(st.lists(st.one_of(st.lists(scalars, max_size=2), scalars, records_of(FIELDS)), max_size=3))
def test_records_that_are_not_objects_fail_alike(mappings: dict[str, Mapping], records: list[Any]) -> None:
    same_both_ways(mappings["wide"], records)


LITERALS = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Co", "Cn", "Zl", "Zp")), max_size=20),
    st.sampled_from(["'", '"', "\\", "\\n", "'''", '"""', "%s", "%(x)s", "{", "}", "}{", "{!r}", "\\x00"]),
)


@PROPERTY
@given(LITERALS)
def test_template_texts_reach_the_source_only_as_literals(
    tmp_path_factory: pytest.TempPathFactory, literal: str
) -> None:
    """Any literal text of a template (braces doubled, as the mapping language writes them) renders
    as itself: nothing of it is read as code."""
    escaped = literal.replace("{", "{{").replace("}", "}}")
    text = (
        "id: t\nsource: {format: json}\nentity:\n  id: 'urn:ngsi-ld:Thing:{id}'\n  type: Thing\n"
        f"  attributes:\n    label: {{template: {json.dumps(escaped + '{name}', ensure_ascii=False)}}}\n"
    )
    path = tmp_path_factory.mktemp("literal") / "t.yaml"
    path.write_text(text, encoding="utf-8")
    mapping = load_mapping(path)
    [entity] = same_both_ways(mapping, [{"id": "1", "name": "x"}])[:1]
    assert f"'value': {literal + 'x'!r}" in entity


@pytest.mark.parametrize("path", MAPPINGS, ids=[path.stem for path in MAPPINGS])
def test_every_example_mapping_gives_its_golden_sample_both_ways(path: Path) -> None:
    mapping = load_mapping(path)
    assert mapping.samples
    for sample in mapping.samples:
        with sample.input.open("rb") as stream:
            records = list(mapping.source_format.parse(stream, source="sample"))
        found = same_both_ways(mapping, records)
        expected = [
            orjson.dumps(orjson.loads(line))
            for line in sample.expected.read_bytes().splitlines()
            if line.strip()
        ]
        assert [item for item in found if isinstance(item, bytes)] == expected


def test_the_parking_mapping_is_written_out_whole() -> None:
    """Every attribute of the parking mapping is generated (none left to closures); the fields,
    the time and the point are read once for both entities; the proven constraints are gone."""
    made = generate(load_mapping(ROOT / "mappings/santander-parking.yaml"))
    assert made.fallbacks == ()
    assert made.source.count("record['ayto:idSensor']") == 1
    assert made.source.count("record['dc:modified']") == 1
    assert made.source.count("record['ayto:longitude']") == 1
    assert made.source.count("WGS84") == 1  # the point is parsed once, for both locations
    assert "def entities(record, skip, report):" in made.source


def test_unproven_constraints_stay_and_proven_ones_go() -> None:
    from contextbridge.entities.constraints import load_constraints

    made = generate(load_mapping(ROOT / "mappings/santander-parking.yaml"), load_constraints())
    # ParkingSpot.status comes from a map onto allowed values, category is a constant: proven;
    # refParkingSite may be missing: still checked
    assert "'refParkingSite' not in entity" in made.source
    assert "'status' not in entity" not in made.source


def test_features_the_generator_does_not_cover_fall_back_to_closures(mappings: dict[str, Mapping]) -> None:
    made = generate(mappings["wide"])
    assert set(made.fallbacks) == {"ParkingSpot.area", "ParkingSpot.description"}


def test_a_mapping_is_generated_once(mappings: dict[str, Mapping]) -> None:
    assert generated(mappings["wide"]) is generated(mappings["wide"])


def test_constraint_violations_count_alike(mappings: dict[str, Mapping]) -> None:
    records = [
        {"id": "1", "state": "1", "lon": "-3.8", "lat": "43.4", "when": "2024-05-01T10:00:00Z", "street": ""},
        {
            "id": "2",
            "state": "0",
            "lon": "-3.8",
            "lat": "43.4",
            "when": "2024-05-01T10:00:00Z",
            "l": "-50",
            "street": "S",
        },
        {"id": "4", "state": "0", "lon": "1", "lat": "2", "when": "2024-05-01T10:00:00Z", "street": "S"},
        {"id": "3", "b": "250", "lon": "1,5", "lat": "2", "kind": "toaster"},
    ]
    found = same_both_ways(mappings["wide"], records)
    assert "sdm-range ParkingSpot.length" in found[-1][7]  # a negative length: counted, let through
    rejected = same_both_ways(mappings["wide"], records, mode="reject")
    assert rejected[-1][4].get("constraint length") == 1
    rejected = same_both_ways(mappings["comma"], records)
    assert rejected[-1][3] == 4  # the unknown unit code rejects every record


def test_generated_source_holds_no_sample_value() -> None:
    """The sources of the example mappings hold no value of their samples (only the mapping's)."""
    mapping = load_mapping(ROOT / "mappings/santander-parking.yaml")
    source = generate(mapping).source
    with mapping.samples[0].input.open("rb") as stream:
        first = next(iter(mapping.source_format.parse(stream)))
    assert isinstance(first, dict)
    assert first["ayto:idSensor"] not in source


def test_check_show_code_prints_the_source_the_translator_runs() -> None:
    from typer.testing import CliRunner

    from contextbridge.cli import app

    path = ROOT / "mappings/santander-parking.yaml"
    result = CliRunner().invoke(app, ["check", "--show-code", str(path)])
    assert result.exit_code == 0, result.output
    assert "# The mapping 'santander-parking' compiled to Python" in result.output
    assert "def entities(record, skip, report):" in result.output
    # the same source a Translator of the mapping runs (its constraints compiled in)
    translator = Translator(load_mapping(path))
    source = next(made.source for made in _generated_by(translator))
    assert source in result.output


def _generated_by(translator: Translator) -> list[Any]:
    from contextbridge.language.mapping import codegen

    return [made for mapping, _, made in codegen._CACHE.values() if translator._generated is made.entities]


def test_a_rule_the_generator_fails_on_is_built_by_its_closures(
    mappings: dict[str, Mapping], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of the generator on one rule costs that rule its speed, never the translation."""
    from contextbridge.language.mapping import codegen

    real = codegen.attribute_code

    def failing(w: Any, rule: Any, decimal: str, inherit: bool) -> bool:
        if rule.name == "batteryLevel":
            raise RuntimeError("not written")
        return real(w, rule, decimal, inherit)

    monkeypatch.setattr(codegen, "attribute_code", failing)
    made = generate(mappings["wide"])
    assert made.fallbacks[-1] == "Device (the whole rule)"
    monkeypatch.setattr(codegen, "_CACHE", {})
    records = [dict(VALID), {**VALID, "b": "250"}, {**VALID, "b": "x"}, {**VALID, "id": ""}]
    same_both_ways(mappings["wide"], records)
    assert "_rule" in made.source and "def entities" in made.source
