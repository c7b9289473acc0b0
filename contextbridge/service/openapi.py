"""``GET /openapi.json``: the OpenAPI 3.1 document of the service's HTTP API.

Written out rather than generated: the API is small, its contracts (what is stored before which
answer, which ProblemDetails ``type`` for which mistake) are the point. The document is a data
file, ``openapi.json`` beside this module; the device schema is the registry's own
(``schemas/device.schema.json``), put in at load. A test checks that every route of the app is
documented with its methods and every documented path and method is served.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.language.documents import packaged_schema


@cache
def openapi_document() -> dict[str, Any]:
    """The service's OpenAPI document, read once from the package."""
    text = resources.files("contextbridge.service").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    device = packaged_schema("device.schema.json")
    document["components"]["schemas"]["Device"] = {
        key: value for key, value in device.items() if key not in ("$schema", "$id")
    }
    return document


DOCUMENT = openapi_document()


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(DOCUMENT)
