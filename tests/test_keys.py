"""API keys kept in the state directory (``contextbridge keys``), the service's answers to refused
keys, and the console key ``serve`` makes on loopback when none is configured."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import Served
from typer.testing import CliRunner

from contextbridge import Config, ConfigError
from contextbridge.cli import app
from contextbridge.cli.service import _with_console_key, console_url, loopback
from contextbridge.runtime.config import ApiKey, ServiceConfig
from contextbridge.service import Service, create_app
from contextbridge.service.app import lifespan
from contextbridge.sinks.graph import EmbeddedStore
from contextbridge.storage.keystore import CONSOLE_FILE, FILE, KeyStore, console_key, digest

CONFIGURED = "configured-key-0123456789"


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


# --- the store ----------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_kept_as_its_digest(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    key, secret = store.create("analysts", tenants=frozenset({"santander"}))
    assert secret.startswith("cb_") and len(secret) >= 43 and key.prefix == secret[:10]
    rows = sqlite3.connect(tmp_path / FILE).execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) == 1 and secret not in repr(rows) and digest(secret) in rows[0]
    found = store.find(digest(secret))
    assert found == ApiKey("analysts", "", frozenset({"santander"}), write=False)
    assert store.find(digest(secret + "x")) is None
    assert [k.name for k in store.list()] == ["analysts"] and store.count() == 1
    assert store.revoke("analysts") and not store.revoke("analysts")
    assert store.find(digest(secret)) is None
    store.close()


def test_reading_a_state_without_keys_creates_nothing(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "state")
    assert store.list() == [] and store.count() == 0 and store.find(b"x" * 32) is None
    assert not store.revoke("x")
    assert not (tmp_path / "state").exists()


def test_bad_names_tenants_and_twins_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    with pytest.raises(ConfigError, match="key name 'a b'"):
        store.create("a b")
    with pytest.raises(ConfigError, match="invalid tenant name 'no way'"):
        store.create("x", tenants=frozenset({"no way"}))
    store.create("x")
    with pytest.raises(ConfigError, match="a key named 'x' exists"):
        store.create("x")
    store.close()


def test_the_console_key_is_kept_for_the_next_run_and_private(tmp_path: Path) -> None:
    first = console_key(tmp_path / "state")
    assert first.startswith("cb_") and console_key(tmp_path / "state") == first
    mode = stat.S_IMODE(os.stat(tmp_path / "state" / CONSOLE_FILE).st_mode)
    assert mode == 0o600


# --- the command line ---------------------------------------------------------------------------


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    made = cli("keys", "create", "ops", "--tenant", "*", "--write", "--state", state)
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("cb_") and "not shown again" in made.stderr
    assert cli("keys", "create", "reader", "--tenant", "santander", "--state", state).exit_code == 0
    listed = cli("keys", "list", "--state", state)
    assert listed.exit_code == 0 and secret not in listed.output
    assert [line.split("\t")[:4] for line in listed.stdout.splitlines()] == [
        ["ops", secret[:10] + "…", "write", "*"],
        ["reader", listed.stdout.splitlines()[1].split("\t")[1], "read", "santander"],
    ]
    documents = json.loads(cli("keys", "list", "--format", "json", "--state", state).stdout)
    assert [(d["name"], d["tenants"], d["write"]) for d in documents] == [
        ("ops", "*", True),
        ("reader", ["santander"], False),
    ]
    assert cli("keys", "revoke", "ops", "--state", state).exit_code == 0
    gone = cli("keys", "revoke", "ops", "--state", state)
    assert gone.exit_code == 1 and "no key named 'ops'" in gone.stderr
    twice = cli("keys", "create", "x", "--tenant", "*", "--tenant", "a", "--state", state)
    assert twice.exit_code == 1 and "every tenant" in str(twice.exception)


# --- the service --------------------------------------------------------------------------------


def ask(service: Service, key: str | None, tenant: str | None = None) -> httpx.Response:
    async def main() -> httpx.Response:
        app = create_app(service)
        sent = {"X-API-Key": key} if key else {}
        if tenant:
            sent["NGSILD-Tenant"] = tenant
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
        ):
            return await client.get("/sparql", params={"query": "ASK {}"}, headers=sent)

    return asyncio.run(main())


def service(state: Path, *keys: ApiKey) -> Service:
    return Service(settings=ServiceConfig(api_keys=keys), store=EmbeddedStore(None), state_dir=state)


def test_refused_keys_say_why(tmp_path: Path) -> None:
    for sent in (None, "some-key-0123456789"):
        answer = ask(service(tmp_path), sent)
        assert answer.status_code == 401
        assert answer.json()["detail"] == "no key is configured: see docs/service.md"
    configured = service(tmp_path, ApiKey("ops", CONFIGURED))
    assert ask(configured, "some-key-0123456789").json()["detail"] == "this key is not valid"
    assert ask(configured, None).json()["detail"] == "an API key is needed (X-API-Key)"


def test_the_service_takes_stored_keys_beside_configured_ones(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    _, porto = store.create("porto", tenants=frozenset({"porto"}))
    assert ask(service(tmp_path), porto, "porto").status_code == 200  # the only key: a stored one
    both = service(tmp_path, ApiKey("ops", CONFIGURED))
    assert ask(both, porto, "porto").status_code == 200 and ask(both, CONFIGURED).status_code == 200
    refused = ask(both, porto, "santander")
    assert refused.status_code == 403 and "'porto' may not use tenant 'santander'" in refused.json()["detail"]
    store.revoke("porto")  # refused from the next request, without a restart
    assert ask(both, porto, "porto").json()["detail"] == "this key is not valid"
    store.close()


# --- serve on loopback ----------------------------------------------------------------------------


def test_the_console_url_carries_the_key_in_its_fragment() -> None:
    assert console_url("127.0.0.1", 8080, "cb_x") == "http://127.0.0.1:8080/#key=cb_x"
    assert console_url("::1", 8080, "cb_x") == "http://[::1]:8080/#key=cb_x"
    assert [loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost")] == [True] * 4
    assert [loopback(h) for h in ("0.0.0.0", "10.1.2.3", "::", "example.org")] == [False] * 4


def test_no_console_key_when_keys_exist_or_off_loopback(tmp_path: Path, capsys: Any) -> None:
    bare = Config(path=tmp_path / "c.yaml", feeds=())
    assert _with_console_key(bare, tmp_path / "a", "0.0.0.0", 8080) is bare
    assert "contextbridge keys create NAME" in capsys.readouterr().err
    assert not (tmp_path / "a" / CONSOLE_FILE).exists()
    KeyStore(tmp_path / "b").create("ops")
    assert _with_console_key(bare, tmp_path / "b", "127.0.0.1", 8080) is bare
    keyed = Config(
        path=tmp_path / "c.yaml", feeds=(), service=ServiceConfig(api_keys=(ApiKey("o", CONFIGURED),))
    )
    assert _with_console_key(keyed, tmp_path / "c", "127.0.0.1", 8080) is keyed
    assert not (tmp_path / "b" / CONSOLE_FILE).exists() and not (tmp_path / "c").exists()


def printed_key(served: Served) -> str:
    """The key of the console URL that ``serve`` printed on stderr (before it took requests)."""
    assert served.process.stderr is not None
    for _ in range(50):
        line = served.process.stderr.readline().decode()
        if "/#key=" in line:
            url = line.strip()
            assert url.startswith(served.url + "/#key=cb_"), url
            return url.split("#key=", 1)[1]
    raise AssertionError("serve printed no console URL")


def test_serve_without_a_key_on_loopback_prints_a_console_url_kept_across_restarts(tmp_path: Path) -> None:
    config = tmp_path / "contextbridge.yaml"
    config.write_text("service: {port: 8080}\n", encoding="utf-8")
    keys = []
    for _ in range(2):
        served = Served(config, tmp_path / "state", {})
        try:
            key = printed_key(served)
            keys.append(key)
            answer = httpx.get(served.url + "/status", headers={"X-API-Key": key})
            assert answer.status_code == 200, answer.text
            refused = httpx.get(served.url + "/status", headers={"X-API-Key": "cb_wrong-0123456789"})
            assert refused.json()["detail"] == "this key is not valid"
        finally:
            code, stderr = served.stop()
        assert code == 0, stderr
    assert keys[0] == keys[1]
    assert (tmp_path / "state" / CONSOLE_FILE).read_text().strip() == keys[0]
