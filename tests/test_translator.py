"""The translator turns records into NGSI-LD entities as the mapping says; bad records are
rejected with their number and field, and the rest of the input goes on."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from contextbridge import FormatError, InvalidEntityError, Mapping, RecordError, TransformError, Translator

MakeMapping = Callable[[str], Mapping]


def translate(mapping: Mapping, data: bytes) -> tuple[list[dict[str, Any]], list[RecordError], Translator]:
    translator = Translator(mapping)
    entities: list[dict[str, Any]] = []
    errors: list[RecordError] = []
    for outcome in translator.translate_stream(io.BytesIO(data), source="input"):
        if isinstance(outcome, RecordError):
            errors.append(outcome)
        else:
            entities.append(outcome)
    return entities, errors, translator


def one(mapping: Mapping, record: dict[str, Any]) -> dict[str, Any]:
    [entity] = Translator(mapping).translate_record(record)
    return entity


def entity_mapping(attributes: str, *, extra: str = "", source: str = "{format: json}") -> str:
    return f"""\
id: feed
source: {source}
{extra}
entity:
  id: "urn:ngsi-ld:Thing:{{id}}"
  type: Thing
  attributes:
{attributes}
"""


def test_a_property_copies_a_field(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping("    name: {from: title}"))
    assert one(mapping, {"id": "1", "title": "Plaza"}) == {
        "id": "urn:ngsi-ld:Thing:1",
        "type": "Thing",
        "name": {"type": "Property", "value": "Plaza"},
    }


def test_numbers_are_cast_scaled_rounded_and_labelled(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        entity_mapping("    batteryLevel: {from: b, scale: 0.01, round: 3, unitCode: C62}")
    )
    assert one(mapping, {"id": "1", "b": "67.0"})["batteryLevel"] == {
        "type": "Property",
        "value": 0.67,
        "unitCode": "C62",
    }


def test_units_are_converted(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping("    temperature: {from: t, unit: FAH, unitCode: CEL, round: 1}"))
    assert one(mapping, {"id": "1", "t": "212"})["temperature"]["value"] == 100.0
    mapping = make_mapping(entity_mapping("    co: {from: co, unit: GP, unitCode: GQ}"))
    assert one(mapping, {"id": "1", "co": 1.5})["co"] == {
        "type": "Property",
        "value": 1500.0,
        "unitCode": "GQ",
    }


def test_decimal_commas_are_read_when_the_source_says_so(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        entity_mapping(
            "    pH: {from: ph, cast: float}", source='{format: csv, delimiter: ";", decimal: ","}'
        )
    )
    entities, errors, _ = translate(mapping, b"id;ph\n1;7,5\n2;1.234,5\n")
    assert [entity["pH"]["value"] for entity in entities] == [7.5, 1234.5]
    assert errors == []


def test_enumeration_maps_with_a_fallback(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        entity_mapping('    status: {from: s, map: {"0": free, "1": occupied, "*": unknown}}')
    )
    assert [one(mapping, {"id": "1", "s": s})["status"]["value"] for s in ("0", 1, "7")] == [
        "free",
        "occupied",
        "unknown",
    ]


def test_a_value_outside_the_map_rejects_the_record(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping('    status: {from: s, map: {"0": free}}'))
    with pytest.raises(TransformError, match="'7' is not in the map") as caught:
        Translator(mapping).translate_record({"id": "1", "s": "7"})
    assert caught.value.field == "s"


def test_missing_values_are_left_out_defaulted_or_required(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        entity_mapping(
            "    a: {from: a}\n    b: {from: b, default: 0}\n    c: {from: c, required: true}\n    d: {from: d}"
        )
    )
    entity = one(mapping, {"id": "1", "a": "", "b": None, "c": "x"})
    assert "a" not in entity and "d" not in entity
    assert entity["b"] == {"type": "Property", "value": 0}
    with pytest.raises(TransformError, match="attribute 'c': missing value"):
        Translator(mapping).translate_record({"id": "1"})


def test_out_of_range_readings_are_rejected_or_skipped(make_mapping: MakeMapping) -> None:
    strict = make_mapping(entity_mapping("    temperature: {from: t, range: [-40, 60]}"))
    with pytest.raises(TransformError, match=r"150\.0 is outside the valid range"):
        Translator(strict).translate_record({"id": "1", "t": "150"})
    lenient = make_mapping(
        entity_mapping("    temperature: {from: t, range: [-40, 60], on_error: skip}\n    x: {value: 1}")
    )
    translator = Translator(lenient)
    [entity] = translator.translate_record({"id": "1", "t": "150"})
    assert "temperature" not in entity
    assert sum(translator.stats.skipped_attributes.values()) == 1


def test_observed_at_is_normalised_to_utc_on_record_properties(make_mapping: MakeMapping) -> None:
    extra_entity = "  observedAt: {from: when, format: '%d/%m/%Y %H:%M', tz: Europe/Madrid}\n"
    text = entity_mapping("    temperature: {from: t, cast: float}\n    kind: {value: sensor}")
    text = text.replace("  type: Thing\n", "  type: Thing\n" + extra_entity)
    entity = one(make_mapping(text), {"id": "1", "t": "21.5", "when": "01/07/2024 10:30"})
    assert entity["temperature"] == {"type": "Property", "value": 21.5, "observedAt": "2024-07-01T08:30:00Z"}
    assert entity["kind"] == {"type": "Property", "value": "sensor"}


def test_relationships_geo_and_language_properties(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        entity_mapping(
            "    refDevice: {relationship: 'urn:ngsi-ld:Device:{id}'}\n"
            "    location: {geo: point, lon: lon, lat: lat}\n"
            "    area: {geo: geojson, from: shape}\n"
            "    description: {language: {es: '{es}', en: '{en}'}}"
        )
    )
    record = {
        "id": "7",
        "lon": "-3.8",
        "lat": "43.46",
        "es": "Farola",
        "en": "",
        "shape": '{"type": "Point", "coordinates": [1, 2]}',
    }
    entity = one(mapping, record)
    assert entity["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:7"}
    assert entity["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [-3.8, 43.46]},
    }
    assert entity["area"]["value"] == {"type": "Point", "coordinates": [1, 2]}
    assert entity["description"] == {"type": "LanguageProperty", "languageMap": {"es": "Farola"}}


def test_coordinates_outside_wgs84_reject_the_record(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping("    location: {geo: point, lon: lon, lat: lat}"))
    with pytest.raises(TransformError, match="outside WGS84") as caught:
        Translator(mapping).translate_record({"id": "1", "lon": "200", "lat": "43"})
    assert caught.value.field == "lon,lat"


def test_expressions_templates_and_datasets(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        entity_mapping(
            "    fahrenheit: {from: t, expr: 'float(value) * 9 / 5 + 32'}\n"
            "    label: {template: 'Sensor {id} ({zone|upper})'}\n"
            "    reading: {from: t, cast: float, datasetId: 'urn:ngsi-ld:Dataset:{zone}'}"
        )
    )
    entity = one(mapping, {"id": "1", "t": "100", "zone": "norte"})
    assert entity["fahrenheit"]["value"] == 212.0
    assert entity["label"]["value"] == "Sensor 1 (NORTE)"
    assert entity["reading"] == {"type": "Property", "value": 100.0, "datasetId": "urn:ngsi-ld:Dataset:norte"}


def test_several_entities_per_record_with_filter_and_when(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        """\
        id: feed
        source: {format: json}
        filter: "kind != 'test'"
        entities:
          - id: "urn:ngsi-ld:Device:{id}"
            type: Device
            attributes:
              batteryLevel: {from: battery, scale: 0.01}
          - id: "urn:ngsi-ld:WeatherObserved:{id}"
            type: WeatherObserved
            when: "temperature != ''"
            attributes:
              temperature: {from: temperature, cast: float}
              refDevice: {relationship: "urn:ngsi-ld:Device:{id}"}
        """
    )
    data = (
        b'[{"id": "1", "kind": "env", "battery": "50", "temperature": "12.5"},'
        b' {"id": "2", "kind": "env", "battery": "60", "temperature": ""},'
        b' {"id": "3", "kind": "test", "battery": "70", "temperature": "1"}]'
    )
    entities, errors, translator = translate(mapping, data)
    assert [entity["id"] for entity in entities] == [
        "urn:ngsi-ld:Device:1",
        "urn:ngsi-ld:WeatherObserved:1",
        "urn:ngsi-ld:Device:2",
    ]
    assert errors == []
    assert (translator.stats.records, translator.stats.filtered, translator.stats.entities) == (3, 1, 3)


def test_a_record_with_a_bad_number_is_rejected_and_the_rest_go_on(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(
        entity_mapping(
            "    pH: {from: ph, cast: float}", source='{format: csv, delimiter: ";", decimal: ","}'
        )
    )
    entities, errors, translator = translate(mapping, b"id;ph\n1;7,5\n2;n/d\n3;6,9\n")
    assert [entity["pH"]["value"] for entity in entities] == [7.5, 6.9]
    [error] = errors
    assert (error.record, error.field, error.source) == (2, "ph", "input")
    assert "'n/d' is not a number" in str(error)
    assert error.data == {"id": "2", "ph": "n/d"}
    assert translator.stats.reasons == {"transform ph": 1}


def test_a_json_record_missing_its_id_field_is_rejected(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping("    name: {from: title}"))
    entities, errors, _ = translate(
        mapping, b'[{"id": "1", "title": "a"}, {"title": "b"}, {"id": "3", "title": "c"}]'
    )
    assert len(entities) == 2
    [error] = errors
    assert (error.record, error.field) == (2, "id")
    assert "Thing id: missing value" in str(error)


def test_invalid_xml_keeps_the_records_before_it(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping("    name: {from: name}", source="{format: xml, records: //item}"))
    entities, errors, _ = translate(
        mapping, b"<items><item><id>1</id><name>a</name></item><item><id>2</id><name>b</nam></item></items>"
    )
    assert [entity["id"] for entity in entities] == ["urn:ngsi-ld:Thing:1"]
    [error] = errors
    assert isinstance(error, FormatError)
    assert "line 1" in str(error)


def test_a_non_utf8_row_is_rejected_and_the_others_translated(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping("    name: {from: name}", source="{format: csv}"))
    entities, errors, _ = translate(
        mapping, "id,name\n1,Tetuán\n2,".encode() + "Peñacastillo".encode("latin-1") + b"\n3,Cueto\n"
    )
    assert [entity["name"]["value"] for entity in entities] == ["Tetuán", "Cueto"]
    [error] = errors
    assert isinstance(error, FormatError)
    assert error.record == 2


def test_values_that_break_ngsi_ld_rules_never_leave(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(entity_mapping("    data: {from: data}\n    area: {geo: geojson, from: shape}"))
    translator = Translator(mapping)
    with pytest.raises(InvalidEntityError, match="null") as caught:
        translator.translate_record({"id": "1", "data": {"a": None}})
    assert (caught.value.kind, caught.value.field) == ("entity", "data")
    with pytest.raises(InvalidEntityError, match=r"latitude|-90"):
        translator.translate_record({"id": "1", "shape": {"type": "Point", "coordinates": [1, 100]}})
    [entity] = translator.translate_record({"id": "1", "data": {"a": [1, "x"]}})
    assert entity["data"]["value"] == {"a": [1, "x"]}


def test_every_entity_of_every_example_is_valid_ngsi_ld() -> None:
    from pathlib import Path

    from contextbridge import load_mapping, validate_entity
    from contextbridge.authoring.golden import translate_file

    mappings = sorted((Path(__file__).parent.parent / "mappings").glob("*.yaml"))
    assert len(mappings) >= 9
    for path in mappings:
        mapping = load_mapping(path)
        entities, _ = translate_file(mapping, mapping.samples[0].input)
        assert entities, path
        for entity in entities:
            assert validate_entity(entity) == [], (path, entity["id"])
