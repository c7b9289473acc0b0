"""The lookups of one mapping: their tables, their sources, and the refresher of remote ones.

    >>> lookups = mapping.lookups                  # built by load_mapping; files already loaded
    >>> lookups.ensure_loaded()                    # remote tables (HTTP, SQL): first fetch, blocking
    >>> lookups.start_refresh()                    # one daemon thread: re-fetch each on its interval
    >>> ...                                        # translate as usual: reads never wait
    >>> lookups.stop()

The refresher is a thread rather than an asyncio task so that the synchronous translator, the
command line and the asyncio service all drive it the same way: the service calls
``start_refresh()`` at startup and ``stop()`` at shutdown, nothing runs on its event loop. A
reload fetches and indexes the new rows aside and swaps the table whole; a failed reload (the
server down, a bad row, too many rows) keeps the old table, and is logged and kept in
``status()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ...errors import ConfigError, ContextBridgeError
from .base import LookupSource
from .table import LookupTable

log = logging.getLogger("contextbridge.language.lookups")


@dataclass(frozen=True)
class LookupStatus:
    """What one table holds and how its last reload went (for health pages and metrics)."""

    name: str
    source: str
    rows: int
    version: int
    reloads: int
    failures: int
    last_error: str | None
    loaded_at: float | None  # time.time() of the last swap


@dataclass
class _Entry:
    table: LookupTable
    source: LookupSource
    reloads: int = 0
    failures: int = 0
    last_error: str | None = None
    loaded_at: float | None = None
    due: float = 0.0  # time.monotonic() of the next refresh


class LookupSet:
    """Named lookup tables with their sources; iterating gives the names."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()  # one reload at a time per set (readers never take it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, table: LookupTable, source: LookupSource) -> None:
        self._entries[table.name] = _Entry(table, source)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def use_tenant(self, tenant: str) -> None:
        """The tables read ``tenant``'s data where their source has tenants (the device registry)."""
        for entry in self._entries.values():
            entry.source.use_tenant(tenant)

    def table(self, name: str) -> LookupTable:
        return self._entries[name].table

    def reload(self, name: str) -> bool:
        """Fetch ``name`` now and swap it in; True if its rows changed. Raises ContextBridgeError
        (the table kept as it was) when the fetch or the indexing fails."""
        entry = self._entries[name]
        with self._lock:
            try:
                if entry.table.unknown:  # on_miss: register — the source adds them before reading
                    unknown, entry.table.unknown = entry.table.unknown, set()
                    entry.source.register(unknown)
                rows = entry.source.fetch()
                if rows is not None:
                    entry.table.replace(rows)
            except ContextBridgeError as error:
                entry.failures += 1
                entry.last_error = str(error)
                raise
            entry.reloads += 1
            entry.last_error = None
            if rows is None:
                return False
            entry.loaded_at = time.time()
            return True

    def load_files(self) -> dict[str, ConfigError]:
        """Load every file table (at mapping load); the errors by lookup name, for the compiler to locate."""
        errors: dict[str, ConfigError] = {}
        for name, entry in self._entries.items():
            if not entry.source.remote:
                try:
                    self.reload(name)
                except ConfigError as error:
                    errors[name] = error
        return errors

    def ensure_loaded(self) -> None:
        """Fetch every remote table not loaded yet (blocking); ConfigError names the lookup that failed."""
        for name, entry in self._entries.items():
            if entry.table.version == 0:
                try:
                    self.reload(name)
                except ContextBridgeError as error:
                    raise ConfigError(
                        f"lookup {name!r} ({entry.source.describe()}) could not be loaded: {error}",
                        key=f"lookups.{name}",
                    ) from error

    @property
    def remote(self) -> list[str]:
        return [name for name, entry in self._entries.items() if entry.source.remote]

    def start_refresh(self) -> None:
        """Start the refresher thread for the remote tables (no-op without any, or if running)."""
        if self._thread is not None or not self.remote:
            return
        self._stop.clear()
        now = time.monotonic()
        for name in self.remote:
            entry = self._entries[name]
            entry.due = now + (entry.source.interval or 0.0)
        self._thread = threading.Thread(target=self._refresh_loop, name="lookup-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the refresher; a fetch in flight finishes (bounded by its own timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            waits = []
            for name in self.remote:
                entry = self._entries[name]
                interval = entry.source.interval
                if not interval:
                    continue
                if entry.due <= now:
                    try:
                        changed = self.reload(name)
                        log.debug("lookup %s refreshed (%s)", name, "changed" if changed else "unchanged")
                    except ContextBridgeError as error:
                        log.warning(
                            "lookup %s: reload failed, keeping %d rows: %s", name, len(entry.table), error
                        )
                    except Exception as error:  # a bug must not end the refreshes of every table
                        entry.failures += 1
                        entry.last_error = f"unexpected {type(error).__name__}: {error}"
                        log.exception("lookup %s: reload failed, keeping %d rows", name, len(entry.table))
                    entry.due = time.monotonic() + interval
                waits.append(entry.due - time.monotonic())
            if not waits:
                return
            self._stop.wait(max(0.01, min(waits)))

    def status(self) -> Mapping[str, LookupStatus]:
        return {
            name: LookupStatus(
                name,
                entry.source.describe(),
                len(entry.table),
                entry.table.version,
                entry.reloads,
                entry.failures,
                entry.last_error,
                entry.loaded_at,
            )
            for name, entry in self._entries.items()
        }

    def __repr__(self) -> str:
        return f"<LookupSet {', '.join(self._entries) or 'empty'}>"
