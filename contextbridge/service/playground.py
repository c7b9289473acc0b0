"""``POST /playground``: try a mapping on a payload, as ``check``, ``translate`` and ``validate`` would.

    POST /playground        X-API-Key: ...   (a read key: nothing is stored)
    {"mapping": "id: parking\\nsource: {format: json}\\n...", "payload": "[{...}]",
     "name": "santander-parking", "limit": 50}
    → 200 {"entities": [...], "entity_count": 12, "records": 12, "rejected": [...],
           "problems": [{"severity": "error", "line": 7, "column": null, "message": ..., "origin": "mapping"}],
           # origin: mapping (its line), lint (its line), validation (an entity's), payload
           "triples": "<urn:...> <...> ... .\\n", "triple_count": 80, "took_ms": 14.2}

The same functions as the command line, in the same order: the mapping is loaded and compiled
(``load_document``, ``compile_mapping``: every mistake with its line), linted against the service's
ontology (``lint_mapping``), run on the payload (``Translator.translate_stream``, the format the
mapping names), and its entities validated (``validate_entity``, ``Ontology.problems``) and
converted to RDF (``Converter``). A broken mapping is an answer, not an error: 200 with problems.

Bounded: the body by the service's limit, the work by a worker thread that stops between
records at ``TIMEOUT`` (a problem says so) and is abandoned at ``GIVE_UP`` (504), at most
``CONCURRENCY`` trials at once. A posted mapping runs in a sandbox: its lookups may only read
files under the directory of the mapping it is named after (``name``, one of ``GET /mappings``)
or the files that mapping's own lookups read; no HTTP, SQL or registry lookup is run, and a
mapping of no name reads no file (a problem says so).
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contextbridge.authoring.lint import lint_mapping
from contextbridge.entities.constraints import constraints_for
from contextbridge.entities.ontology import Ontology
from contextbridge.entities.rdf import Converter
from contextbridge.entities.validation import validate_entity
from contextbridge.errors import ContextBridgeError, MappingError, Problem, RecordError
from contextbridge.language.documents import Document, load_document, packaged_schema
from contextbridge.language.lookups import SOURCES
from contextbridge.language.mapping import Mapping, compile_mapping
from contextbridge.language.translator import Translator

from .bodies import read_json, text_member
from .mappings import mapping_path, read_document
from .problems import HTTPProblem

if TYPE_CHECKING:
    from .app import Service

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds of translation before a trial stops (between two records)
GIVE_UP = 10.0  # seconds before a trial that does not stop (one huge record) is abandoned: 504
CONCURRENCY = 2  # trials at once; more wait their turn (within the time limit)
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_REJECTED = 200  # rejected records listed (all are counted in ``records``)
MAX_VALIDATED = 1000  # entities validated and checked against the ontology
FILE_LOOKUPS = ("csv", "json", "ndjson")
UNNAMED = Path("playground.yaml")  # the name of a posted mapping that names no configured one


@dataclass(frozen=True)
class Place:
    """Where a posted mapping is tried: as the file ``path`` (its lookups' files are relative to
    it), allowed to read the lookup files under its directory and ``allowed`` (those the file on
    disk reads itself). ``named``: false for a mapping of no known name (no lookup files at all)."""

    path: Path = UNNAMED
    allowed: frozenset[Path] = frozenset()
    named: bool = False


@dataclass
class Trial:
    """What trying a mapping on a payload gave."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    triples: str = ""

    def problem(self, problem: Problem, severity: str, origin: str) -> None:
        message = f"{problem.key}: {problem.message}" if problem.key else problem.message
        self.problems.append(
            {"severity": severity, "line": problem.line, "column": None, "message": message, "origin": origin}
        )


class Playground:
    """The trials of one service: its ontology, one RDF converter (built once), a concurrency bound.

    >>> trial = await Playground(ontology).attempt(mapping_text, payload, Place(), limit=50)
    >>> trial.entities, trial.problems, trial.triples
    """

    def __init__(self, ontology: Ontology) -> None:
        self.ontology = ontology
        self.constraints = constraints_for(ontology)
        self.converter = Converter(ontology)
        self.slots = asyncio.Semaphore(CONCURRENCY)

    def compile(self, text: str, place: Place, trial: Trial) -> Mapping | None:
        """The mapping of ``text`` as if it were the file ``place.path``; None (with problems) when broken."""
        try:
            document = load_document(place.path, schema=packaged_schema("mapping.schema.json"), text=text)
        except MappingError as error:
            for problem in error.problems:
                trial.problem(problem, "error", "mapping")
            return None
        for problem in _sandbox(document, named=place.named, allowed=place.allowed):
            trial.problem(problem, "error", "mapping")
        if trial.problems:
            return None
        try:
            mapping = compile_mapping(document)
        except MappingError as error:
            for problem in error.problems:
                trial.problem(problem, "error", "mapping")
            return None
        for problem in lint_mapping(mapping, self.ontology):
            trial.problem(problem, "warning", "lint")
        return mapping

    def run(self, text: str, payload: bytes, place: Place, *, limit: int, deadline: float) -> Trial:
        """Compile, lint, translate, validate and convert (in a worker thread: it blocks)."""
        trial = Trial()
        try:
            mapping = self.compile(text, place, trial)
            if mapping is not None:
                self._translate(mapping, payload, trial, deadline)
                self._check(trial, limit)
        except Exception as error:  # a mapping no check foresaw: an answer for its author, and a log line
            log.exception("playground: the trial of a mapping failed")
            trial.problems.append(_note(f"the mapping could not be tried: {error!r}"))
        return trial

    def _translate(self, mapping: Mapping, payload: bytes, trial: Trial, deadline: float) -> None:
        translator = Translator(mapping, constraints=self.constraints)
        try:
            for outcome in translator.translate_stream(io.BytesIO(payload), source="payload"):
                if isinstance(outcome, RecordError):
                    if len(trial.rejected) < MAX_REJECTED:
                        trial.rejected.append(_rejected(outcome))
                else:
                    trial.entities.append(outcome)
                if time.monotonic() > deadline:
                    stopped = f"stopped after {TIMEOUT:g} s: the rest of the payload is not translated"
                    trial.problems.append(_note(stopped, origin="payload", severity="warning"))
                    break
        except ContextBridgeError as error:  # the payload as a whole cannot be read
            trial.problems.append(_note(f"the payload cannot be read: {error}", origin="payload"))
        trial.records = translator.stats.records

    def _check(self, trial: Trial, limit: int) -> None:
        """Validate the entities (the first ``MAX_VALIDATED``) and convert the shown ones to RDF."""
        # As ``contextbridge validate`` does.
        for entity in trial.entities[:MAX_VALIDATED]:
            found = [str(error) for error in validate_entity(entity)]
            found = found or [f"{entity.get('id')}: {message}" for message in self.ontology.problems(entity)]
            trial.problems.extend(_note(message, origin="validation") for message in found)
        out = []
        for entity in trial.entities[:limit]:
            try:
                out.append(self.converter.ntriples(entity))
            except (ContextBridgeError, ValueError) as error:
                trial.problems.append(_note(f"{entity.get('id')}: no RDF: {error}", origin="validation"))
        trial.triples = "".join(out)

    async def attempt(self, text: str, payload: bytes, place: Place, *, limit: int) -> Trial:
        """``run`` in a worker thread, bounded in time (504 when the thread does not come back)."""
        try:
            async with asyncio.timeout(GIVE_UP):
                async with self.slots:
                    deadline = time.monotonic() + TIMEOUT
                    return await asyncio.to_thread(
                        self.run, text, payload, place, limit=limit, deadline=deadline
                    )
        except TimeoutError:
            raise HTTPProblem(
                504, "playground-timeout", "Gateway Timeout", f"the trial took more than {GIVE_UP:g} s"
            ) from None


def _note(message: str, *, origin: str = "mapping", severity: str = "error") -> dict[str, Any]:
    return {"severity": severity, "line": None, "column": None, "message": message, "origin": origin}


def _rejected(error: RecordError) -> dict[str, Any]:
    return {
        "record": error.record,
        "field": error.field,
        "source": error.source,
        "kind": error.kind,
        "reason": error.reason,
    }


def lookup_files(document: Document) -> set[Path]:
    """The files a mapping document's lookups read (resolved): what a trial of it may read too."""
    lookups = document.data.get("lookups") if isinstance(document.data, dict) else None
    base = Path(document.path).parent
    found = set()
    for spec in lookups.values() if isinstance(lookups, MappingABC) else ():
        for kind in FILE_LOOKUPS:
            value = spec.get(kind) if isinstance(spec, MappingABC) else None
            if isinstance(value, str):
                found.add((base / value).resolve())
    return found


def _sandbox(document: Document, *, named: bool, allowed: frozenset[Path]) -> list[Problem]:
    """What a posted mapping may not do here: lookups other than files under its directory or
    those the named mapping's file reads itself (``allowed``); ontology files elsewhere (the
    trial reads the service's ontology: a path is only checked to exist, which must tell nothing
    of the server's other files)."""
    data = document.data if isinstance(document.data, dict) else {}
    base = Path(document.path).parent.resolve()
    problems = []
    named_files = data.get("ontology", [])
    for value in [named_files] if isinstance(named_files, str) else named_files:
        path = (base / value).resolve() if named and isinstance(value, str) else None
        if path is None or not path.is_relative_to(base):
            problems.append(
                document.problem(("ontology",), "the playground reads ontology files beside the mapping only")
            )
    lookups = data.get("lookups")
    if not isinstance(lookups, MappingABC):
        return problems
    for name, spec in lookups.items():
        kinds = [kind for kind in SOURCES if isinstance(spec, MappingABC) and kind in spec]
        key = ("lookups", name)
        if any(kind not in FILE_LOOKUPS for kind in kinds):
            problems.append(document.problem(key, "the playground runs no HTTP, SQL or registry lookups"))
        elif not named and kinds:
            problems.append(document.problem(key, "a lookup file needs the mapping's name (its directory)"))
        elif kinds:
            value = spec[kinds[0]]
            path = (base / value).resolve() if isinstance(value, str) else None
            if path is None or not (path.is_relative_to(base) or path in allowed):
                problems.append(
                    document.problem(
                        key, "the playground reads lookup files under the mapping's directory only"
                    )
                )
    return problems


def playground_of(service: Service) -> Playground:
    """The service's playground (made at first use: the converter's tables cost a moment)."""
    if service.playground is None:
        service.playground = Playground(service.ontology)
    return service.playground


def _place(service: Service, name: str | None) -> Place:
    if name is None:
        return Place()
    path = mapping_path(service, name)
    document = read_document(path)
    allowed = frozenset(lookup_files(document)) if not isinstance(document, str) else frozenset()
    return Place(path, allowed, named=True)


async def playground_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    service.authenticator.authorize(request)
    data = await read_json(request, service.settings.max_body_bytes)
    text, payload = text_member(data, "mapping"), text_member(data, "payload")
    name = text_member(data, "name") if data.get("name") is not None else None
    limit = data.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT:
        raise HTTPProblem(400, "bad-request", "Bad Request", f"limit: an integer in 0..{MAX_LIMIT}")
    started = time.perf_counter()
    place = await asyncio.to_thread(_place, service, name)
    trial = await playground_of(service).attempt(text, payload.encode("utf-8"), place, limit=limit)
    return JSONResponse(
        {
            "entities": trial.entities[:limit],
            "entity_count": len(trial.entities),
            "records": trial.records,
            "rejected": trial.rejected,
            "problems": trial.problems,
            "triples": trial.triples,
            "triple_count": trial.triples.count("\n"),
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )
