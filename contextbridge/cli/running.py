"""``contextbridge run``: the main job, once — every feed of a configuration, to its end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..citygraph import CityGraph
from ..config import Config, FeedConfig, default_config_path, load_config
from ..errors import RecordError
from ..mapping import load_mapping
from ..translator import TranslationStats, Translator
from .app import app

StateOption = Annotated[
    Path, typer.Option("--state", help="State directory: outbox, dead letters, embedded graph.")
]


def run_feed(feed: FeedConfig, progress: Progress) -> tuple[TranslationStats, list[dict[str, Any]]]:
    """Translate every input of ``feed``; the entities are returned in order."""
    translator = Translator(load_mapping(feed.mapping))
    entities: list[dict[str, Any]] = []
    task = progress.add_task(feed.id, total=len(feed.inputs))
    for path in feed.inputs:
        with path.open("rb") as stream:
            for outcome in translator.translate_stream(stream, source=path.name):
                if not isinstance(outcome, RecordError):
                    entities.append(outcome)
        progress.advance(task)
    return translator.stats, entities


def summary_table(results: list[tuple[FeedConfig, TranslationStats]]) -> Table:
    table = Table(title="Feeds")
    for column in ("feed", "records", "entities", "rejected", "filtered", "top reject reason"):
        table.add_column(column, justify="left" if column in ("feed", "top reject reason") else "right")
    for feed, stats in results:
        reason = stats.reasons.most_common(1)
        table.add_row(
            feed.id,
            str(stats.records),
            str(stats.entities),
            str(stats.rejected),
            str(stats.filtered),
            f"{reason[0][0]} ×{reason[0][1]}" if reason else "",
        )
    return table


def run_config(
    config: Config, graph: CityGraph, console: Console
) -> list[tuple[FeedConfig, TranslationStats]]:
    """Every feed to its end; its entities into the city graph."""
    results = []
    with Progress(console=console, transient=True) as progress:
        for feed in config.feeds:
            stats, entities = run_feed(feed, progress)
            graph.upsert(entities)
            results.append((feed, stats))
    return results


def answer_table(graph: CityGraph, query: Path) -> tuple[str, Table]:
    """The question of a SPARQL file (its first comment line) and its answer."""
    text = query.read_text(encoding="utf-8")
    names, rows = graph.select(text)
    question = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), "")
    return f"SPARQL {query.name}: {question}", rows_table(names, rows)


def rows_table(names: list[str], rows: list[list[str]]) -> Table:
    table = Table()
    for name in names:
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    return table


@app.command()
def run(
    config_path: Annotated[
        Path | None, typer.Argument(help="Configuration file (default: the Santander example).")
    ] = None,
    state: StateOption = Path(".contextbridge"),
) -> None:
    """Run every feed of CONFIG once, to its end, into the embedded city graph; print a summary
    per feed and the answers of the configuration's example questions (SPARQL)."""
    console = Console(stderr=False)
    config = load_config(config_path or default_config_path())
    console.print(f"contextbridge run: {len(config.feeds)} feeds from {config.path}")
    graph = CityGraph(state / "graph")
    try:
        results = run_config(config, graph, console)
        console.print(summary_table(results))
        console.print(f"city graph: {len(graph):,} quads in {state / 'graph'}")
        for query in config.queries:
            question, answer = answer_table(graph, query)
            console.print(question)
            console.print(answer)
    finally:
        graph.close()


@app.command()
def sparql(
    query: Annotated[str, typer.Argument(help="A SPARQL query, or a file holding one.")],
    state: StateOption = Path(".contextbridge"),
    store: Annotated[Path | None, typer.Option("--store", help="Synonym of --state.")] = None,
    result_format: Annotated[
        str, typer.Option("--format", help="table, json, xml, csv, tsv; turtle or ntriples for CONSTRUCT.")
    ] = "table",
) -> None:
    """Ask the embedded city graph a SPARQL question (read-only)."""
    text = Path(query).read_text(encoding="utf-8") if Path(query).is_file() else query
    graph = CityGraph((store or state) / "graph")
    try:
        if result_format == "table":
            Console().print(rows_table(*graph.select(text)))
        else:
            sys.stdout.buffer.write(graph.query(text, result_format=result_format))
    finally:
        graph.close()
