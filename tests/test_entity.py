"""Specification of entity validation: what Orion-LD (and ETSI GS CIM 009) accept and refuse."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyoxigraph import NamedNode

from contextbridge import EntityError, validate_entity
from contextbridge.entities.validation import check_entity, is_uri, is_valid_name

SDM = Path(__file__).resolve().parent / "data" / "sdm"
ID = "urn:ngsi-ld:AirQualityObserved:santander:1"


def entity(**attributes: Any) -> dict[str, Any]:
    return {"id": ID, "type": "AirQualityObserved", **attributes}


def prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


def geo(kind: str, coordinates: Any) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": kind, "coordinates": coordinates}}


def problems(candidate: Any, **options: Any) -> list[tuple[str | None, str | None, str]]:
    """(rule, attribute, error type) of each problem."""
    return [(e.rule, e.attribute, e.error_type) for e in validate_entity(candidate, **options)]


def one_problem(candidate: Any, **options: Any) -> tuple[str | None, str | None, str]:
    found = problems(candidate, **options)
    assert len(found) == 1, found
    return found[0]


VALID = entity(
    temperature=prop(12.5, unitCode="CEL", observedAt="2024-05-01T10:00:00Z"),
    no2=prop(45, unitCode="GQ", accuracy=prop(0.5)),
    airQualityLevel=prop("moderate"),
    address=prop({"streetAddress": "Calle Alta 1", "addressLocality": "Santander"}),
    dateObserved=prop({"@type": "DateTime", "@value": "2024-05-01T10:00:00+02:00"}),
    location=geo("Point", [-3.80356, 43.46296]),
    refDevice={"type": "Relationship", "object": "urn:ngsi-ld:Device:santander:1"},
    name={"type": "LanguageProperty", "languageMap": {"es": "Calle Alta", "en": ["High Street"]}},
)


def test_a_complete_entity_is_valid() -> None:
    assert validate_entity(VALID) == []
    check_entity(VALID)


def test_check_entity_raises_the_first_problem() -> None:
    with pytest.raises(EntityError) as raised:
        check_entity({"id": "not a uri", "type": "T"})
    assert (raised.value.rule, raised.value.entity_id) == ("id-uri", "not a uri")
    assert str(raised.value).startswith("not a uri: BadRequestData:")


def test_all_problems_are_reported_at_once() -> None:
    broken = entity(
        temperature=prop(None), location=prop([1, 2]), refDevice={"type": "Relationship", "object": "x"}
    )
    assert [rule for rule, _, _ in problems(broken)] == ["null-value", "geo-property", "relationship-object"]


class TestEntityMembers:
    def test_an_entity_is_an_object(self) -> None:
        assert one_problem([VALID]) == ("entity-object", None, "BadRequestData")

    def test_id_is_required(self) -> None:
        assert one_problem({"type": "T"}) == ("id-missing", None, "BadRequestData")

    @pytest.mark.parametrize(
        "bad_id",
        [
            "santander 1",  # whitespace
            "sensor-1",  # no scheme
            "2020-03-17T08:45:00Z",  # a colon, but a scheme starts with a letter
            "urn:ngsi-ld:Sensor:<1>",  # Orion's forbidden characters
            "urn:ngsi-ld:Sensor:a=b",
            "urn:ngsi-ld:Sensor:%zz",  # broken percent-encoding
            "urn:",
            42,
        ],
    )
    def test_id_is_an_absolute_uri(self, bad_id: Any) -> None:
        rule, attribute, error_type = one_problem({"id": bad_id, "type": "T"})
        assert (rule, attribute, error_type) == ("id-uri", None, "BadRequestData")

    def test_the_error_carries_the_entity_id(self) -> None:
        assert validate_entity({"id": ID, "type": "T", "x": None})[0].entity_id == ID

    def test_type_is_required(self) -> None:
        assert one_problem({"id": ID}) == ("type-missing", None, "BadRequestData")

    def test_type_is_a_name_or_a_uri(self) -> None:
        assert problems({"id": ID, "type": "https://smartdatamodels.org/dataModel.Parking/ParkingSpot"}) == []
        assert one_problem({"id": ID, "type": "Parking Spot"}) == ("name-chars", "type", "BadRequestData")

    def test_orion_ld_has_no_multi_typed_entities(self) -> None:
        typed = {"id": ID, "type": ["Device", "Sensor"]}
        assert one_problem(typed) == ("type-value", "type", "BadRequestData")
        assert problems(typed, multi_type=True) == []
        assert one_problem({"id": ID, "type": []}, multi_type=True) == (
            "type-value",
            "type",
            "BadRequestData",
        )

    def test_context_in_the_body_only_when_allowed(self) -> None:
        with_context = {**VALID, "@context": ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]}
        assert one_problem(with_context) == ("context", None, "BadRequestData")
        assert problems(with_context, allow_context=True) == []
        assert one_problem({**VALID, "@context": 3}, allow_context=True)[0] == "context"

    def test_scope_follows_the_scope_grammar(self) -> None:
        assert problems(entity(scope="/Madrid/Gardens")) == []
        assert problems(entity(scope=["/Madrid", "Santander/Centro"])) == []
        assert one_problem(entity(scope="/Madrid Gardens")) == ("scope", "scope", "BadRequestData")

    def test_system_times_are_date_times(self) -> None:
        assert problems(entity(createdAt="2024-05-01T10:00:00Z", modifiedAt="2024-05-01T10:00:00Z")) == []
        assert one_problem(entity(modifiedAt="yesterday")) == ("datetime", "modifiedAt", "BadRequestData")


class TestNames:
    @pytest.mark.parametrize(
        "name",
        ["temperature", "LAeq_d", "pm2_5", "NO2", "presión", "schema:name", "https://schema.org/name"],
    )
    def test_valid_names(self, name: str) -> None:
        assert is_valid_name(name)
        assert problems(entity(**{name: prop(1)})) == []

    @pytest.mark.parametrize(
        "name",
        ["N-TOT", "air quality", "2ndFloor", "_hidden", "a=b", "temp(C)", "it's", "", "https://x.org/a?b=c"],
    )
    def test_invalid_names(self, name: str) -> None:
        assert not is_valid_name(name)
        assert one_problem(entity(**{name: prop(1)})) == ("name-chars", name, "BadRequestData")

    @pytest.mark.parametrize("name", ["@id", "@type", "observedAt", "expiresAt", "datasetId", "object"])
    def test_reserved_names_are_not_attributes(self, name: str) -> None:
        assert one_problem(entity(**{name: prop(1)})) == ("reserved-name", name, "BadRequestData")

    def test_sub_attribute_names_are_checked_too(self) -> None:
        assert one_problem(entity(no2=prop(1, **{"max-value": prop(2)}))) == (
            "name-chars",
            "no2.max-value",
            "BadRequestData",
        )
        assert one_problem(entity(no2=prop(1, expiresAt=prop(2)))) == (
            "reserved-name",
            "no2.expiresAt",
            "BadRequestData",
        )

    @pytest.mark.parametrize(
        "uri",
        [
            "urn:ngsi-ld:Device:1",
            "https://example.org/a/b?c#d",
            "urn:ngsi-ld:Calle:Peña",
            "uri:ngsi:Device:T2",
        ],
    )
    def test_uris(self, uri: str) -> None:
        assert is_uri(uri)

    @pytest.mark.parametrize(
        "uri",
        [
            "http://[::1]:8080/x",  # an IP literal host
            "http://[v1.fe]/",
            "http://user:pw@host:8/p",
            "urn:x?\ue000",  # a private-use character, in the query
            "urn:\U0001fffd",
            "urn:a%20b",
            "https://example.org/a#x/y?z",
        ],
    )
    def test_iris(self, uri: str) -> None:
        assert is_uri(uri)
        NamedNode(uri)  # and the graph takes it

    @pytest.mark.parametrize(
        "text",
        [
            *(
                "urn:ngsi-ld:Device: 1",
                "Device:1\n",
                "Device1",
                "urn:x:(1)",
                'urn:x:"1"',
                ":x",
                "1a:x",
                "urn:",
            ),
            *("urn:a[1]", "http://h/[x]"),  # [ ] outside an IP literal host
            *("urn:a\ufffe", "urn:a\uffff", "urn:\U0001fffe"),  # noncharacters
            *("urn:a\ue000", "urn:a#\ue000"),  # private use outside the query
            *("urn:a\x85", "urn:a\ud800", "urn:a\t", "urn:a\x00"),  # a C1 control, a lone surrogate, controls
            *("urn:a<b", "urn:a{b}", "urn:a|b", "urn:a\\b", "urn:a^b", "urn:a`b", "urn:a#b#c"),
            *("http://h:80x", "http://a@b@c/", "urn:a%2", "urn:a%zz"),
        ],
    )
    def test_not_uris(self, text: str) -> None:
        assert not is_uri(text)

    @given(st.text(alphabet=st.characters(codec=None), max_size=24))
    def test_what_is_an_iri_to_us_is_one_to_the_graph(self, tail: str) -> None:
        """The graph checks IRIs to the letter (RFC 3987): it must take every id we let through."""
        for text in (f"urn:ngsi-ld:T:{tail}", f"https://example.org/{tail}", f"http://{tail}"):
            if is_uri(text):
                NamedNode(text)

    def test_a_huge_id_is_judged_at_once(self) -> None:
        assert not is_uri("urn:" + "a" * 1_000_000 + "<")
        assert is_uri("urn:" + "a" * 1_000_000)


class TestAttributeShape:
    def test_concise_attributes_are_read_as_orion_ld_reads_them(self) -> None:
        # pCheckAttribute.cpp: a JSON value alone is a Property; without "type", the member present
        # tells the type; a GeoJSON geometry (alone or as the value) makes a GeoProperty
        for concise in (
            {"temperature": 12.5},
            {"temperature": {"value": 12.5, "unitCode": "CEL"}},
            {"category": ["onStreet", "free"]},
            {"refDevice": {"object": "urn:ngsi-ld:Device:1"}},
            {"location": {"type": "Point", "coordinates": [-3.8, 43.46]}},
            {"location": {"value": {"type": "Point", "coordinates": [-3.8, 43.46]}}},
            {"name": {"languageMap": {"es": "Calle", "en": "Street"}}},
            {"category": {"vocab": "onStreet"}},
        ):
            assert problems(entity(**concise)) == [], concise
        assert one_problem(entity(refDevice={"object": "not a uri"}))[0] == "relationship-object"
        assert one_problem(entity(location={"type": "Point", "coordinates": [1]}))[0] == "geo-json"
        assert one_problem(entity(location="Calle Daoíz"))[0] == "geo-property"

    def test_vocabulary_property_is_orion_lds_vocab_property(self) -> None:
        assert problems(entity(category={"type": "VocabularyProperty", "vocab": ["onStreet"]})) == []
        assert problems(entity(category={"type": "VocabularyProperty", "value": 1}))[0][0] == "vocab"

    def test_an_attribute_is_not_null(self) -> None:
        assert one_problem(entity(temperature=None)) == ("null-value", "temperature", "BadRequestData")

    def test_the_attribute_type_or_a_content_member_is_required(self) -> None:
        assert one_problem(entity(temperature={"unitCode": "CEL"})) == (
            "attribute-type",
            "temperature",
            "BadRequestData",
        )

    @pytest.mark.parametrize("kind", ["Number", "geo:json", "ListProperty", "ListRelationship"])
    def test_unknown_attribute_types(self, kind: str) -> None:
        assert one_problem(entity(temperature={"type": kind, "value": 1})) == (
            "attribute-type",
            "temperature",
            "BadRequestData",
        )

    def test_a_member_of_another_attribute_type(self) -> None:
        assert one_problem(entity(temperature=prop(1, object="urn:x:1"))) == (
            "attribute-member",
            "temperature",
            "BadRequestData",
        )
        relationship = {"type": "Relationship", "object": "urn:x:1", "unitCode": "CEL"}
        assert one_problem(entity(refDevice=relationship)) == (
            "attribute-member",
            "refDevice",
            "BadRequestData",
        )

    def test_unit_code_is_a_string(self) -> None:
        assert one_problem(entity(temperature=prop(1, unitCode=5))) == (
            "unit-code",
            "temperature",
            "BadRequestData",
        )

    def test_object_type_and_value_type_name_types(self) -> None:
        relationship = {"type": "Relationship", "object": "urn:x:1", "objectType": "Device"}
        assert problems(entity(refDevice=relationship)) == []
        assert one_problem(entity(refDevice={**relationship, "objectType": "a device"}))[0] == "member-value"
        assert one_problem(entity(refDevice={**relationship, "valueType": "Device"}))[0] == "attribute-member"


class TestProperty:
    def test_a_property_has_a_value(self) -> None:
        assert one_problem(entity(temperature={"type": "Property", "unitCode": "CEL"})) == (
            "property-value",
            "temperature",
            "BadRequestData",
        )

    def test_values_of_every_json_type(self) -> None:
        values = ["free", 0, -1.5, True, False, [], [1, "a"], {"a": {"b": [1]}}, ""]
        assert problems(entity(**{f"p{i}": prop(v) for i, v in enumerate(values)})) == []

    def test_a_null_value(self) -> None:
        assert one_problem(entity(temperature=prop(None))) == ("null-value", "temperature", "BadRequestData")

    def test_nulls_inside_a_value(self) -> None:
        assert one_problem(entity(address=prop({"streetAddress": None}))) == (
            "null-value",
            "address",
            "BadRequestData",
        )
        assert one_problem(entity(readings=prop([1, None, 3])))[0] == "null-value"

    def test_a_json_literal_keeps_its_nulls(self) -> None:
        assert problems(entity(raw=prop({"@type": "@json", "@value": {"a": None}}))) == []

    @pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
    def test_nan_and_infinity_are_not_json(self, number: float) -> None:
        assert one_problem(entity(temperature=prop(number))) == (
            "json-number",
            "temperature",
            "InvalidRequest",
        )
        assert one_problem(entity(address=prop({"a": [number]})))[0] == "json-number"

    def test_typed_date_time_values(self) -> None:
        assert problems(entity(day=prop({"@type": "Date", "@value": "2024-02-29"}))) == []
        assert problems(entity(at=prop({"@type": "Time", "@value": "10:15:00Z"}))) == []
        bad = entity(dateObserved=prop({"@type": "DateTime", "@value": "2024-13-01T00:00:00Z"}))
        assert one_problem(bad) == ("datetime", "dateObserved", "BadRequestData")
        assert one_problem(entity(day=prop({"@type": "Date", "@value": "2023-02-29"})))[0] == "datetime"

    def test_a_plain_string_is_not_read_as_a_date(self) -> None:
        assert problems(entity(dateObserved=prop("2016-03-15T11:00:00 or so"))) == []


class TestRelationship:
    def test_object_is_a_uri_or_uris(self) -> None:
        targets = ["urn:ngsi-ld:ParkingGroup:1", "urn:ngsi-ld:ParkingGroup:2"]
        assert problems(entity(refParkingGroup={"type": "Relationship", "object": targets})) == []

    @pytest.mark.parametrize("target", ["device 1", "2020-03-17T08:45:00.209Z", [], ["urn:x:1", 3], None])
    def test_invalid_objects(self, target: Any) -> None:
        rule, attribute, error_type = one_problem(
            entity(refDevice={"type": "Relationship", "object": target})
        )
        assert (attribute, error_type) == ("refDevice", "BadRequestData")
        assert rule == ("null-value" if target is None else "relationship-object")

    def test_object_is_required_and_value_forbidden(self) -> None:
        assert problems(entity(refDevice={"type": "Relationship", "value": "urn:x:1"})) == [
            ("relationship-object", "refDevice", "BadRequestData"),
            ("attribute-member", "refDevice", "BadRequestData"),
        ]


class TestGeoProperty:
    RING: ClassVar = [[-3.80, 43.46], [-3.79, 43.46], [-3.79, 43.47], [-3.80, 43.46]]

    @pytest.mark.parametrize(
        ("kind", "coordinates"),
        [
            ("Point", [-3.8, 43.46]),
            ("Point", [-3.8, 43.46, 12.0]),
            ("Point", [180, -90]),
            ("MultiPoint", [[-3.8, 43.46], [-3.7, 43.4]]),
            ("LineString", [[-4.737, 41.653], [-4.734, 41.660]]),
            ("MultiLineString", [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]),
            ("Polygon", [RING]),
            ("Polygon", [RING, RING]),
            ("MultiPolygon", [[RING], [RING]]),
        ],
    )
    def test_valid_geometries(self, kind: str, coordinates: Any) -> None:
        assert problems(entity(location=geo(kind, coordinates))) == []

    @pytest.mark.parametrize(
        ("kind", "coordinates"),
        [
            ("Point", [43.46]),
            ("Point", [1, 2, 3, 4]),
            ("Point", ["-3.8", "43.46"]),
            ("Point", [True, 43.46]),
            ("Point", [-181, 43.46]),  # longitude first
            ("Point", [-3.8, 91]),
            ("LineString", [[0, 0]]),
            ("Polygon", [RING[:3]]),
            ("Polygon", [[*RING[:3], [-3.81, 43.46]]]),  # not closed
            ("Polygon", RING),  # a ring is not a polygon
            ("MultiPolygon", [RING]),
            ("GeometryCollection", []),
            ("Circle", [0, 0]),
        ],
    )
    def test_invalid_geometries(self, kind: str, coordinates: Any) -> None:
        assert one_problem(entity(location=geo(kind, coordinates))) == (
            "geo-json",
            "location",
            "BadRequestData",
        )

    def test_only_type_and_coordinates(self) -> None:
        located = geo("Point", [0, 0])
        located["value"]["bbox"] = [0, 0, 0, 0]
        assert one_problem(entity(location=located)) == ("geo-json", "location", "BadRequestData")
        assert one_problem(entity(location={"type": "GeoProperty", "value": "43.46,-3.80"}))[0] == "geo-json"

    @pytest.mark.parametrize("name", ["location", "observationSpace", "operationSpace"])
    def test_the_special_names_are_geo_properties(self, name: str) -> None:
        point = {"type": "Point", "coordinates": [0, 0]}
        assert one_problem(entity(**{name: prop(point)})) == ("geo-property", name, "BadRequestData")

    def test_other_geo_properties_may_have_any_name(self) -> None:
        assert problems(entity(entrance=geo("Point", [0, 0]))) == []


class TestLanguageVocabJson:
    def test_language_map(self) -> None:
        texts = {"es": "Calle Alta", "en-GB": ["High Street", "Upper Street"], "@none": "Calle Alta"}
        assert problems(entity(street={"type": "LanguageProperty", "languageMap": texts})) == []

    @pytest.mark.parametrize(
        "language_map",
        [{}, "Calle Alta", {"es": ""}, {"es": 3}, {"es": []}, {"not a tag": "x"}, {"es": [""]}],
    )
    def test_invalid_language_maps(self, language_map: Any) -> None:
        attribute = {"type": "LanguageProperty", "languageMap": language_map}
        assert one_problem(entity(street=attribute)) == ("language-map", "street", "BadRequestData")

    def test_a_language_property_has_no_value(self) -> None:
        attribute = {"type": "LanguageProperty", "value": "Calle Alta"}
        assert [rule for rule, _, _ in problems(entity(street=attribute))] == [
            "language-map",
            "attribute-member",
        ]

    def test_vocab_property(self) -> None:
        assert (
            problems(entity(category={"type": "VocabProperty", "vocab": ["onStreet", "schema:Place"]})) == []
        )
        assert one_problem(entity(category={"type": "VocabProperty", "vocab": "on street"})) == (
            "vocab",
            "category",
            "BadRequestData",
        )

    def test_json_property_keeps_nulls_but_not_nan(self) -> None:
        assert problems(entity(raw={"type": "JsonProperty", "json": {"a": None, "b": [1]}})) == []
        assert one_problem(entity(raw={"type": "JsonProperty", "json": {"a": math.nan}}))[0] == "json-number"
        assert one_problem(entity(raw={"type": "JsonProperty", "json": None}))[0] == "null-value"
        assert one_problem(entity(raw={"type": "JsonProperty"}))[0] == "json-value"


class TestDateTimes:
    @pytest.mark.parametrize(
        "text",
        [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.123456Z",
            "2024-05-01T10:00:00+02:00",
            "2024-05-01T10:00:00-0330",
            "2024-05-01T10:00:00",  # no zone: read as UTC
            "2024-02-29T23:59:59Z",
            "1970-01-01T00:00:00Z",
        ],
    )
    def test_accepted(self, text: str) -> None:
        assert problems(entity(temperature=prop(1, observedAt=text))) == []

    @pytest.mark.parametrize(
        "text",
        [
            "2024-05-01",  # a date is no date-time
            "2024-05-01 10:00:00Z",
            "2024-05-01T10:00Z",
            "2024-05-01T10:00:00.1234567Z",  # Orion-LD reads 6 decimals at most
            "1969-12-31T23:59:59Z",  # Orion-LD refuses years before 1970
            "2023-02-29T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:60:00Z",
            "2024-05-01T10:00:00+15:00",
            "1714557600",
            1714557600,
        ],
    )
    def test_refused(self, text: Any) -> None:
        assert one_problem(entity(temperature=prop(1, observedAt=text))) == (
            "datetime",
            "temperature.observedAt",
            "BadRequestData",
        )

    def test_observed_at_is_not_null(self) -> None:
        assert one_problem(entity(temperature=prop(1, observedAt=None)))[0] == "null-value"


class TestSubAttributes:
    def test_sub_attributes_follow_the_attribute_rules(self) -> None:
        nested = prop(1, accuracy=prop(0.5, unitCode="P1", method=prop("calibrated")))
        assert problems(entity(no2=nested)) == []
        broken = prop(
            1, accuracy=prop(0.5, method=prop(None)), providedBy={"type": "Relationship", "object": 3}
        )
        assert problems(entity(no2=broken)) == [
            ("null-value", "no2.accuracy.method", "BadRequestData"),
            ("relationship-object", "no2.providedBy", "BadRequestData"),
        ]

    def test_a_sub_attribute_may_be_concise(self) -> None:
        assert problems(entity(no2=prop(1, accuracy=0.5))) == []
        assert one_problem(entity(no2=prop(1, accuracy=None))) == (
            "null-value",
            "no2.accuracy",
            "BadRequestData",
        )

    def test_a_sub_attribute_has_no_dataset_id(self) -> None:
        assert one_problem(entity(no2=prop(1, accuracy=prop(0.5, datasetId="urn:ngsi-ld:Dataset:a")))) == (
            "dataset-id",
            "no2.accuracy",
            "BadRequestData",
        )


class TestMultiAttributes:
    def test_instances_with_distinct_dataset_ids(self) -> None:
        instances = [prop(12.5), prop(12.7, datasetId="urn:ngsi-ld:Dataset:b")]
        assert problems(entity(temperature=instances)) == []

    def test_a_dataset_id_twice(self) -> None:
        instances = [prop(1, datasetId="urn:ngsi-ld:Dataset:a"), prop(2, datasetId="urn:ngsi-ld:Dataset:a")]
        assert one_problem(entity(temperature=instances)) == ("dataset-id", "temperature", "BadRequestData")

    def test_two_default_instances(self) -> None:
        instances = [prop(1), prop(2), prop(3, datasetId="urn:ngsi-ld:Dataset:a")]
        assert one_problem(entity(temperature=instances)) == ("dataset-id", "temperature", "BadRequestData")

    def test_an_array_without_dataset_ids_would_become_one_value(self) -> None:
        assert one_problem(entity(temperature=[prop(1), prop(2)])) == (
            "dataset-id",
            "temperature",
            "BadRequestData",
        )

    def test_dataset_id_is_a_uri(self) -> None:
        assert one_problem(entity(temperature=prop(1, datasetId="sensor b"))) == (
            "dataset-id",
            "temperature",
            "BadRequestData",
        )

    def test_instances_are_objects(self) -> None:
        assert one_problem(entity(temperature=[])) == ("attribute-object", "temperature", "BadRequestData")
        assert problems(entity(temperature=[1, 2])) == []  # concise: a Property whose value is [1, 2]

    def test_each_instance_is_checked(self) -> None:
        instances = [prop(None), prop(2, datasetId="urn:ngsi-ld:Dataset:a")]
        assert one_problem(entity(temperature=instances)) == ("null-value", "temperature", "BadRequestData")


def test_validation_does_not_change_the_entity() -> None:
    before = copy.deepcopy(VALID)
    validate_entity(VALID)
    assert before == VALID


def sdm_examples(name: str) -> list[Path]:
    return sorted(SDM.glob(f"*/*/examples/{name}"))


# Smart Data Models examples that break a rule, and why (checked against the spec and Orion-LD's sources).
SDM_BROKEN = {
    # `location` as a plain Property: spec 4.7 and Orion-LD make it a GeoProperty.
    "DeviceMeasurement": [("geo-property", "location", "BadRequestData")],
    # `dateObserved` as a Relationship to a timestamp: a Relationship targets a URI. Orion-LD only looks
    # for a colon and would store it; it is still no URI (a scheme starts with a letter).
    "WaterObserved": [("relationship-object", "dateObserved", "BadRequestData")],
    # Names with '-' (N-TOT, Cr-III, ...): Orion-LD lets them through, the spec's name grammar does not
    # ("implementations should raise BadRequestData"), and the NGSI-LD query language cannot name them.
    "WaterQualityObserved": [
        ("name-chars", name, "BadRequestData")
        for name in [
            "N-TOT",
            "P-TOT",
            "P-PO4",
            "Cr-III",
            "Cr-VI",
            "anionic-surfactants",
            "cationic-surfactants",
            "non-ionic-surfactants",
            "total-surfactants",
        ]
    ],
}


@pytest.mark.parametrize("path", sdm_examples("example-normalized.jsonld"), ids=lambda path: path.parts[-3])
def test_smart_data_models_ngsi_ld_examples(path: Path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    assert problems(example, allow_context=True) == SDM_BROKEN.get(path.parts[-3], [])
    assert ("context", None, "BadRequestData") in problems(example)  # sent with a Link header instead


@pytest.mark.parametrize("path", sdm_examples("example-normalized.json"), ids=lambda path: path.parts[-3])
def test_smart_data_models_ngsi_v2_examples_are_not_ngsi_ld(path: Path) -> None:
    # example-normalized.json is NGSI v2 (types Number, Text, geo:json; metadata): Orion-LD refuses it.
    rules = {rule for rule, _, _ in problems(json.loads(path.read_text(encoding="utf-8")))}
    assert "attribute-type" in rules


def test_the_smart_data_models_examples_are_there() -> None:
    assert len(sdm_examples("example-normalized.jsonld")) == 13
