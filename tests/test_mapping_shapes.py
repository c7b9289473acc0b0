"""Vendor payload shapes in the mapping language: one entity per item, computed ids, structured
values, bins, fallback sources, static attributes and values without float noise."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contextbridge import Mapping, MappingError, RecordError, TransformError, Translator, load_mapping
from contextbridge.language.mapping.computed import MAX_EACH

MakeMapping = Callable[[str], Mapping]

GBFS = {
    "last_updated": 1796364000,
    "data": {
        "stations": [
            {"station_id": "1", "num_bikes_available": 7, "is_installed": True, "last_reported": 1796363991},
            {"station_id": "2", "num_bikes_available": 0, "is_installed": False},
            {"station_id": "3", "num_bikes_available": 1, "is_installed": True},
        ]
    },
}


def translated(mapping: Mapping, record: dict[str, Any]) -> list[dict[str, Any]]:
    return Translator(mapping).translate_record(record)


def test_each_makes_one_entity_per_list_item_with_the_record_still_readable(
    make_mapping: MakeMapping,
) -> None:
    mapping = make_mapping("""\
        id: gbfs
        source: {format: json}
        entity:
          each: data.stations
          when: item.is_installed
          id: "urn:ngsi-ld:BikeHireDockingStation:{item.station_id}"
          type: BikeHireDockingStation
          observedAt: [{from: item.last_reported, format: epoch}, {from: last_updated, format: epoch}]
          attributes:
            availableBikeNumber: {from: item.num_bikes_available, cast: int}
            position: {expr: "index + 1"}
        """)
    entities = translated(mapping, GBFS)
    assert [entity["id"] for entity in entities] == [
        "urn:ngsi-ld:BikeHireDockingStation:1",
        "urn:ngsi-ld:BikeHireDockingStation:3",
    ]
    assert entities[0]["availableBikeNumber"] == {
        "type": "Property",
        "value": 7,
        "observedAt": "2026-12-04T05:59:51Z",  # the station's own time
    }
    assert entities[1]["availableBikeNumber"]["observedAt"] == "2026-12-04T06:00:00Z"  # the feed's
    assert entities[1]["position"]["value"] == 3
    assert "item" not in GBFS  # the record itself is never changed


def test_each_over_an_object_gives_its_keys(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: probes
        source: {format: ndjson}
        entities:
          - each: decoded
            when: "startswith(key, 'TempC') and item != 327.67"
            id: "urn:ngsi-ld:DeviceMeasurement:{device}-{key|slug}"
            type: DeviceMeasurement
            attributes:
              numValue: {from: item, cast: float}
              name: {template: "{key} of {device}"}
          - id: "urn:ngsi-ld:Device:{device}"
            type: Device
            attributes:
              name: {from: device}
        """)
    record = {
        "device": "lht65-7",
        "decoded": {"TempC_SHT": 21.32, "Hum_SHT": 48.7, "TempC_DS": 327.67, "TempC1": 4},
    }
    entities = translated(mapping, record)
    assert [entity["id"] for entity in entities] == [
        "urn:ngsi-ld:DeviceMeasurement:lht65-7-tempc-sht",
        "urn:ngsi-ld:DeviceMeasurement:lht65-7-tempc1",
        "urn:ngsi-ld:Device:lht65-7",
    ]
    assert entities[1]["name"]["value"] == "TempC1 of lht65-7"
    assert [entity["id"] for entity in translated(mapping, {"device": "x", "decoded": None})] == [
        "urn:ngsi-ld:Device:x"  # nothing to go over: no measurements, the rest as usual
    ]
    with pytest.raises(TransformError) as caught:
        translated(mapping, {"device": "x", "decoded": "garbage"})
    assert (caught.value.field, caught.value.reason) == (
        "decoded",
        "each: expected a list or an object, not str",
    )


def test_each_has_a_bound_per_record(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: many
        source: {format: json}
        entity:
          each: items
          id: "urn:ngsi-ld:Thing:{item}"
          type: Thing
          attributes: {n: {from: item}}
        """)
    with pytest.raises(TransformError, match=f"above the limit of {MAX_EACH:,} per record"):
        translated(mapping, {"items": list(range(MAX_EACH + 1))})


def test_each_item_gets_its_own_lookup_row(make_mapping: MakeMapping, tmp_path: Path) -> None:
    (tmp_path / "stations.csv").write_text("station,district\n1,Centro\n3,Castros\n", encoding="utf-8")
    mapping = make_mapping("""\
        id: gbfs
        source: {format: json}
        lookups:
          stations: {csv: stations.csv, key: station}
        entity:
          each: data.stations
          id: "urn:ngsi-ld:BikeHireDockingStation:{item.station_id}"
          type: BikeHireDockingStation
          lookup: {stations: {key: "{item.station_id}", on_miss: partial}}
          attributes:
            areaServed: {from: stations.district}
        """)
    entities = translated(mapping, GBFS)
    assert [entity.get("areaServed", {}).get("value") for entity in entities] == ["Centro", None, "Castros"]


def test_ids_and_relationships_may_be_computed(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: datex
        source: {format: json}
        entity:
          id: {expr: "'urn:ngsi-ld:OffStreetParking:frankfurt:' + coalesce(re_search('^[0-9]+', ref), ref)"}
          type: OffStreetParking
          attributes:
            name: {expr: "re_search('\\\\\\\\[(.+)\\\\\\\\]', ref, 1)"}
            refParkingGroup: {relationship: {expr: "'urn:ngsi-ld:ParkingGroup:' + lower(group) if group else None"}}
        """)
    [entity] = translated(mapping, {"ref": "24276[Turmcenter]", "group": "Innenstadt Nord"})
    assert entity["id"] == "urn:ngsi-ld:OffStreetParking:frankfurt:24276"
    assert entity["name"]["value"] == "Turmcenter"
    # escaped as templates escape what they insert: the result is always a URI Orion-LD takes
    assert entity["refParkingGroup"]["object"] == "urn:ngsi-ld:ParkingGroup:innenstadt%20nord"
    [entity] = translated(mapping, {"ref": "Zeil (Galerie)", "group": None})
    assert entity["id"] == "urn:ngsi-ld:OffStreetParking:frankfurt:Zeil%20%28Galerie%29"
    assert "refParkingGroup" not in entity  # None: missing, left out


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"ref": "no scheme here"}, "is not a URI: it needs a scheme"),
        ({"ref": 5}, "a computed URI must be a string, not int"),
        ({"ref": None}, "Thing id: missing value"),
    ],
)
def test_a_computed_id_that_is_no_uri_rejects_the_record(
    make_mapping: MakeMapping, record: dict[str, Any], reason: str
) -> None:
    mapping = make_mapping("""\
        id: computed
        source: {format: json}
        entity:
          id: {expr: "ref"}
          type: Thing
          attributes: {a: {value: 1}}
        """)
    with pytest.raises(TransformError) as caught:
        translated(mapping, record)
    assert reason in str(caught.value)


ADDRESS = """\
    id: stations
    source: {format: json}
    entity:
      id: "urn:ngsi-ld:BikeHireDockingStation:{id}"
      type: BikeHireDockingStation
      attributes:
        address:
          object:
            streetAddress: calle
            postalCode: {from: cp, cast: string}
            addressLocality: {value: Santander}
            streetNumber: "{calle} {numero}"
            floor: 0
            geo: {object: {lat: lat}}
          required: true
    """


def test_a_structured_value_is_built_from_flat_fields(make_mapping: MakeMapping) -> None:
    mapping = make_mapping(ADDRESS)
    [entity] = translated(mapping, {"id": "1", "calle": "Calle Alta", "numero": 3, "cp": 39008, "lat": 43.4})
    assert entity["address"] == {
        "type": "Property",
        "value": {
            "streetAddress": "Calle Alta",
            "postalCode": "39008",
            "addressLocality": "Santander",
            "streetNumber": "Calle Alta 3",
            "floor": 0,
            "geo": {"lat": 43.4},
        },
    }
    [entity] = translated(mapping, {"id": "2", "calle": ""})
    assert entity["address"]["value"] == {
        "addressLocality": "Santander",
        "floor": 0,
    }  # missing members left out


def test_a_structured_value_with_every_member_missing_is_missing(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: stations
        source: {format: json}
        entity:
          id: "urn:ngsi-ld:Thing:{id}"
          type: Thing
          attributes:
            address: {object: {streetAddress: calle, postalCode: cp}}
            other: {object: {a: x}, required: true}
        """)
    with pytest.raises(TransformError, match="attribute 'other': missing value"):
        translated(mapping, {"id": "1"})
    [entity] = translated(mapping, {"id": "1", "x": 1})
    assert "address" not in entity and entity["other"]["value"] == {"a": 1}


@pytest.mark.parametrize(
    ("visibility", "category"),
    [
        (0, "veryPoor"),
        (999.9, "veryPoor"),
        (1000, "veryPoor"),
        (1000.1, "poor"),
        ("4000", "poor"),
        (25000, "excellent"),
    ],
)
def test_bins_turn_ranges_into_categories(make_mapping: MakeMapping, visibility: Any, category: str) -> None:
    mapping = make_mapping("""\
        id: weather
        source: {format: json}
        entity:
          id: "urn:ngsi-ld:WeatherObserved:{id}"
          type: WeatherObserved
          attributes:
            visibility: {from: metres, bins: [[1000, veryPoor], [4000, poor], [10000, moderate], [20000, good], [null, excellent]]}
        """)
    [entity] = translated(mapping, {"id": "1", "metres": visibility})
    assert entity["visibility"]["value"] == category


def test_bins_without_an_open_end_refuse_what_is_above(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: parking
        source: {format: json}
        entity:
          id: "urn:ngsi-ld:OffStreetParking:{id}"
          type: OffStreetParking
          attributes:
            status: {from: percent, bins: [[85, [spacesAvailable]], [100, [full]]], on_error: skip}
        """)
    translator = Translator(mapping)
    [entity] = translator.translate_record({"id": "1", "percent": 120})
    assert "status" not in entity
    assert "120.0 is above the last bin (up to 100)" in translator.stats.skipped_examples["status"]


@pytest.mark.parametrize(
    ("bins", "message"),
    [
        ("[[null, a], [1, b]]", "only the last bin may be open"),
        ("[[5, a], [1, b]]", "upper bounds must increase (1 after 5)"),
        ("[[1, a], ['x', b]]", "is not of type 'number', 'null'"),
    ],
)
def test_bad_bins_are_mapping_errors(write_mapping: Callable[[str], Path], bins: str, message: str) -> None:
    path = write_mapping(f"""\
        id: b
        source: {{format: json}}
        entity:
          id: "urn:ngsi-ld:Thing:{{id}}"
          type: Thing
          attributes:
            a: {{from: x, bins: {bins}}}
        """)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert message in str(caught.value)


def test_a_list_of_sources_takes_the_first_present(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: fallback
        source: {format: json}
        entity:
          id: "urn:ngsi-ld:Thing:{id}"
          type: Thing
          observedAt: [{from: Systimestamp, format: epoch}, {from: received_at}]
          attributes:
            capacity: {from: [capacity_override, capacity], cast: int}
        """)
    first = {"id": "1", "Systimestamp": 1796364000, "received_at": "2020-01-01T00:00:00Z", "capacity": 3}
    [entity] = translated(mapping, first)
    assert entity["capacity"] == {"type": "Property", "value": 3, "observedAt": "2026-12-04T06:00:00Z"}
    second = {"id": "1", "Systimestamp": "", "received_at": "2020-01-01T00:00:00Z", "capacity_override": "4"}
    [entity] = translated(mapping, second)
    assert entity["capacity"] == {"type": "Property", "value": 4, "observedAt": "2020-01-01T00:00:00Z"}
    with pytest.raises(TransformError) as caught:
        translated(mapping, {"id": "1", "capacity": 1})
    assert (caught.value.reason, caught.value.field) == ("missing time", "Systimestamp,received_at")
    with pytest.raises(TransformError):  # present but unreadable: no falling through to the next
        translated(mapping, {"id": "1", "Systimestamp": "yesterday", "received_at": "2020-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    ("attribute", "raw", "value"),
    [
        ("{from: x, scale: 0.01}", 35, 0.35),
        ("{from: x, scale: 0.01}", "57", 0.57),
        ("{from: x, scale: 0.1}", 3, 0.3),
        ("{from: x, scale: 0.001}", 1234.5, 1.2345),
        ("{from: x, scale: 0.01, offset: 0.1}", 35, 0.45),
        ("{from: x, unit: KEL, unitCode: CEL}", 300.15, 27.0),
        ("{from: x, unit: FAH, unitCode: CEL}", 71.6, 22.0),
        ("{from: x, unit: PAL, unitCode: A97}", 97813, 978.13),
        ("{from: x, scale: 0.01, round: 4}", 35, 0.35),
        ("{from: x, scale: 0.3}", 0.1, 0.03),
    ],
)
def test_scaled_and_converted_values_carry_no_float_noise(
    make_mapping: MakeMapping, attribute: str, raw: Any, value: float
) -> None:
    mapping = make_mapping(f"""\
        id: noise
        source: {{format: json}}
        entity:
          id: "urn:ngsi-ld:Thing:{{id}}"
          type: Thing
          attributes:
            a: {attribute}
        """)
    [entity] = translated(mapping, {"id": "1", "x": raw})
    assert repr(entity["a"]["value"]) == repr(value)


def test_round_still_decides_when_given(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: noise
        source: {format: json}
        entity:
          id: "urn:ngsi-ld:Thing:{id}"
          type: Thing
          attributes:
            a: {from: x, scale: 0.01, round: 1}
        """)
    [entity] = translated(mapping, {"id": "1", "x": 35})
    assert entity["a"]["value"] == 0.4  # round: is applied to the product as computed


def test_a_static_attribute_opts_out_of_the_entity_time(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: static
        source: {format: json}
        entity:
          id: "urn:ngsi-ld:Thing:{id}"
          type: Thing
          observedAt: {from: t}
          attributes:
            name: {from: name, observedAt: false}
            reading: {from: v}
        """)
    [entity] = translated(mapping, {"id": "1", "t": "2026-12-04T06:00:00Z", "name": "Harbour", "v": 1})
    assert entity["name"] == {"type": "Property", "value": "Harbour"}
    assert entity["reading"]["observedAt"] == "2026-12-04T06:00:00Z"


def test_the_vendor_examples_translate_without_rejects() -> None:
    root = Path(__file__).parent.parent
    for name in (
        "tts-sensecap-weather",
        "tts-lorawan-probes",
        "gbfs-station-information",
        "gbfs-station-status",
        "datex2-parking-status",
    ):
        mapping = load_mapping(root / "mappings" / f"{name}.yaml")
        translator = Translator(mapping)
        [sample] = mapping.samples
        outcomes = list(translator.translate_stream(io.BytesIO(sample.input.read_bytes())))
        assert not [outcome for outcome in outcomes if isinstance(outcome, RecordError)], name
        assert translator.stats.entities > 0


def test_structured_value_members_read_numbers_as_the_source_writes_them(make_mapping: MakeMapping) -> None:
    mapping = make_mapping("""\
        id: legacy
        source: {format: json, decimal: ","}
        entity:
          id: "urn:ngsi-ld:Thing:{id}"
          type: Thing
          attributes:
            position: {object: {lat: {from: lat, cast: float}, lon: {from: lon, cast: float}}}
        """)
    [entity] = translated(mapping, {"id": "1", "lat": "43,4623", "lon": "-3,8099"})
    assert entity["position"]["value"] == {"lat": 43.4623, "lon": -3.8099}
