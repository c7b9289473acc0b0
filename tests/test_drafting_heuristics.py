"""The heuristics a draft applies beyond names: value maps, readings per key, reviewed constants.

Each is shown on a small payload of a vendor no example mapping reads, drafted, checked against
the ontology and translated: the entities say whether the heuristic did what it claims.
"""

from __future__ import annotations

import json
from typing import Any

from contextbridge import Translator, default_ontology, draft_mapping, lint_mapping, load_mapping
from contextbridge.authoring.drafting.entries import key_words
from contextbridge.authoring.drafting.match import score_field, shared_heads, type_enumerations
from contextbridge.authoring.drafting.profile import profile_records
from contextbridge.authoring.drafting.values import enumeration_owner, propose_map, translate
from contextbridge.authoring.drafting.vocabulary import tokens


def drafted(records: list[dict[str, Any]], type_name: str, name: str = "feed.ndjson") -> list[dict[str, Any]]:
    """Draft an NDJSON sample for ``type_name``, check the draft, and translate every record."""
    payload = "\n".join(json.dumps(r) for r in records).encode()
    draft = draft_mapping(payload, name=name, type_name=type_name)
    mapping = load_mapping("draft.yaml", text=draft.text)
    assert lint_mapping(mapping, default_ontology()) == [], draft.text
    translator = Translator(mapping)
    return [e for r in records for e in translator.translate_record(r)]


def draft_text(records: list[dict[str, Any]], type_name: str, name: str = "feed.ndjson") -> str:
    payload = "\n".join(json.dumps(r) for r in records).encode()
    return draft_mapping(payload, name=name, type_name=type_name).text


# --- value maps -------------------------------------------------------------------------------


def test_spanish_words_are_mapped_to_the_enumeration_and_the_unplaced_left_out() -> None:
    allowed = frozenset({"bridge", "park", "road", "sidewalk", "tunnel"})
    assert translate("Parque", allowed)[0] == "park"
    assert translate("túnel", allowed)[0] == "tunnel"
    assert translate("banco", allowed)[0] is None
    lamps = [
        {"id_farola": f"F{n}", "ubicacion": place}
        for n, place in enumerate(["parque", "puente", "calzada", "banco"])
    ]
    entities = drafted(lamps, "Streetlight")
    assert [e.get("locationCategory", {}).get("value") for e in entities] == ["park", "bridge", "road", None]
    assert "banco named no value of it" in draft_text(lamps, "Streetlight")


def test_state_codes_follow_the_state_the_field_names() -> None:
    (field,) = profile_records([{"ocupado": v} for v in (0, 1, 1, 3)])
    proposed = propose_map(field, frozenset())
    assert proposed is not None
    assert proposed.table == {"0": "free", "1": "occupied", "3": "unknown"}
    assert "3 = unknown" in proposed.reason and "check the vendor's documentation" in proposed.reason


def test_codes_and_booleans_take_the_enumerations_pair_of_opposite_states() -> None:
    allowed = frozenset({"bootingUp", "low", "off", "on"})
    (codes,) = profile_records([{"lamp_state": v} for v in (0, 1)])
    (flags,) = profile_records([{"lamp_state": v} for v in (True, False)])
    assert propose_map(codes, allowed).table == {"0": "off", "1": "on"}  # type: ignore[union-attr]
    assert propose_map(flags, allowed).table == {"false": "off", "true": "on"}  # type: ignore[union-attr]
    # values already in the enumeration need no map; codes with no pair to take get none
    (words,) = profile_records([{"power_state": v} for v in ("on", "off")])
    assert propose_map(words, allowed) is None
    assert propose_map(codes, frozenset({"ok", "defectiveLamp"})) is None


# --- one entity per reading ---------------------------------------------------------------------


def uplink(device: str, readings: dict[str, Any]) -> dict[str, Any]:
    return {
        "end_device_ids": {"device_id": device},
        "received_at": "2024-05-14T05:00:07Z",
        "uplink_message": {"decoded_payload": readings},
    }


def test_readings_keyed_by_name_become_one_entity_each() -> None:
    assert key_words("TempC1") == (("temp",), "CEL")
    assert key_words("BatV") == (("bat",), "VLT")
    records = [
        uplink("kiosk-a", {"temp_1": 20.5, "rh": 55.0, "BatV": 3.6, "mode": "eco"}),
        uplink("kiosk-b", {"temp_1": 19.0, "temp_2": 4.5, "rh": 61.0}),
    ]
    entities = drafted(records, "DeviceMeasurement")
    got = {
        (e["id"], e["measurementType"]["value"], e["unit"]["value"], e["numValue"]["value"]) for e in entities
    }
    assert got == {
        ("urn:ngsi-ld:DeviceMeasurement:kiosk-a-temp-1", "temperature", "CEL", 20.5),
        ("urn:ngsi-ld:DeviceMeasurement:kiosk-a-rh", "relativeHumidity", "P1", 55.0),  # median 58: percent
        ("urn:ngsi-ld:DeviceMeasurement:kiosk-b-temp-1", "temperature", "CEL", 19.0),
        ("urn:ngsi-ld:DeviceMeasurement:kiosk-b-temp-2", "temperature", "CEL", 4.5),
        ("urn:ngsi-ld:DeviceMeasurement:kiosk-b-rh", "relativeHumidity", "P1", 61.0),
    }  # BatV: a battery in volts is no battery level (a fraction); mode: no number
    assert entities[0]["name"]["value"] == "kiosk-a temp_1"


def test_a_type_of_many_attributes_is_not_read_per_key() -> None:
    records = [uplink("kiosk-a", {"temperature": 20.5, "humidity": 55.0})]
    assert "each:" not in draft_text(records, "WeatherObserved")


# --- reviewed constants ---------------------------------------------------------------------


def test_constants_are_proposed_on_evidence_and_marked_for_review() -> None:
    records = [
        {**uplink(f"probe-{n}", {"temperature": 20.0 + n}), "settings": {"data_rate": {"lora": {"sf": 7}}}}
        for n in range(3)
    ]
    device = drafted(records, "Device")[0]
    assert device["deviceCategory"]["value"] == ["sensor"]
    assert device["supportedProtocol"]["value"] == ["lora"]
    text = draft_text(records, "Device")
    assert "constant, review" in text
    assert "\n    category:" not in text  # once: deviceCategory, not the category it deprecates
    # a payload with no reading and no protocol: nothing is made up
    plain = [{"device_id": f"kiosk-{n}", "owner_name": "parks"} for n in range(3)]
    assert "constant" not in draft_text(plain, "Device")


def test_an_enumeration_value_the_sample_is_named_after_is_a_constant() -> None:
    records = [{"vehicle_id": f"T{n}", "speed_kmh": 20 + n} for n in range(3)]
    assert drafted(records, "Vehicle", name="tram-positions.ndjson")[0]["vehicleType"]["value"] == "tram"
    assert "vehicleType" not in draft_text(records, "Vehicle", name="positions.ndjson")


# --- names and words ---------------------------------------------------------------------------


def test_a_thing_with_no_name_field_is_named_by_its_id_when_the_id_is_words() -> None:
    worded = [{"device_id": f"kiosk-{c}", "battery": 80} for c in "ab"]
    assert drafted(worded, "Device")[0]["name"]["value"] == "kiosk-a"
    numbered = [{"device_id": f"{n}", "battery": 80} for n in range(2)]
    assert all("name" not in e for e in drafted(numbered, "Device"))


def test_words_acronyms_head_words_and_codes() -> None:
    onto = default_ontology()
    assert tokens("uVIndexMax") == ("uv", "index", "max")
    # a head word alone says which attribute when only one ends in it
    (hum,) = profile_records([{"Air Humidity": 60}])
    assert score_field(hum, onto.attribute("WeatherObserved", "relativeHumidity")).value >= 0.7  # type: ignore[arg-type]
    # ... and none when several do: a "version" is no firmware version more than a hardware one
    assert "version" in shared_heads(onto, "Device")
    (version,) = profile_records([{"version": "2.3"}])
    firmware = onto.attribute("Device", "firmwareVersion")
    assert score_field(version, firmware, shared_heads=shared_heads(onto, "Device")).value < 0.7  # type: ignore[arg-type]
    # a short name written as a code is a code
    stations = [{"station_id": str(n), "short_name": f"ST-0{n}", "capacity": 10} for n in range(1, 4)]
    entity = drafted(stations, "BikeHireDockingStation")[0]
    assert entity["stationCode"]["value"] == "ST-01"


def test_the_observation_time_fills_the_modification_time_its_name_says() -> None:
    records = [{"kiosk_id": f"k{n}", "last_updated": "2024-05-14T05:00:00Z", "battery": 80} for n in range(2)]
    entity = drafted(records, "Device")[0]
    assert entity["dateModified"]["value"]["@value"] == "2024-05-14T05:00:00Z"


# --- relationships ---------------------------------------------------------------------------


def test_the_sending_device_and_a_thing_named_by_code_become_relationships() -> None:
    lamps = [
        {"device_id": f"lamp-{n}", "cuadro": f"CM-{n % 2}", "estado": "on", "lat": 43.46, "lon": -3.8}
        for n in range(3)
    ]
    entity = drafted(lamps, "Streetlight")[0]
    assert entity["refDevice"]["object"] == "urn:ngsi-ld:Device:lamp-0"
    assert entity["refStreetlightControlCabinet"]["object"] == "urn:ngsi-ld:StreetlightControlCabinet:CM-0"
    # the Device drafted from the same sample is the entity refDevice points at
    assert drafted(lamps, "Device")[0]["id"] == "urn:ngsi-ld:Device:lamp-0"
    # an id that names no device links to none; prose names no thing
    sites = [
        {"site_code": f"S{n}", "cuadro": "a long description of where the cabinet stands, by the bridge"}
        for n in range(2)
    ]
    text = draft_text(sites, "Streetlight")
    assert "refDevice" not in text and "refStreetlightControlCabinet" not in text


def test_the_types_own_enumeration_wins_over_one_written_for_another_type() -> None:
    onto = default_ontology()
    labels = {t: onto.classes[t].label for t in ("ParkingSpot", "Streetlight", "BikeHireDockingStation")}
    # status is a core term every type shares; its comment is written for street lights
    status = onto.attribute("BikeHireDockingStation", "status")
    assert enumeration_owner(status, "BikeHireDockingStation", labels) == "Streetlight"  # type: ignore[arg-type]
    assert enumeration_owner(status, "Streetlight", labels) is None  # type: ignore[arg-type]
    # ParkingSpot has its own (Smart Data Models: closed, free, occupied, unknown): codes take its pair
    assert type_enumerations(onto, "ParkingSpot")["status"] == {"closed", "free", "occupied", "unknown"}
    spots = [{"spot_id": f"P{n}", "estado": n % 3} for n in range(6)]
    assert [e["status"]["value"] for e in drafted(spots, "ParkingSpot")][:3] == [
        "free",
        "occupied",
        "unknown",
    ]
    # BikeHireDockingStation's own (the SDM specification's working, full, empty, ...): Spanish
    # states take it, and no Streetlight state is proposed
    assert "working" in type_enumerations(onto, "BikeHireDockingStation")["status"]
    docks = [{"station_id": f"D{n}", "estado": ("funcionando", "lleno", "vacia")[n % 3]} for n in range(4)]
    assert [e["status"]["value"] for e in drafted(docks, "BikeHireDockingStation")] == [
        "working",
        "full",
        "empty",
        "working",
    ]
    line = next(row for row in draft_text(docks, "BikeHireDockingStation").splitlines() if "status:" in row)
    assert "Streetlight" not in line


def test_booleans_named_for_a_state_and_the_required_attributes_left_to_add() -> None:
    spots = [{"id_plaza": f"A{n}", "ocupada": n % 2 == 1} for n in range(4)]  # Spanish: the plaza, feminine
    assert [e["status"]["value"] for e in drafted(spots, "ParkingSpot")] == ["free", "occupied"] * 2
    text = draft_text(spots, "ParkingSpot")
    assert "booleans: true = occupied, false = free (the name says occupied)" in text
    # what Smart Data Models require of the type and the sample does not hold is listed, not made up
    assert "# required by ParkingSpot (Smart Data Models) and not in the sample" in text
    assert "category (one of offStreet, onStreet); location; refParkingSite" in text
    assert "\n    category:" not in text


def test_the_parts_of_a_postal_address_become_one_object() -> None:
    stations = [
        {
            "station_id": str(n),
            "calle": f"Calle Mayor {n}",
            "codigo_postal": "39001",
            "lat": 43.46,
            "lon": -3.8,
        }
        for n in range(1, 3)
    ]
    entity = drafted(stations, "BikeHireDockingStation")[0]
    assert entity["address"]["value"] == {"streetAddress": "Calle Mayor 1", "postalCode": "39001"}
    # one part alone is no address
    alone = [{"station_id": str(n), "calle": f"Calle Mayor {n}"} for n in range(1, 3)]
    assert "address" not in draft_text(alone, "BikeHireDockingStation")


def test_codes_named_for_a_state_feed_only_an_attribute_that_has_that_state() -> None:
    onto = default_ontology()
    (occupied,) = profile_records([{"occupied": v} for v in (0, 1, 2, 1)])
    spot = score_field(
        occupied,
        onto.attribute("ParkingSpot", "status"),  # type: ignore[arg-type]
        allowed=type_enumerations(onto, "ParkingSpot")["status"],
    )
    bus = score_field(
        occupied,
        onto.attribute("Vehicle", "serviceStatus"),  # type: ignore[arg-type]
        allowed=type_enumerations(onto, "Vehicle")["serviceStatus"],
    )
    assert spot.value >= 0.7 > bus.value
    assert "the enumeration has occupied/free" in spot.reason and "lacks" in bus.reason


# --- counts binned to fill states ---------------------------------------------------------------


def test_a_count_of_free_spaces_is_binned_to_the_parkings_fill_states() -> None:
    sites = [
        {"parking_id": f"P{n}", "plazas_libres": free, "plazas_ocupadas": 300 - free}
        for n, free in enumerate([0, 12, 250, 30])
    ]
    text = draft_text(sites, "OffStreetParking")
    (line,) = [row for row in text.splitlines() if row.lstrip().startswith("status:")]
    # room left: 0 is full; the low band is 10 % of the largest count (250); the neutral state
    # is the type's own; the taken count (ocupadas) is no room left
    assert "{from: plazas_libres, bins: [[0, [full]], [25, [almostFull]], [null, [spacesAvailable]]]}" in line
    assert "the thresholds are a proposal" in line and "review them" in line
    entities = drafted(sites, "OffStreetParking")
    assert [e["status"]["value"] for e in entities] == [
        ["full"],
        ["almostFull"],
        ["spacesAvailable"],
        ["spacesAvailable"],
    ]


def test_a_count_of_things_left_before_room_left_and_none_without_fill_states() -> None:
    stations = [
        {"station": f"s{n}", "bikes_available": bikes, "free_docks": 20 - bikes, "bikes_disabled": 1}
        for n, bikes in enumerate([0, 1, 9])
    ]
    entities = drafted(stations, "BikeHireDockingStation")
    assert [e["status"]["value"] for e in entities] == [["empty"], ["almostEmpty"], ["working"]]
    payload = "\n".join(json.dumps(s) for s in stations).encode()
    draft = draft_mapping(payload, name="stations.ndjson", type_name="BikeHireDockingStation")
    (fill,) = draft.bins
    assert fill.field.path == "bikes_available" and "other counts: free_docks" in fill.reason
    assert draft.proposed == len(draft.matches) + 1  # the bins count as a proposed attribute
    # ParkingSpot's states (free, occupied, closed, unknown) say no fill: no bins
    assert "bins:" not in draft_text(
        [{"spot": "a", "free_spaces": 3}, {"spot": "b", "free_spaces": 0}], "ParkingSpot"
    )
    # a negative or fractional "count" is no count
    assert "bins:" not in draft_text(
        [{"station": "x", "bikes_available": -1}, {"station": "y", "bikes_available": 2}],
        "BikeHireDockingStation",
    )


def test_what_a_count_says_is_left_is_read_off_its_name() -> None:
    from contextbridge.authoring.drafting.fill import _sense

    def sense(name: str) -> str | None:
        (field,) = profile_records([{name: v} for v in (0, 4, 9)])
        return _sense(field)

    assert [sense(n) for n in ("num_bikes_available", "huecos", "bicis_disponibles")] == [
        "left",
        "room",
        "left",
    ]
    assert [
        sense(n) for n in ("num_docks_available", "totalNumberOfVacantParkingSpaces", "availableSpotNumber")
    ] == ["room"] * 3
    # out of use, taken, a bound, or nothing said to be left: no count of what is left
    assert [
        sense(n) for n in ("num_docks_disabled", "plazas_ocupadas", "totalSlotNumber", "capacity", "ttl")
    ] == [None] * 5
