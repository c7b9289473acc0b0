"""Query results as text: a table for people; SPARQL JSON, XML, CSV, TSV; Turtle, N-Triples for graphs.

    print(format_result(result, "table"))
    print(format_result(result, "json"))   # SPARQL 1.1 Query Results JSON

``table``, ``json``, ``xml``, ``csv`` and ``tsv`` are for SELECT and ASK answers, ``turtle``,
``ntriples`` (and ``table``) for CONSTRUCT and DESCRIBE ones. CSV and TSV follow the SPARQL 1.1
CSV/TSV formats (CSV: plain values; TSV: terms in N-Triples syntax); XML is the SPARQL Query
Results XML Format.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat

from contextbridge.errors import ConfigError
from contextbridge.sinks.graph.base import QueryResult, Term
from contextbridge.sinks.graph.options import FORMATS
from contextbridge.sinks.graph.sparql import PREFIXES

GRAPH_FORMATS = ("turtle", "ntriples", "table")
_MAX_CELL = 60


def format_result(result: QueryResult, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", key="format")
    if result.kind == "graph":
        if fmt not in GRAPH_FORMATS:
            raise ConfigError(
                "CONSTRUCT and DESCRIBE answers are graphs: use --format turtle or ntriples", key="format"
            )
        if fmt == "ntriples":
            data = pyoxigraph.serialize(list(result.triples), format=RdfFormat.N_TRIPLES)
        else:
            data = pyoxigraph.serialize(list(result.triples), format=RdfFormat.TURTLE, prefixes=PREFIXES)
        return (data or b"").decode("utf-8")
    if fmt in ("turtle", "ntriples"):
        raise ConfigError("SELECT and ASK answers are tables: use table, json, xml, csv or tsv", key="format")
    return {"table": _table, "json": _json, "xml": _xml, "csv": _csv, "tsv": _tsv}[fmt](result)


def _json(result: QueryResult) -> str:
    if result.kind == "ask":
        return json.dumps({"head": {}, "boolean": result.boolean}) + "\n"
    bindings = [
        {name: _json_term(term) for name, term in zip(result.variables, row, strict=True) if term is not None}
        for row in result.rows
    ]
    document = {"head": {"vars": list(result.variables)}, "results": {"bindings": bindings}}
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def _json_term(term: Term) -> dict[str, Any]:
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        found: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            found["xml:lang"] = term.language
        elif term.datatype.value != PREFIXES["xsd"] + "string":
            found["datatype"] = term.datatype.value
        return found
    return {"type": "triple", "value": str(term)}


def _xml(result: QueryResult) -> str:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>']
    if result.kind == "ask":
        out.append(f"</head>\n<boolean>{str(result.boolean).lower()}</boolean>\n</sparql>\n")
        return "".join(out)
    out += [f"<variable name={quoteattr(name)}/>" for name in result.variables]
    out.append("</head>\n<results>\n")
    for row in result.rows:
        out.append("<result>")
        for name, term in zip(result.variables, row, strict=True):
            if term is not None:
                out.append(f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>")
        out.append("</result>\n")
    out.append("</results>\n</sparql>\n")
    return "".join(out)


def _xml_term(term: Term) -> str:
    if isinstance(term, NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != PREFIXES["xsd"] + "string":
            return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
        return f"<literal>{escape(term.value)}</literal>"
    return f"<triple>{escape(str(term))}</triple>"


def _csv(result: QueryResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if result.kind == "ask":
        writer.writerows([["boolean"], [str(result.boolean).lower()]])
        return out.getvalue()
    writer.writerow(result.variables)
    writer.writerows([_plain(t) for t in row] for row in result.rows)
    return out.getvalue()


def _tsv(result: QueryResult) -> str:
    if result.kind == "ask":
        return f"?boolean\n{str(result.boolean).lower()}\n"
    lines = ["\t".join(f"?{v}" for v in result.variables)]
    lines += ["\t".join("" if t is None else str(t) for t in row) for row in result.rows]
    return "\n".join(lines) + "\n"


def _table(result: QueryResult) -> str:
    if result.kind == "ask":
        return ("yes" if result.boolean else "no") + "\n"
    header = list(result.variables)
    cells = [[_short(t) for t in row] for row in result.rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    rule = "+".join("-" * (w + 2) for w in widths)
    lines = [" " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), rule]
    lines += [" " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    count = f"{len(cells)} row{'s' if len(cells) != 1 else ''}"
    return "\n".join([*lines, count]) + "\n"


def _plain(term: Term | None) -> str:
    if term is None:
        return ""
    if isinstance(term, BlankNode):
        return f"_:{term.value}"
    return term.value if isinstance(term, NamedNode | Literal) else str(term)


def _short(term: Term | None) -> str:
    """A cell: IRIs by prefix where one fits, literals by their value, long text cut."""
    text = _plain(term)
    if isinstance(term, NamedNode):
        for prefix, namespace in PREFIXES.items():
            if text.startswith(namespace):
                text = f"{prefix}:{text[len(namespace) :]}"
                break
    elif isinstance(term, Literal) and term.language:
        text = f"{text}@{term.language}"
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"
