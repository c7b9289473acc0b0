"""Mistakes get a clear answer on one line, naming the place, never a traceback: a missing golden
sample, a broker URL without a scheme, SPARQL errors at the author's line and column, an unknown
prefix, a query file that does not exist."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from contextbridge import BrokerClient, ConfigError, QueryError
from contextbridge.cli import main
from contextbridge.runtime.config import ApiKey, ServiceConfig
from contextbridge.service import Service, create_app
from contextbridge.service.app import lifespan
from contextbridge.sinks.broker import BrokerUrl
from contextbridge.sinks.graph import EmbeddedStore
from contextbridge.sinks.graph.sparql import ask, check_prefixes

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "mappings" / "santander-air-quality.yaml"
INPUT = ROOT / "examples" / "santander" / "air-quality.csv"


def contextbridge(monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str) -> tuple[int, str, str]:
    """``contextbridge ARGS`` as the installed script runs it: exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["contextbridge", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(exit_.value.code or 0), out, err


@pytest.fixture
def moved_mapping(tmp_path: Path) -> Path:
    """The air-quality mapping copied elsewhere: its sample paths (relative to it) lead nowhere."""
    path = tmp_path / "air.yaml"
    path.write_text(MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def sample_line(path: Path) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if "input:" in line)


def test_test_names_the_mapping_line_and_path_of_a_missing_sample(
    moved_mapping: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    code, out, _ = contextbridge(monkeypatch, capsys, "test", str(moved_mapping))
    line = sample_line(moved_mapping)
    assert code == 1
    assert f"{moved_mapping}:{line}: samples[0].input: no such file: " in out
    assert "../examples/santander/air-quality.csv" in out and "1 samples, 1 failed" in out
    assert f"{moved_mapping}: air-quality.csv: FAILED\n" in out  # it did not run: no count of rejects


def test_check_reports_missing_sample_files(
    moved_mapping: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    code, out, err = contextbridge(monkeypatch, capsys, "check", str(moved_mapping))
    line = sample_line(moved_mapping)
    assert code == 1 and "1 mappings checked, 2 problems" in err
    assert f"{moved_mapping}:{line}: samples[0].input: no such file" in out
    assert f"{moved_mapping}:{line}: samples[0].expected: no such file" in out and "--update" in out
    assert contextbridge(monkeypatch, capsys, "check", str(MAPPING))[0] == 0  # in place, all there


def test_a_broker_url_is_checked_in_one_place() -> None:
    assert str(BrokerUrl("http://orion:1026/")) == "http://orion:1026"
    assert str(BrokerUrl("https://orion.example/ngsi")) == "https://orion.example/ngsi"
    for bad, said in (
        ("127.0.0.1:9", "no http:// or https:// scheme (did you mean 'http://127.0.0.1:9'?)"),
        ("localhost:1026", "did you mean 'http://localhost:1026'?"),
        ("ftp://orion", "no http:// or https:// scheme"),
        ("http://", "names no host"),
        ("http://orion:port", "is not a URL"),
        ("http://orion:1026/?x=1", "base URL only"),
    ):
        with pytest.raises(
            ConfigError, match=said.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
        ):
            BrokerUrl(bad)
    with pytest.raises(ConfigError, match="scheme"):
        BrokerClient("orion:1026")


def test_sync_refuses_a_broker_url_without_a_scheme_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    started = time.monotonic()
    code, _, err = contextbridge(
        monkeypatch, capsys, "sync", "-m", str(MAPPING), str(INPUT), "--broker", "127.0.0.1:9",
        "--state", str(tmp_path / "state"),
    )  # fmt: skip
    assert code == 1 and time.monotonic() - started < 10  # no retries
    assert err.strip() == (
        "error: broker URL '127.0.0.1:9' has no http:// or https:// scheme (did you mean 'http://127.0.0.1:9'?)"
    )
    assert not (tmp_path / "state").exists()  # nothing translated, nothing queued


QUERY = """\
PREFIX parking: <https://smartdatamodels.org/dataModel.Parking/>
SELECT ?spot
WHERE {
  ?spot a parking:ParkingSpot ;
        ngsi-ld:status ?status
}"""


def test_sparql_errors_are_at_the_authors_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    state = str(tmp_path / "state")
    broken = QUERY.replace("?status\n}", "\n}")  # the object is missing: the error is at "}" (line 6)
    code, _, err = contextbridge(monkeypatch, capsys, "sparql", broken, "--state", state)
    assert code == 1 and err.startswith("error: invalid SPARQL query: line 6, column 1: expected one of ")
    assert "['" not in err  # not the parser's character classes
    code, _, err = contextbridge(
        monkeypatch, capsys, "sparql", QUERY.replace("ngsi-ld:", "ngsild:"), "--state", state
    )
    assert code == 1
    assert err.strip() == (
        "error: invalid SPARQL query: line 5, column 9: unknown prefix 'ngsild:' (declared: geo:, ngsi-ld:,"
        " owl:, parking:, rdf:, rdfs:, sosa:, xsd:)"
    )
    assert contextbridge(monkeypatch, capsys, "sparql", QUERY, "--state", state)[0] == 0


def test_a_query_file_that_does_not_exist_is_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for name in ("queries/missing.rq", "missing.sparql", str(tmp_path / "nope.rq")):
        code, _, err = contextbridge(monkeypatch, capsys, "sparql", name, "--state", str(tmp_path))
        assert (
            code == 1
            and err.strip() == f"error: no such file: {name} (give a SPARQL query, or a file holding one)"
        )
    code, _, err = contextbridge(monkeypatch, capsys, "sparql", "SELECT", "--state", str(tmp_path))
    assert code == 1 and err.startswith("error: invalid SPARQL query: line 1")  # a word is a (bad) query
    (tmp_path / "q.rq").write_text("ASK { ?s ?p ?o }")
    code, out, _ = contextbridge(
        monkeypatch, capsys, "sparql", str(tmp_path / "q.rq"), "--state", str(tmp_path)
    )
    assert code == 0 and "false" in out


def test_prefixes_declared_by_the_query_or_common_are_known() -> None:
    check_prefixes("PREFIX : <x:> PREFIX a.b: <y:> SELECT * { ?s :p ?o ; a.b:q _:n ; rdf:type owl:Class }")
    check_prefixes('SELECT * { ?s <http://x/a:b> "foo:bar" } # bar:baz in a comment')
    with pytest.raises(QueryError, match=r"line 1, column 12: unknown prefix ':'"):
        check_prefixes("SELECT * { :s ?p ?o }")


def test_the_sparql_endpoint_reports_at_the_authors_line_too() -> None:
    key = "endpoint-key-0123456789"

    async def main() -> list[str]:
        store = EmbeddedStore(None)
        app = create_app(Service(settings=ServiceConfig(api_keys=(ApiKey("k", key),)), store=store))
        answers = []
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
        ):
            for query in ("SELECT *\nWHERE { ?s ?p }", "ASK {\n ?s foo:p ?o }"):
                answer = await client.post("/sparql", data={"query": query}, headers={"X-API-Key": key})
                assert answer.status_code == 400
                answers.append(answer.json()["detail"])
            assert (await ask(store, "ASK { ?s sosa:x ?o }", tenant=None)).boolean is False
        await store.close()
        return answers

    syntax, prefix = asyncio.run(main())
    assert re.match(r"invalid SPARQL query: line 2, column \d+: expected ", syntax), syntax
    assert prefix.startswith("invalid SPARQL query: line 2, column 5: unknown prefix 'foo:' (declared: geo:,")
