"""The service's OpenAPI document describes exactly its routes, and is a valid OpenAPI 3.1 document."""

from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient

from contextbridge.service import Service, create_app
from contextbridge.service.openapi import DOCUMENT
from contextbridge.sinks.graph import EmbeddedStore


def test_every_route_is_documented_and_every_documented_path_is_a_route() -> None:
    app = create_app(Service(store=EmbeddedStore()))
    routes = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routes == documented


def test_the_document_is_served_and_names_its_security() -> None:
    with TestClient(create_app(Service(store=EmbeddedStore()))) as client:
        document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["components"]["securitySchemes"]) == {"apiKey", "bearer"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            writes = method == "post" and path != "/sparql"
            if writes:  # every write is authenticated
                assert operation["security"], path


def test_the_document_is_a_data_file_whose_references_all_resolve() -> None:
    from importlib import resources

    from contextbridge.language.documents import packaged_schema
    from contextbridge.service.problems import MEDIA_TYPE, PROBLEMS

    text = resources.files("contextbridge.service").joinpath("openapi.json").read_text(encoding="utf-8")
    assert PROBLEMS in DOCUMENT["info"]["description"] and MEDIA_TYPE in DOCUMENT["info"]["description"]
    assert (
        DOCUMENT["components"]["schemas"]["Device"]["properties"]
        == (packaged_schema("device.schema.json")["properties"])
    )

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [ref for value in node.values() for ref in refs(value)]
        return [ref for value in node for ref in refs(value)] if isinstance(node, list) else []

    found = refs(DOCUMENT)
    assert found and '"$ref"' in text
    for ref in found:
        target: object = DOCUMENT
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, ref
            target = target[part]
