"""``/sparql`` under generated queries: whatever shape a query takes (built from SPARQL 1.1's
grammar: forms, patterns, expressions, functions known and unknown, modifiers; and the same
text cut or spliced), the answer is a result or a ProblemDetails, never a 500."""

from __future__ import annotations

import httpx
from fuzz import FUZZ
from hypothesis import given, settings
from hypothesis import strategies as st
from test_service import EVERYWHERE, assert_problem, headers, notify, run, weather

# -- the grammar, as strategies ------------------------------------------------------------------

VARIABLES = st.sampled_from(["?s", "?p", "?o", "?x", "?n", "?g", "$v"])
IRIS = st.sampled_from(
    [
        "<urn:a>",
        "<https://smartdatamodels.org/dataModel.Weather/temperature>",
        "<https://uri.etsi.org/ngsi-ld/hasValue>",
        "rdf:type",
        "a",
        "<urn:contextbridge:tenant:santander>",
    ]
)
LITERALS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(['"x"', '"x"@en', '"1"^^xsd:integer', '"bad"^^xsd:dateTime', "true", '""', "1e400"]),
    st.text(max_size=8).map(lambda text: '"' + text.replace("\\", "").replace('"', "") + '"'),
)
TERMS = st.one_of(VARIABLES, IRIS, LITERALS)
# Known functions, casts, and calls of IRIs that name no function at all.
FUNCTIONS = st.sampled_from(
    [
        "STR", "LANG", "DATATYPE", "IRI", "BNODE", "ABS", "CEIL", "ROUND", "STRLEN", "UCASE",
        "CONTAINS", "STRSTARTS", "CONCAT", "SUBSTR", "REGEX", "REPLACE", "COALESCE", "IF",
        "sameTerm", "isIRI", "YEAR", "NOW", "MD5", "SHA256", "STRDT", "STRLANG", "TZ",
        "xsd:integer", "xsd:double", "xsd:dateTime", "xsd:boolean",
        "<urn:f>", "<http://example.org/fn#unknown>", "geof:distance", "<urn:contextbridge:nothing>",
    ]
)  # fmt: skip
OPERATORS = st.sampled_from(["+", "-", "*", "/", "=", "!=", "<", ">=", "&&", "||"])


def expressions(depth: int = 2) -> st.SearchStrategy[str]:
    if depth == 0:
        return TERMS
    inner = expressions(depth - 1)
    return st.one_of(
        TERMS,
        st.builds(lambda f, args: f"{f}({', '.join(args)})", FUNCTIONS, st.lists(inner, max_size=3)),
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, OPERATORS, inner),
        st.builds(lambda a: f"!{a}", inner),
        st.builds(lambda a, items: f"{a} IN ({', '.join(items)})", inner, st.lists(inner, max_size=3)),
        st.builds(lambda v: f"BOUND({v})", VARIABLES),
        st.builds(lambda p: f"EXISTS {{ {p} }}", st.builds(_triple, TERMS, TERMS, TERMS)),
    )


def _triple(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} ."


TRIPLES = st.builds(_triple, st.one_of(VARIABLES, IRIS), st.one_of(VARIABLES, IRIS), TERMS)


def patterns(depth: int = 2) -> st.SearchStrategy[str]:
    if depth == 0:
        return TRIPLES
    inner = patterns(depth - 1)
    return st.one_of(
        TRIPLES,
        st.builds(lambda a, b: f"{a} {b}", inner, inner),
        st.builds(lambda a: f"OPTIONAL {{ {a} }}", inner),
        st.builds(lambda a, b: f"{{ {a} }} UNION {{ {b} }}", inner, inner),
        st.builds(lambda a, b: f"{a} MINUS {{ {b} }}", inner, inner),
        st.builds(lambda a, e: f"{a} FILTER({e})", inner, expressions()),
        st.builds(lambda a, e, v: f"{a} BIND({e} AS {v})", inner, expressions(), VARIABLES),
        st.builds(lambda g, a: f"GRAPH {g} {{ {a} }}", st.one_of(VARIABLES, IRIS), inner),
        st.builds(
            lambda v, items: f"VALUES {v} {{ {' '.join(items)} }}", VARIABLES, st.lists(TERMS, max_size=3)
        ),
        st.builds(lambda a: f"{{ SELECT * WHERE {{ {a} }} LIMIT 3 }}", inner),
    )


def projections() -> st.SearchStrategy[str]:
    item = st.one_of(
        VARIABLES,
        st.builds(lambda e, v: f"({e} AS {v})", expressions(), VARIABLES),
        st.builds(
            lambda f, v: f"({f}(?o) AS {v})",
            st.sampled_from(["COUNT", "SUM", "MAX", "SAMPLE", "AVG"]),
            VARIABLES,
        ),
    )
    return st.one_of(st.just("*"), st.lists(item, min_size=1, max_size=3).map(" ".join))


MODIFIERS = st.lists(
    st.one_of(
        st.builds(lambda e: f"ORDER BY {e}", expressions(1)),
        st.builds(lambda e: f"ORDER BY DESC({e})", expressions(1)),
        st.builds(lambda v: f"GROUP BY {v}", VARIABLES),
        st.builds(lambda e: f"HAVING ({e})", expressions(1)),
        st.integers(-2, 10**12).map(lambda n: f"LIMIT {n}"),
        st.integers(-2, 10**12).map(lambda n: f"OFFSET {n}"),
    ),
    max_size=3,
).map(" ".join)

QUERIES = st.one_of(
    st.builds(
        lambda d, p, w, m: f"SELECT {d}{p} WHERE {{ {w} }} {m}",
        st.sampled_from(["", "DISTINCT ", "REDUCED "]),
        projections(),
        patterns(),
        MODIFIERS,
    ),
    st.builds(lambda w: f"ASK {{ {w} }}", patterns()),
    st.builds(lambda t, w, m: f"CONSTRUCT {{ {t} }} WHERE {{ {w} }} {m}", TRIPLES, patterns(), MODIFIERS),
    st.builds(lambda t, w: f"DESCRIBE {t} WHERE {{ {w} }}", st.one_of(VARIABLES, IRIS), patterns()),
)
# The same shapes, damaged: cut anywhere, or with a piece of another query spliced in.
DAMAGED = st.one_of(
    st.builds(lambda q, cut: q[: cut % (len(q) + 1)], QUERIES, st.integers(0, 10_000)),
    st.builds(lambda a, b, at: a[:at] + b + a[at:], QUERIES, st.sampled_from(["}", "{", "(", ")", "\\", '"', "#", "\u0000", "\ud7ff"]), st.integers(0, 200)),
)  # fmt: skip


def _check(response: httpx.Response, query: str) -> None:
    assert response.status_code != 500, (query, response.text)
    assert response.status_code in (200, 400, 403, 503), (query, response.status_code, response.text)
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/problem+json", (query, response.text)


def _fuzz(strategy: st.SearchStrategy[str]) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await notify(client, weather(1, 3.0), weather(2, 12.5))).status_code == 204
        queries: list[str] = []

        @settings(FUZZ, max_examples=max(FUZZ.max_examples, 300))  # ~10 ms a query
        @given(strategy)
        def collect(query: str) -> None:
            queries.append(query)

        collect()
        for query in queries:
            response = await client.post(
                "/sparql",
                content=query.encode("utf-8", "surrogatepass"),
                headers=headers(EVERYWHERE, "santander", content_type="application/sparql-query"),
            )
            _check(response, query)

    run(body, sparql_timeout=2.0, sparql_limit=100)


def test_no_generated_query_answers_a_server_error() -> None:
    _fuzz(QUERIES)


def test_no_damaged_query_answers_a_server_error() -> None:
    _fuzz(DAMAGED)


def test_a_call_of_an_unknown_function_is_a_bad_query() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        assert (await notify(client, weather(1, 3.0))).status_code == 204
        for query in (
            "SELECT (<urn:f>(1) AS ?x) {}",
            "SELECT * { ?s ?p ?o FILTER(<urn:f>(?o)) }",
            "SELECT * { ?s ?p ?o } ORDER BY <urn:f>(?o)",
            "ASK { BIND(<http://example.org/fn#x>(1, 2) AS ?y) }",
        ):
            response = await client.get("/sparql", params={"query": query}, headers=headers(EVERYWHERE))
            problem = assert_problem(response, 400, "query-syntax")
            assert "urn:f" in problem["detail"] or "fn#x" in problem["detail"]

    run(body)
