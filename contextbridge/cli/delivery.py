"""Delivery commands: ``sync`` (translate → outbox → Orion-LD), ``outbox status``, ``dlq ...``.

    $ contextbridge sync -m mappings/santander-parking.yaml parking.json --broker http://orion:1026
    $ contextbridge outbox status --format json
    $ contextbridge dlq list --sink broker ; contextbridge dlq replay 12 13 ; contextbridge dlq purge --sink translate

``sync`` is safe to kill at any moment and run again: what was translated is in the outbox,
what was delivered is not sent again, and the broker ends with the latest version of every entity.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..delivery.sink import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from ..errors import ConfigError, RecordError
from .app import DELIVERY, app, echo_err
from .mappings import ConstraintsOption, OntologyOption, with_ontologies

if TYPE_CHECKING:  # each command imports what it uses when it runs: `--help` stays fast
    import httpx

    from ..delivery.drainer import DeliveryStats
    from ..outbox import Outbox

T = TypeVar("T")
PUT_CHUNK = 1000  # entities per outbox transaction while translating

State = Annotated[Path, typer.Option("--state", help="State directory: outbox, dead letters, graph.")]
OutboxUrl = Annotated[
    str | None,
    typer.Option("--outbox", envvar="CONTEXTBRIDGE_OUTBOX", help="postgresql:// URL of a shared outbox."),
]
Format = Annotated[str, typer.Option("--format", help="table or json.")]

outbox_app = typer.Typer(help="The durable outbox between translation and the sinks.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="The dead-letter queue: refused entities and rejected records.", no_args_is_help=True
)
app.add_typer(outbox_app, name="outbox", rich_help_panel=DELIVERY)
app.add_typer(dlq_app, name="dlq", rich_help_panel=DELIVERY)


def _with_outbox(state: Path, url: str | None, work: Callable[[Outbox], Awaitable[T]], **options: Any) -> T:
    from ..outbox import open_outbox

    async def run() -> T:
        outbox = open_outbox(url or state, **options)
        try:
            return await work(outbox)
        finally:
            await outbox.close()

    return asyncio.run(run())


def _auth(token: str | None, api_key: str | None, api_key_header: str, oauth: list[str]) -> httpx.Auth | None:
    from ..remote.auth import auth_from_config

    if oauth:
        if len(oauth) != 3:
            raise ConfigError("--oauth takes TOKEN_URL,CLIENT_ID,CLIENT_SECRET")
        return auth_from_config(
            {"oauth2": dict(zip(("token_url", "client_id", "client_secret"), oauth, strict=True))}
        )
    if token:
        return auth_from_config({"bearer": token})
    if api_key:
        return auth_from_config({"api_key": {"value": api_key, "header": api_key_header}})
    return None


@app.command(rich_help_panel=DELIVERY)
def sync(
    inputs: Annotated[list[Path], typer.Argument(help="Input files of the feed.")],
    mapping_path: Annotated[Path, typer.Option("--mapping", "-m", help="The mapping file.")],
    broker: Annotated[
        str, typer.Option("--broker", envvar="CONTEXTBRIDGE_BROKER", help="Orion-LD base URL.")
    ],
    tenant: Annotated[str | None, typer.Option(help="NGSILD-Tenant (multi-tenant brokers only).")] = None,
    state: State = Path(".contextbridge"),
    outbox_url: OutboxUrl = None,
    context: Annotated[
        str | None,
        typer.Option(help="@context URL, sent in a Link header; with {type} in it, one per entity type."),
    ] = None,
    options: Annotated[
        str | None,
        typer.Option(
            help="Upsert mode for every entity: update (merge attributes) or replace; "
            "default: the mapping's update (replace for files)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Entities per request.")] = DEFAULT_BATCH_SIZE,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = DEFAULT_CONCURRENCY,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 30.0,
    token: Annotated[
        str | None, typer.Option(envvar="CONTEXTBRIDGE_BROKER_TOKEN", help="Bearer token.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="CONTEXTBRIDGE_BROKER_API_KEY", help="API key.")
    ] = None,
    api_key_header: Annotated[str, typer.Option(help="Header of the API key.")] = "X-Api-Key",
    oauth: Annotated[
        str | None,
        typer.Option(envvar="CONTEXTBRIDGE_BROKER_OAUTH", help="OAuth2 client credentials: URL,ID,SECRET."),
    ] = None,
    ca: Annotated[Path | None, typer.Option(help="CA bundle to verify the broker's TLS certificate.")] = None,
    insecure: Annotated[bool, typer.Option(help="Do not verify TLS certificates.")] = False,
    keep_versions: Annotated[bool, typer.Option(help="Send every version, not only the latest.")] = False,
    resend: Annotated[bool, typer.Option(help="Send again entities the broker already has.")] = False,
    retry_initial: Annotated[float, typer.Option(help="First backoff, seconds.")] = 0.5,
    retry_max: Annotated[float, typer.Option(help="Longest backoff, seconds.")] = 60.0,
    output_format: Format = "table",
    ontology_paths: OntologyOption = None,
    constraints: ConstraintsOption = None,
) -> None:
    """Translate INPUT files and deliver the entities to Orion-LD through the durable outbox."""
    from ..delivery.drainer import Drainer, DrainSettings
    from ..language.mapping import load_mapping
    from ..language.translator import Translator
    from ..remote.retry import RetryPolicy
    from ..sinks.broker import BrokerClient, BrokerUrl
    from ..sinks.broker.client import OPTIONS

    BrokerUrl(broker)  # a malformed URL stops here, before anything is translated or queued
    mapping = with_ontologies(load_mapping(mapping_path), ontology_paths)
    if options not in (None, "update", "replace"):
        raise ConfigError(f"--options: {options!r} is not update or replace")
    policy = mapping.policy("file")
    if options is not None:
        policy = dataclasses.replace(policy, merge=options == "update")
    auth = _auth(token, api_key, api_key_header, oauth.split(",") if oauth else [])
    verify: bool | str = False if insecure else (str(ca) if ca else True)
    settings = DrainSettings(
        batch_size=batch_size,
        concurrency=concurrency,
        retry=RetryPolicy(initial=retry_initial, maximum=retry_max, jitter=min(1.0, retry_initial)),
    )
    console = Console(stderr=True)
    totals: dict[str, int] = {}
    broken: Counter[str] = Counter()  # Smart Data Models constraints broken (warn), by reason

    async def run(outbox: Outbox) -> DeliveryStats:
        translator = Translator(mapping, mode=constraints)
        chunk: list[dict[str, Any]] = []
        rejects: list[RecordError] = []

        async def flush() -> None:
            result = await outbox.put(chunk, tenant=tenant, feed=mapping.id, policy=policy)
            await outbox.reject(rejects, feed=mapping.id, tenant=tenant)
            for key, value in (("queued", result.queued), ("superseded", result.superseded),
                               ("unchanged", result.unchanged), ("merged", result.merged),
                               ("stale", result.stale)):  # fmt: skip
                totals[key] = totals.get(key, 0) + value
            chunk.clear()
            rejects.clear()

        for path in inputs:
            with path.open("rb") as stream:
                for outcome in translator.translate_stream(stream, source=path.name):
                    (rejects if isinstance(outcome, RecordError) else chunk).append(outcome)  # type: ignore[arg-type]
                    if len(chunk) >= PUT_CHUNK:
                        await flush()
            await flush()
        totals.update(records=translator.stats.records, entities=translator.stats.entities)
        totals["rejected"] = translator.stats.rejected
        broken.update(translator.stats.warnings)
        client = BrokerClient(broker, tenant=tenant, auth=auth, context_url=context, options=OPTIONS[policy.update],
                              batch_size=batch_size, timeout=timeout, verify=verify)  # fmt: skip
        async with client:
            total = await outbox.pending(settings.sink)
            columns = (TextColumn("delivering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.fields[note]}"))  # fmt: skip
            with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
                task = bar.add_task("deliver", total=total, note="")

                def progress(stats: DeliveryStats) -> None:
                    done = stats.delivered + stats.dead_lettered + stats.superseded
                    note = f"retrying: {stats.last_error}" if stats.retries and stats.last_error else ""
                    bar.update(task, completed=done, note=note[:60])

                drainer = Drainer(outbox, client, settings, on_progress=progress)
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, drainer.stop)
                stats = await drainer.run()
            totals["pending"] = await outbox.pending(settings.sink)
        return stats

    location = outbox_url or state
    stats = _with_outbox(state, outbox_url, run, supersede=not keep_versions, skip_unchanged=not resend)
    summary = {
        **{key: totals.get(key, 0) for key in ("records", "entities", "rejected", "queued", "unchanged")},
        "delivered": stats.delivered,
        "superseded": totals.get("superseded", 0) + stats.superseded,
        "merged": totals.get("merged", 0),
        "stale": totals.get("stale", 0),
        "dead_lettered": stats.dead_lettered,
        "retries": stats.retries,
        "pending": totals.get("pending", 0),
        "constraints_broken": dict(broken),
    }
    if output_format == "json":
        typer.echo(orjson.dumps(summary).decode())
    else:
        echo_err(
            f"{mapping.id}: {summary['records']} records, {summary['entities']} entities, "
            f"{summary['rejected']} rejected → dead letters (translate); queued {summary['queued']}, "
            f"unchanged {summary['unchanged']}"
        )
        echo_err(
            f"delivered {summary['delivered']}, superseded {summary['superseded']}, merged {summary['merged']}, "
            f"stale {summary['stale']} (older than one stored: dlq list --type stale), dead-lettered {summary['dead_lettered']}, still pending {summary['pending']}"
            f" (outbox: {location})"
        )
        for reason, count in broken.most_common():
            echo_err(f"  constraint broken {count} × {reason}")
    if summary["pending"]:
        raise typer.Exit(3)  # stopped before the end: run again to finish


@outbox_app.command("status")
def outbox_status(
    state: State = Path(".contextbridge"), outbox_url: OutboxUrl = None, output_format: Format = "table"
) -> None:
    """Per sink: waiting, in flight, delivered, superseded, merged, stale, dead letters, age of the oldest entry."""
    rows = _with_outbox(state, outbox_url, lambda outbox: outbox.status())
    if output_format == "json":
        typer.echo(orjson.dumps([row.__dict__ for row in rows]).decode())
        return
    typer.echo(
        f"{'sink':<12}{'pending':>9}{'in flight':>11}{'delivered':>11}{'superseded':>12}{'merged':>8}{'stale':>7}"
        f"{'dead':>7}  oldest"
    )
    for row in rows:
        oldest = _time(row.oldest_pending) if row.oldest_pending else "-"
        typer.echo(
            f"{row.sink:<12}{row.pending:>9}{row.in_flight:>11}{row.delivered:>11}{row.superseded:>12}"
            f"{row.merged:>8}{row.stale:>7}{row.dead_letters:>7}  {oldest}"
        )


@dlq_app.command("list")
def dlq_list(
    sink: Annotated[str | None, typer.Option(help="Only this sink (broker, translate, ...).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    kind: Annotated[
        str | None,
        typer.Option(
            "--type", help="Only this reason type (a ProblemDetails type URI; 'stale': stale versions)."
        ),
    ] = None,
    state: State = Path(".contextbridge"),
    outbox_url: OutboxUrl = None,
    output_format: Format = "table",
) -> None:
    """Dead letters, oldest first: id, sink, entity (or record), reason."""
    from ..outbox import DeadLetterFilter
    from ..outbox.ordering import STALE

    where = DeadLetterFilter(type=STALE if kind == "stale" else kind) if kind else None
    letters = _with_outbox(
        state,
        outbox_url,
        lambda outbox: outbox.dead_letters(sink=sink, limit=limit, offset=offset, where=where),
    )
    if output_format == "json":
        typer.echo(
            orjson.dumps(
                [{k: v for k, v in letter.__dict__.items() if k != "data"} for letter in letters]
            ).decode()
        )
        return
    for letter in letters:
        reason = letter.reason
        kind = str(reason.get("type", "")).rsplit("/", 1)[-1]
        what = letter.entity_id or f"{reason.get('source', '')} record {reason.get('record', '?')}"
        detail = reason.get("detail") or reason.get("title") or ""
        typer.echo(
            f"{letter.id:>6}  {letter.sink:<10} {what}  {kind}: {detail}  ×{letter.attempts}  {_time(letter.last_attempt)}"
        )


@dlq_app.command("show")
def dlq_show(
    dead_letter_id: Annotated[int, typer.Argument(help="The dead letter's id (from dlq list).")],
    state: State = Path(".contextbridge"),
    outbox_url: OutboxUrl = None,
) -> None:
    """One dead letter in full: the entity or record, the reason, the attempts (JSON)."""
    letter = _with_outbox(state, outbox_url, lambda outbox: outbox.dead_letter_entry(dead_letter_id))
    if letter is None:
        echo_err(f"no dead letter {dead_letter_id}")
        raise typer.Exit(1)
    typer.echo(orjson.dumps(letter.__dict__, option=orjson.OPT_INDENT_2).decode())


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids; none: all of --sink.")] = None,
    sink: Annotated[str | None, typer.Option(help="Replay this sink's dead letters.")] = None,
    force: Annotated[
        bool, typer.Option(help="Replay even over newer versions the sink has received.")
    ] = False,
    state: State = Path(".contextbridge"),
    outbox_url: OutboxUrl = None,
    output_format: Format = "table",
) -> None:
    """Put dead letters back in the outbox (after fixing the cause); the next sync delivers them."""
    if not ids and not sink:
        raise ConfigError("dlq replay: name dead letter ids or a --sink")
    result = _with_outbox(
        state, outbox_url, lambda outbox: outbox.replay(ids or None, sink=sink, force=force)
    )
    if output_format == "json":
        typer.echo(orjson.dumps(result.__dict__).decode())
        return
    echo_err(
        f"replayed {result.replayed}; stale {result.stale} (newer versions delivered since: --force to send)"
        f"; skipped {result.skipped} (rejected records: fix the mapping and sync the feed again)"
    )


@dlq_app.command("purge")
def dlq_purge(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids.")] = None,
    sink: Annotated[str | None, typer.Option(help="Purge this sink's dead letters.")] = None,
    purge_all: Annotated[bool, typer.Option("--all", help="Purge every dead letter.")] = False,
    state: State = Path(".contextbridge"),
    outbox_url: OutboxUrl = None,
) -> None:
    """Delete dead letters for good (ids, a --sink's, or --all)."""
    if not ids and not sink and not purge_all:
        raise ConfigError("dlq purge: name dead letter ids, a --sink, or --all")
    count = _with_outbox(state, outbox_url, lambda outbox: outbox.purge(ids or None, sink=sink))
    echo_err(f"purged {count} dead letters")


def _time(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
