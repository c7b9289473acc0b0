"""City graph commands: ``sparql`` (read-only questions) and ``graph load`` (entities into the graph).

    $ contextbridge graph load entities.ndjson --tenant santander
    $ contextbridge graph validate --tenant santander      # SHACL: the Smart Data Models shapes
    $ contextbridge sparql 'SELECT ?s WHERE { ?s a sosa:Observation } LIMIT 5'
    $ contextbridge sparql questions/parking.rq --endpoint http://localhost:7878/query --format csv

A query reads the whole store (the ontology and every tenant, as the union of their graphs);
``--tenant T`` narrows it to the ontology and that tenant's graph. Common prefixes (rdf, rdfs,
xsd, owl, sosa, ngsi-ld, geo) need no PREFIX line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer

from ..errors import ConfigError
from ..sinks.graph.options import DEFAULT_LIMIT, DEFAULT_TIMEOUT, FORMATS
from .app import GRAPH, app, echo_err
from .mappings import OntologyOption, load_ontology

if TYPE_CHECKING:  # the store loads when a command runs: `--help` stays fast
    from ..errors import EntityError
    from ..sinks.graph.base import GraphStore

T = TypeVar("T")
BATCH = 1000  # entities per upsert (one transaction each)

graph_app = typer.Typer(
    help="The city graph: load NGSI-LD entities into it (ask it questions with `contextbridge sparql`).",
    no_args_is_help=True,
)
app.add_typer(graph_app, name="graph", rich_help_panel=GRAPH)

StateOption = Annotated[
    Path | None,
    typer.Option("--state", help="State directory holding the embedded graph (default: ./.contextbridge)."),
]
StoreOption = Annotated[Path | None, typer.Option("--store", help="Synonym of --state.")]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint", envvar="CONTEXTBRIDGE_SPARQL_ENDPOINT", help="A SPARQL 1.1 query endpoint URL."
    ),
]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="A tenant's graph (default: default).")]


def _with_store(
    state: Path | None, endpoint: str | None, work: Callable[[GraphStore], Awaitable[T]], **options: Any
) -> T:
    from ..sinks.graph import open_store

    async def run() -> T:
        directory = None if endpoint else (state or Path(".contextbridge"))
        store = open_store(state_dir=directory, endpoint=endpoint, **options)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


@app.command(rich_help_panel=GRAPH)
def sparql(
    query: Annotated[str, typer.Argument(help="A SPARQL query, or a file holding one.")],
    state: StateOption = None,
    store: StoreOption = None,
    endpoint: EndpointOption = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Only this tenant's graph (and the ontology); default: all."),
    ] = None,
    result_format: Annotated[
        str | None,
        typer.Option("--format", help=f"{', '.join(FORMATS)} (default: table on a terminal, else tsv)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds before the query is abandoned.")] = DEFAULT_TIMEOUT,
    limit: Annotated[int, typer.Option(help="Rows (or triples) at most; the rest is cut.")] = DEFAULT_LIMIT,
) -> None:
    """Ask the city graph a SPARQL question (read-only: updates are refused)."""
    from ..sinks.graph import format_result
    from ..sinks.graph.sparql import ask, check_prefixes, query_form

    if (state or store) and endpoint:
        raise ConfigError("give --state/--store or --endpoint, not both", key="endpoint")
    text = _query_text(query)
    query_form(text)  # an update is refused before the store is even opened
    check_prefixes(text)
    fmt = result_format or ("table" if sys.stdout.isatty() else "tsv")
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", key="format")
    result = _with_store(
        state or store,
        endpoint,
        lambda s: ask(s, text, tenant=tenant, timeout=timeout, limit=limit),
    )
    if result.kind == "graph" and result_format is None:
        fmt = "turtle"
    typer.echo(format_result(result, fmt), nl=False)
    if result.truncated:
        echo_err(f"truncated: more than {limit:,} results; only the first {limit:,} are shown (--limit)")


def _query_text(argument: str) -> str:
    """The query: the argument, or the file it names. One word with a ``.`` or a ``/`` and no
    braces (``questions/parking.rq``) cannot be a query: a missing file of that name is said so."""
    path = Path(argument)
    if len(argument) < 4096 and path.is_file():
        return path.read_text(encoding="utf-8")
    if re.fullmatch(r"[^\s{}]*[./\\][^\s{}]*", argument.strip()):
        raise ConfigError(
            f"no such file: {argument} (give a SPARQL query, or a file holding one)", key="query"
        )
    return argument


@graph_app.command("load")
def graph_load(
    files: Annotated[
        list[Path], typer.Argument(help="NDJSON files of normalized NGSI-LD entities ('-': stdin).")
    ],
    tenant: TenantOption = None,
    state: StateOption = None,
    endpoint: EndpointOption = None,
    view: Annotated[
        str, typer.Option(help="ngsi-ld (the JSON-LD graph) or direct (entity → value).")
    ] = "ngsi-ld",
    ontology_paths: OntologyOption = None,
    mapping_path: Annotated[
        Path | None,
        typer.Option("--mapping", "-m", help="The mapping the entities come from: its update and history."),
    ] = None,
    update: Annotated[
        str | None, typer.Option(help="replace (whole states) or merge (some attributes each).")
    ] = None,
    history: Annotated[
        bool | None, typer.Option("--history/--no-history", help="Keep every past value as an observation.")
    ] = None,
) -> None:
    """Load entities into the city graph (the latest state of each replaces the one before, or is
    merged into it with ``update: merge``; with ``history`` every version's values are kept too)."""
    if view not in ("ngsi-ld", "direct"):
        raise ConfigError(f"unknown view {view!r} (known: ngsi-ld, direct)", key="view")
    from ..entities.updates import REPLACE, UPDATES
    from ..language.mapping import load_mapping

    if update not in (None, *UPDATES):
        raise ConfigError(f"--update: {update!r} is not replace or merge", key="update")
    policy = load_mapping(mapping_path).policy("file") if mapping_path else REPLACE
    if update is not None:
        policy = dataclasses.replace(policy, merge=update == "merge")
    if history is not None:
        policy = dataclasses.replace(policy, history=history, keep=policy.keep if history else None)

    invalid = 0

    def batches() -> Iterator[list[dict[str, object]]]:
        nonlocal invalid
        batch: list[dict[str, object]] = []
        for path in files:
            stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
            with stream:
                for number, line in enumerate(stream, start=1):
                    if not line.strip():
                        continue
                    try:
                        batch.append(orjson.loads(line))
                    except orjson.JSONDecodeError as error:
                        echo_err(f"{path}:{number}: invalid JSON: {error}")
                        invalid += 1
                        continue
                    if len(batch) >= BATCH:
                        yield batch
                        batch = []
        if batch:
            yield batch

    def refusals(report: Any) -> None:
        for error in report.refused:
            echo_err(f"refused: {error}")

    async def work(store: GraphStore) -> Any:
        from ..sinks.graph import EmbeddedStore, UpsertReport
        from ..sinks.graph.loading import load_stream

        await store.load_ontology()
        if isinstance(store, EmbeddedStore):  # conversion and writes overlap, new entities bulk-loaded
            return await asyncio.to_thread(
                load_stream, store, batches(), tenant=tenant, policy=policy, on_written=refusals
            )
        loaded = triples = 0
        refused: list[EntityError] = []
        for batch in batches():
            report = await store.upsert(batch, tenant=tenant, policy=policy)
            refusals(report)
            loaded, triples = loaded + report.upserted, triples + report.triples
            refused.extend(report.refused)
        return UpsertReport(loaded, triples, tuple(refused))

    ontology = load_ontology(ontology_paths)
    total = _with_store(state, endpoint, work, view=view, ontology=ontology)
    refused = len(total.refused) + invalid
    echo_err(f"loaded {total.upserted:,} entities ({total.triples:,} triples); refused {refused:,}")
    if refused:
        raise typer.Exit(1)


@graph_app.command("validate")
def graph_validate(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant's graph; default: all.")
    ] = None,
    state: StateOption = None,
    endpoint: EndpointOption = None,
    ontology_paths: OntologyOption = None,
) -> None:
    """Validate the city graph with pySHACL against the Smart Data Models shapes (and the vendors').

    One line per violation, naming the rule and where it comes from; exit 1 on any."""
    from ..sinks.graph.shacl import validate_store

    ontology = load_ontology(ontology_paths)
    found = _with_store(
        state, endpoint, lambda store: validate_store(store, ontology, tenant=tenant), ontology=ontology
    )
    for violation in found:
        typer.echo(str(violation))
    echo_err(f"{len(found)} violations")
    if found:
        raise typer.Exit(1)
