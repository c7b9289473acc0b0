"""``contextbridge run``: the main job, once — every feed of a configuration, to its end.

The same adapter as ``serve``, run once: every source read to its end (HTTP polled one time,
files not watched), the entities put in the durable outbox of the state directory (rejected
records in its dead-letter queue), then drained into the city graph, and into Orion-LD when the
configuration names a broker. A second run puts only what changed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from .app import RUN, app
from .mappings import OntologyOption

if TYPE_CHECKING:
    from ..runtime.adapter import Adapter

StateOption = Annotated[
    Path, typer.Option("--state", help="State directory: outbox, dead letters, embedded graph.")
]


def summary_table(adapter: Adapter) -> Table:
    table = Table(title="Feeds")
    table.add_column("feed", no_wrap=True, min_width=max((len(feed.id) for feed in adapter.feeds), default=4))
    for column in ("messages", "records", "entities", "rejected", "filtered"):
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    table.add_column("top reject reason", no_wrap=True, overflow="ellipsis", max_width=40)
    for feed in adapter.feeds:
        stats = feed.translation
        reason = stats.reasons.most_common(1)
        table.add_row(
            feed.id,
            str(feed.stats.messages),
            str(stats.records),
            str(stats.entities),
            str(stats.rejected),
            str(stats.filtered),
            f"{reason[0][0]} ×{reason[0][1]}" if reason else "",
        )
    return table


@app.command(rich_help_panel=RUN)
def run(
    config_path: Annotated[
        Path | None, typer.Argument(help="Configuration file (default: the Santander example).")
    ] = None,
    state: StateOption = Path(".contextbridge"),
    ontology_paths: OntologyOption = None,
) -> None:
    """Run every feed of CONFIG once, into the city graph (and Orion-LD when configured).

    Prints a summary per feed and the answers of the configuration's example questions."""
    from ..runtime.adapter import open_adapter
    from ..runtime.config import config_ontology, default_config_path, load_config
    from ..sinks.graph import format_result, question

    console = Console(highlight=False, soft_wrap=True)  # long lines stay whole (logs, pipes)
    config = load_config(config_path or default_config_path())
    ontology = config_ontology(config, ontology_paths or ())
    console.print(f"contextbridge run: {len(config.feeds)} feeds from {config.path}")

    async def main() -> None:
        graph = config.graph
        store = graph.open(state, ontology=ontology)
        try:
            await store.load_ontology()
            async with open_adapter(config, state, store=store, once=True, ontology=ontology) as adapter:
                with Progress(console=console, transient=True) as progress:
                    progress.add_task("running the feeds", total=None)
                    await adapter.run(once=True)
                console.print(summary_table(adapter))
                for feed in adapter.feeds:
                    for reason, count in feed.translation.warnings.most_common():
                        console.print(f"{feed.id}: constraint broken {count} × {reason}")
                waiting = {status.sink: status.pending for status in adapter.status}
                for sink, delivered in adapter.delivery.items():
                    where = {
                        "graph": f"city graph ({graph.endpoint or state / 'graph'})",
                        "broker": "Orion-LD",
                    }.get(sink, f"webhook {sink}")
                    console.print(
                        f"{where}: {delivered.delivered:,} entities written, "
                        f"{delivered.superseded:,} superseded, {delivered.dead_lettered:,} dead-lettered"
                        + (
                            f", {waiting[sink]:,} still waiting ({delivered.last_error})"
                            if waiting.get(sink)
                            else ""
                        )
                    )
            for path in config.queries:
                text = path.read_text(encoding="utf-8")
                console.print(f"SPARQL {path.name}: {question(text)}")
                console.print(format_result(await store.query(text, tenant=None), "table"), end="")
        finally:
            await store.close()

    asyncio.run(main())
