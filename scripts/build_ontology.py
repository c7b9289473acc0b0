"""Generate ``contextbridge/data/ontologies/city.ttl`` from the Smart Data Models metadata.

The attributes, IRIs, JSON types and descriptions come from the metadata that the
``pysmartdatamodels`` package ships offline; what the metadata does not say (the
UN/CEFACT unit of each quantity, the target class of each Relationship, the SOSA/SAREF
parents, the few terms the city adds) is curated in the tables below.

    python scripts/build_ontology.py            # rewrite the TTL and the SDM shapes
    python scripts/build_ontology.py --check    # exit 1 if either committed file is stale

The SHACL shapes of the Smart Data Models constraints (``contextbridge/data/shapes/sdm.ttl``)
are generated from the SDM JSON Schemas copied in ``scripts/sdm/``: see ``sdm_shapes.py``.

The output is plain text written in a fixed order, so it is byte-for-byte stable.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

import pysmartdatamodels
from rdflib import Graph

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # sdm_shapes, beside this script
from sdm_shapes import render_shapes

from contextbridge.entities.jsonld import core_terms
from contextbridge.entities.ontology import Ontology

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "contextbridge" / "data" / "ontologies" / "city.ttl"
SHAPES = ROOT / "contextbridge" / "data" / "shapes" / "sdm.ttl"
ASSETS = Path(pysmartdatamodels.__file__).parent / "model-assets"
SDM = "https://smartdatamodels.org/"
CITY = "https://contextbridge.dev/ontology/city#"

# Entity types of the city, with the SDM subject each one comes from.
MODELS = {
    "AirQualityObserved": "Environment",
    "BikeHireDockingStation": "Transportation",  # bike sharing (GBFS feeds)
    "Device": "Device",
    "DeviceMeasurement": "Device",
    "NoiseLevelObserved": "Environment",
    "OffStreetParking": "Parking",
    "OnStreetParking": "Parking",
    "ParkingSpot": "Parking",
    "Streetlight": "Streetlighting",
    "TrafficFlowObserved": "Transportation",
    "Vehicle": "Transportation",  # bus positions (Santander's fleet control)
    "WasteContainer": "WasteManagement",
    "WaterObserved": "Environment",
    "WaterQualityObserved": "WaterQuality",
    "WeatherObserved": "Weather",
}
OBSERVATIONS = (
    "AirQualityObserved",
    "DeviceMeasurement",
    "NoiseLevelObserved",
    "TrafficFlowObserved",
    "WaterObserved",
    "WaterQualityObserved",
    "WeatherObserved",
)
# Classes that are only targets of Relationships: (name, IRI, comment).
TARGETS = {
    "DeviceModel": ("dataModel.Device", "The model (make, brand, capabilities) of a device."),
    "ParkingAccess": ("dataModel.Parking", "An access point (entrance or exit) of a parking site."),
    "ParkingGroup": ("dataModel.Parking", "A group of parking spots (a zone, a storey, a set of spots)."),
    "PointOfInterest": ("dataModel.PointOfInterest", "A point of interest, such as a measuring station."),
    "RoadSegment": ("dataModel.Transportation", "A segment of a road."),
    "StreetlightControlCabinet": (
        "dataModel.Streetlighting",
        "A cabinet (feeder panel) that controls streetlights.",
    ),
    "StreetlightGroup": ("dataModel.Streetlighting", "A group of streetlights controlled together."),
    "StreetlightModel": ("dataModel.Streetlighting", "The model of a streetlight (lamp, lantern, column)."),
    "VehicleModel": ("dataModel.Transportation", "The model of a vehicle."),
    "WasteContainerIsle": ("dataModel.WasteManagement", "An isle where waste containers stand."),
    "WasteContainerModel": ("dataModel.WasteManagement", "The model of a waste container."),
}
RELATION_TARGETS = {
    "feederID": "StreetlightControlCabinet",
    "refDevice": "Device",
    "refDeviceModel": "DeviceModel",
    "refParkingAccess": "ParkingAccess",
    "refParkingGroup": "ParkingGroup",
    "refParkingSite": "ParkingSite",
    "refParkingSpot": "ParkingSpot",
    "refPointOfInterest": "PointOfInterest",
    "refRoadSegment": "RoadSegment",
    "refStreetlightControlCabinet": "StreetlightControlCabinet",
    "refStreetlightGroup": "StreetlightGroup",
    "refStreetlightModel": "StreetlightModel",
    "refVehicleModel": "VehicleModel",
    "refWasteContainerIsle": "WasteContainerIsle",
    "refWasteContainerModel": "WasteContainerModel",
    "refWeatherObserved": "WeatherObserved",
}
# UN/CEFACT common codes. SDM states relative humidity, occupancy, filling and battery
# levels as fractions 0..1, hence C62 (one), not P1 (percent).
UNITS = {
    "LAS": "2N",
    "LAeq": "2N",
    "LAeq_d": "2N",
    "LAmax": "2N",
    "airTemperatureForecast": "CEL",
    "atmosphericPressure": "A97",
    "averageHeadwayTime": "SEC",
    "averageVehicleLength": "MTR",
    "averageVehicleSpeed": "KMH",
    "batteryLevel": "C62",
    "bearing": "DD",
    "c6h6": "GQ",
    "cargoWeight": "KGM",
    "co": "GP",
    "conductivity": "D10",
    "current": "AMP",
    "dewPoint": "CEL",
    "diffuseIrradiation": "D54",
    "directIrradiation": "D54",
    "feelsLikeTemperature": "CEL",
    "fillingLevel": "C62",
    "gustSpeed": "MTS",
    "h2s": "GQ",
    "heading": "DD",
    "illuminance": "LUX",
    "illuminanceLevel": "C62",
    "lanternHeight": "MTR",
    "nh3": "GQ",
    "no": "GQ",
    "no2": "GQ",
    "nox": "GQ",
    "o3": "GQ",
    "occupancy": "C62",
    "pm1": "GQ",
    "pm10": "GQ",
    "pm25": "GQ",
    "pm4": "GQ",
    "powerFactor": "C62",
    "precipitation": "MMT",
    "pressure": "A97",
    "relativeHumidity": "C62",
    "relativeHumidityForecast": "C62",
    "snowHeight": "CMT",
    "so2": "GQ",
    "solarRadiation": "D54",
    "speed": "KMH",
    "streamGauge": "CMT",
    "temperature": "CEL",
    "voltage": "VLT",
    "weight": "KGM",
    "windDirection": "DD",
    "windSpeed": "MTS",
}
# Terms the city needs that no Smart Data Model defines: (name, kind, range, classes, comment).
CITY_TERMS = [
    (
        "line",
        "Property",
        "string",
        ("Vehicle",),
        "Public transport line the vehicle is serving (e.g. bus line 51).",
    ),
    (
        "parkingPermit",
        "Property",
        "string",
        ("ParkingSpot",),
        "Permit needed to park on the spot; a sub-attribute of status in SDM's examples.",
    ),
    (
        "typeOfLocation",
        "Property",
        "string",
        ("AirQualityObserved",),
        "Whether the observation was made indoor or outdoor (legacy SDM attribute).",
    ),
]
# Attributes used by SDM examples but missing from the metadata of their model.
SDM_EXTRAS = [
    (
        "deviceInfo",
        "Streetlighting",
        "Property",
        "json",
        ("Streetlight",),
        "Information about the device monitoring the streetlight (a sub-attribute of municipalityInfo).",
    )
]
SKIP = {"id", "type", "bbox", "coordinates"}
XSD = {
    ("number", None): "double",
    ("integer", None): "integer",
    ("boolean", None): "boolean",
    ("string", None): "string",
    ("string", "date-time"): "dateTime",
    ("string", "date"): "date",
    ("string", "uri"): "anyURI",
    ("object", None): "json",
    ("array", None): "json",
}


def _literal(text: str) -> str:
    text = " ".join(str(text).split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return words if any(c.isupper() for c in name[1:]) and name[:2].isupper() else words.lower()


def collect() -> tuple[dict[str, dict], dict[str, dict]]:
    """Read the metadata: the classes and the properties (keyed by IRI) of the ontology."""
    with gzip.open(ASSETS / "smartdatamodels.json.gz") as stream:
        rows = json.load(stream)
    models = json.loads((ASSETS / "datamodels_metadata.json").read_text(encoding="utf-8"))
    meta = {
        m["dataModel"]: m
        for m in models
        if m["dataModel"] in MODELS and m["subject"] == "dataModel." + MODELS[m["dataModel"]]
    }
    core = core_terms()
    classes: dict[str, dict] = {}
    for name, subject in MODELS.items():
        parents = ["sosa:Observation"] if name in OBSERVATIONS else []
        parents += {
            "Device": ["saref:Device"],
            "Vehicle": ["sosa:Platform"],
            "OffStreetParking": ["ParkingSite"],
            "OnStreetParking": ["ParkingSite"],
        }.get(name, [])
        classes[name] = {
            "iri": f"{SDM}dataModel.{subject}/{name}",
            "comment": meta[name]["description"],
            "parents": parents,
        }
    for name, (subject, comment) in TARGETS.items():
        classes[name] = {"iri": f"{SDM}{subject}/{name}", "comment": comment, "parents": []}
    classes["ParkingSite"] = {
        "iri": CITY + "ParkingSite",
        "parents": [],
        "comment": "A parking site: an off-street parking or an on-street parking zone.",
    }
    props: dict[str, dict] = {}

    def add(iri: str, name: str, kind: str, rng: str, cls: str, comment: str, unit: str | None) -> None:
        prop = props.setdefault(
            iri,
            {"name": name, "kind": kind, "ranges": set(), "domains": set(), "comment": comment, "unit": unit},
        )
        if prop["name"] != name or prop["kind"] != kind:
            raise SystemExit(f"{iri}: used as {prop['name']}/{prop['kind']} and {name}/{kind}")
        prop["ranges"].add(rng)
        # A shared attribute keeps the most general wording, which SDM gives as the shortest.
        prop["comment"] = min(prop["comment"], comment, key=lambda text: (len(text), text))
        prop["domains"].add(cls)

    for row in rows:
        name, model = row["property"], row["dataModel"]
        if model not in MODELS or row["repoName"] != "dataModel." + MODELS[model] or "parentId" in row:
            continue
        if name in SKIP:
            continue
        kind = row.get("typeNGSI") or "Property"
        rng = RELATION_TARGETS[name] if kind == "Relationship" else XSD[(row["type"], row.get("format"))]
        # The core @context is protected and comes last: a core term always expands to the core IRI.
        iri = core.get(name, row["context"])
        add(iri, name, kind, rng, model, row.get("description") or name, UNITS.get(name))
    for name, kind, rng, domain, comment in CITY_TERMS:
        for cls in domain:
            add(CITY + name, name, kind, rng, cls, comment, UNITS.get(name))
    for name, subject, kind, rng, domain, comment in SDM_EXTRAS:
        for cls in domain:
            add(f"{SDM}dataModel.{subject}/{name}", name, kind, rng, cls, comment, UNITS.get(name))
    return classes, props


def _range(prop: dict) -> str:
    ranges = prop["ranges"]
    if len(ranges) > 1:  # "a string or an array of strings": the scalar is the range, arrays are multi-valued
        ranges = ranges - {"json"}
    if len(ranges) > 1:  # a date-time documented without its format in one model
        ranges = ranges - {"string"}
    if len(ranges) != 1:
        raise SystemExit(f"{prop['name']}: several ranges {sorted(prop['ranges'])}")
    return next(iter(ranges))


def render(classes: dict[str, dict], props: dict[str, dict]) -> str:
    def ref(name: str) -> str:
        return name if ":" in name else f"<{classes[name]['iri']}>"

    out = [HEADER]
    for name in sorted(classes):
        cls = classes[name]
        lines = [
            f"<{cls['iri']}> a owl:Class",
            f"rdfs:label {_literal(_label(name))}@en",
            f"rdfs:comment {_literal(cls['comment'])}@en",
            f"city:ngsiName {_literal(name)}",
        ]
        lines += [f"rdfs:subClassOf {ref(parent)}" for parent in cls["parents"]]
        out.append(" ;\n    ".join(lines) + " .\n")
    out.append(
        "# ---- attributes: one OWL property per IRI; the domain is the union of the classes using it ----\n"
    )
    for iri in sorted(props):
        prop = props[iri]
        rng = _range(prop)
        owl_type = "owl:ObjectProperty" if prop["kind"] == "Relationship" else "owl:DatatypeProperty"
        domains = sorted(prop["domains"])
        domain = (
            ref(domains[0])
            if len(domains) == 1
            else ("[ a owl:Class ; owl:unionOf ( " + " ".join(ref(d) for d in domains) + " ) ]")
        )
        range_ref = (
            ref(rng) if prop["kind"] == "Relationship" else ("rdf:JSON" if rng == "json" else f"xsd:{rng}")
        )
        lines = [
            f"<{iri}> a {owl_type}",
            f"rdfs:label {_literal(_label(prop['name']))}@en",
            f"rdfs:comment {_literal(prop['comment'])}@en",
            f"city:ngsiName {_literal(prop['name'])}",
            f"city:ngsiType {_literal(prop['kind'])}",
            f"rdfs:domain {domain}",
            f"rdfs:range {range_ref}",
        ]
        if prop["unit"]:
            lines.append(f"city:unitCode {_literal(prop['unit'])}")
        out.append(" ;\n    ".join(lines) + " .\n")
    return "\n".join(out)


HEADER = """\
# The contextbridge city ontology. GENERATED by scripts/build_ontology.py: edit the script, not this file.
# Classes and attributes use the FIWARE Smart Data Models IRIs (one namespace per subject), the NGSI-LD
# core IRIs for attributes whose short name is a core @context term, and city: only where neither exists.
@prefix city: <https://contextbridge.dev/ontology/city#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix saref: <https://saref.etsi.org/core/> .
@prefix sosa: <http://www.w3.org/ns/sosa/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<https://contextbridge.dev/ontology/city> a owl:Ontology ;
    rdfs:label "contextbridge city ontology"@en ;
    rdfs:comment '''Entity types and attributes of the city's NGSI-LD context,
aligned with FIWARE Smart Data Models, SOSA and SAREF.'''@en .

# ---- annotations: what NGSI-LD needs beyond OWL ----
city:ngsiName a owl:AnnotationProperty ;
    rdfs:label "NGSI-LD short name"@en ;
    rdfs:comment '''The short name (@context term) of a class or attribute;
several IRIs can share one short name in different classes.'''@en .
city:ngsiType a owl:AnnotationProperty ;
    rdfs:label "NGSI-LD attribute kind"@en ;
    rdfs:comment "Property, Relationship, GeoProperty or LanguageProperty."@en .
city:unitCode a owl:AnnotationProperty ;
    rdfs:label "unit code"@en ;
    rdfs:comment "The expected UN/CEFACT common code of the attribute's unitCode."@en .

# ---- upper classes (SOSA/SSN, SAREF) ----
sosa:Observation a owl:Class ;
    rdfs:label "observation"@en ;
    rdfs:comment "SOSA: an act of estimating the value of a property with a procedure."@en ;
    owl:disjointWith saref:Device .
sosa:Platform a owl:Class ;
    rdfs:label "platform"@en ;
    rdfs:comment "SOSA: an entity that hosts others, particularly sensors (a bus and its GPS)."@en .
saref:Device a owl:Class ;
    rdfs:label "device"@en ;
    rdfs:comment "SAREF: a tangible object designed to accomplish a particular task."@en .

"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the TTL is not up to date")
    args = parser.parse_args(argv)
    text = render(*collect())
    # The shapes name the ontology's IRIs: they are made from the ontology just rendered.
    shapes = render_shapes(MODELS, Ontology(Graph().parse(data=text, format="turtle")))
    outputs = {TARGET: text, SHAPES: shapes}
    if args.check:
        stale = [
            path for path, content in outputs.items() if not path.exists() or path.read_text() != content
        ]
        for path in outputs:
            print(f"{path} is {'stale' if path in stale else 'up to date'}")
        return 1 if stale else 0
    for path, content in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
