"""API keys kept in the state directory, beside those of the configuration (``service.api_keys``).

    >>> store = KeyStore(Path(".contextbridge"))                  # .contextbridge/keys.sqlite3
    >>> key, secret = store.create("analysts", tenants=frozenset({"santander"}))
    >>> secret                                                    # 'cb_…': shown once, never kept
    >>> store.find(digest(secret))                                # ApiKey(name='analysts', ...)
    >>> store.revoke("analysts")

A key is a random token of 256 bits (``secrets.token_urlsafe``). Only its SHA-256 digest is kept:
for a token that cannot be guessed, a fast digest is as safe as a slow password hash (there is
nothing to try a dictionary on), and it lets the service find a key by its digest at each request,
so that a key revoked is refused at the next request. The first characters of the token (its
``prefix``) are kept too, to tell keys apart in ``contextbridge keys list``.

``console_key`` is the admin key ``contextbridge serve`` makes when no key is configured and it
listens on loopback (a developer's machine): kept in ``console.key`` (mode 0600) in the state
directory, so that a restart keeps the console's URL.

The table is in ``keys.sqlite3``, opened as every SQLite store is (``contextbridge.storage.database``);
reading never creates it (a service with no stored key touches nothing).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..runtime.config import ApiKey
from ..sinks.graph.base import DEFAULT_TENANT, tenant_graph
from .database import open_sqlite

FILE = "keys.sqlite3"
CONSOLE_FILE = "console.key"
TOKEN_PREFIX = "cb_"
SHOWN = 10  # characters of a token kept (and listed) to tell keys apart: "cb_" and 7 of 43 random ones
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # as service.api_keys names
DDL = (
    "CREATE TABLE IF NOT EXISTS api_keys (name TEXT PRIMARY KEY, prefix TEXT NOT NULL,"
    " digest BLOB NOT NULL UNIQUE, tenants TEXT, write INTEGER NOT NULL, created REAL NOT NULL)"
)


def digest(secret: str) -> bytes:
    """The SHA-256 digest of a key, as kept and as the service compares it."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class StoredKey:
    """What is kept of a key: its name, prefix, tenants (``None``: all), right to write, creation time."""

    name: str
    prefix: str
    tenants: frozenset[str] | None
    write: bool
    created: float

    def api_key(self) -> ApiKey:
        """The key as the service's ``Authenticator`` uses it (the secret is not known: empty)."""
        return ApiKey(self.name, "", self.tenants, self.write)

    def document(self) -> dict[str, object]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "tenants": "*" if self.tenants is None else sorted(self.tenants),
            "write": self.write,
            "created": self.created,
        }


class KeyStore:
    """The keys of a state directory. Connects on first use; reads of a missing file find nothing."""

    def __init__(self, state: Path) -> None:
        self.path = state / FILE
        self._connection: sqlite3.Connection | None = None

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        if self._connection is None and (create or self.path.exists()):
            connection = open_sqlite(self.path.parent, FILE)
            with connection:
                connection.execute(DDL)
            self._connection = connection
        return self._connection

    def create(
        self, name: str, *, tenants: frozenset[str] | None = frozenset({DEFAULT_TENANT}), write: bool = False
    ) -> tuple[StoredKey, str]:
        """A new key ``name``: what is kept of it, and the secret (to show once)."""
        if not NAME.match(name):
            raise ConfigError(f"key name {name!r}: up to 64 letters, digits, '_', '-', '.'", key="name")
        for tenant in tenants or ():
            tenant_graph(tenant)  # refuses an invalid tenant name
        secret = new_token()
        key = StoredKey(name, secret[:SHOWN], tenants, write, time.time())
        connection = self._connect(create=True)
        assert connection is not None
        try:
            with connection:
                connection.execute(
                    "INSERT INTO api_keys (name, prefix, digest, tenants, write, created) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, key.prefix, digest(secret), _tenants_text(tenants), int(write), key.created),
                )
        except sqlite3.IntegrityError:
            raise ConfigError(f"a key named {name!r} exists (revoke it first)", key="name") from None
        return key, secret

    def list(self) -> list[StoredKey]:
        connection = self._connect(create=False)
        if connection is None:
            return []
        rows = connection.execute(
            "SELECT name, prefix, tenants, write, created FROM api_keys ORDER BY name"
        ).fetchall()
        return [_stored(row) for row in rows]

    def revoke(self, name: str) -> bool:
        """Forget key ``name``; False when there is none."""
        connection = self._connect(create=False)
        if connection is None:
            return False
        with connection:
            return bool(connection.execute("DELETE FROM api_keys WHERE name = ?", (name,)).rowcount)

    def find(self, key_digest: bytes) -> ApiKey | None:
        """The key whose digest is ``key_digest`` (a point look-up in the index of digests)."""
        connection = self._connect(create=False)
        if connection is None:
            return None
        row = connection.execute(
            "SELECT name, prefix, tenants, write, created FROM api_keys WHERE digest = ?", (key_digest,)
        ).fetchone()
        return _stored(row).api_key() if row else None

    def count(self) -> int:
        connection = self._connect(create=False)
        if connection is None:
            return 0
        (found,) = connection.execute("SELECT COUNT(*) FROM api_keys").fetchone()
        return int(found)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _tenants_text(tenants: frozenset[str] | None) -> str | None:
    return None if tenants is None else json.dumps(sorted(tenants))


def _stored(row: tuple[Any, ...]) -> StoredKey:
    name, prefix, tenants, write, created = row
    allowed = None if tenants is None else frozenset(json.loads(tenants))
    return StoredKey(name, prefix, allowed, bool(write), created)


def console_key(state: Path) -> str:
    """The admin key of ``serve`` on loopback without a configured key: the one kept in
    ``state/console.key``, or a new one written there (readable by its owner only)."""
    path = state / CONSOLE_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if len(kept) >= 16:  # as any configured key
        return kept
    state.mkdir(parents=True, exist_ok=True)
    secret = new_token()
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret
