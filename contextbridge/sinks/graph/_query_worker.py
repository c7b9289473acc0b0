"""A query worker: one process that answers SPARQL queries on a read-only snapshot of the store.

Started by ``contextbridge.sinks.graph.workers`` as ``python <this file> <fd>`` (run by path, so that
it imports nothing but the standard library and pyoxigraph, and starts in a fraction of a
second); ``fd`` is its end of a socket pair, over which requests and answers travel as pickles
(``multiprocessing.connection``). The parent kills the process when a query outlives its time
limit: the only way to stop a pyoxigraph query that has not produced its first row.

    request:  (snapshot directory, query, graphs or None for the union of all, row limit)
    answer:   ("ask", bool) | ("select", names, rows, truncated) | ("graph", triples, truncated)
              | ("error", "syntax" | "evaluation" | "io" | "timeout", message)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from pyoxigraph import NamedNode, QueryBoolean, QuerySolutions, Store


def answer(
    store: Store,
    query: str,
    graphs: list[str] | None,
    limit: int,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[Any, ...]:
    """The answer of ``query`` on ``graphs`` (None: the union of all), or why there is none.
    ``stop`` is asked between rows (the embedded store's thread checks its deadline there)."""
    dataset: dict[str, Any] = (
        {"use_default_graph_as_union": True}
        if graphs is None
        else {"default_graph": [NamedNode(g) for g in graphs], "named_graphs": [NamedNode(g) for g in graphs]}
    )
    try:
        found = store.query(query, **dataset)
        if isinstance(found, QueryBoolean):
            return ("ask", bool(found))
        items: list[Any] = []
        truncated = False
        for item in found:
            if len(items) == limit:
                truncated = True
                break
            if stop():
                return ("error", "timeout", "the query ran longer than its timeout")
            items.append(tuple(item) if isinstance(found, QuerySolutions) else item)
        if isinstance(found, QuerySolutions):
            return ("select", tuple(v.value for v in found.variables), tuple(items), truncated)
        return ("graph", tuple(items), truncated)
    except SyntaxError as error:
        return ("error", "syntax", str(error))
    except (RuntimeError, ValueError) as error:  # an unknown function, a value it cannot compute
        return ("error", "evaluation", str(error))
    except OSError as error:
        return ("error", "io", str(error))


def main(fd: int) -> None:
    connection = Connection(fd)
    opened: tuple[str, Store] | None = None
    while True:
        try:
            snapshot, query, graphs, limit = connection.recv()
        except EOFError:  # the service is gone
            return
        if opened is None or opened[0] != snapshot:
            opened = None  # the previous snapshot's files are let go first
            try:
                opened = (snapshot, Store.read_only(snapshot))
            except OSError as error:
                connection.send(("error", "io", str(error)))
                continue
        connection.send(answer(opened[1], query, graphs, limit))


if __name__ == "__main__":
    main(int(sys.argv[1]))
