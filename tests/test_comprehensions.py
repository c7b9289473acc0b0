"""Expressions over lists: dict displays, comprehensions and the list functions, bounded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from contextbridge import ConfigError, TransformError, compile_expression
from contextbridge.language.expressions.comprehensions import MAX_ITERATIONS

UPLINK = {
    "messages": [
        {"type": "Air Temperature", "measurementValue": 1.8},
        {"type": "Rain Gauge", "measurementValue": 0.2},
        {"type": "Rain Gauge", "measurementValue": 0.4},
    ],
    "decoded": {"TempC1": -18.25, "TempC2": -17.5, "BatV": 3.59},
    "rx": [{"rssi": -97}, {"rssi": -112}],
    "m": "a record field hidden by the comprehension's own m",
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("[m['measurementValue'] for m in messages if m['type'] == 'Rain Gauge']", [0.2, 0.4]),
        ("[m.measurementValue for m in messages if m.type == 'Rain Gauge']", [0.2, 0.4]),
        ("max([gateway['rssi'] for gateway in rx])", -97),
        ("min(g.rssi for g in rx)", -112),
        ("len([m for m in messages if m.type == 'Rain Gauge'])", 2),
        ("any(m.type == 'Rain Gauge' for m in messages)", True),
        ("all(m.measurementValue > 0 for m in messages)", True),
        ("sorted([m.measurementValue for m in messages])", [0.2, 0.4, 1.8]),
        ("sum([1, 2, 3])", 6),
        ("{k: v for k, v in items(decoded) if startswith(k, 'TempC')}", {"TempC1": -18.25, "TempC2": -17.5}),
        ("[k for k in decoded]", ["TempC1", "TempC2", "BatV"]),
        ("max(values(decoded))", 3.59),
        ("{'street': m, 'n': len(rx)}", {"street": UPLINK["m"], "n": 2}),
        ("[[x, y] for x in [1, 2] for y in [x, 10] if y != 1]", [[1, 10], [2, 2], [2, 10]]),
        ("[[y * x for y in [1, 2]] for x in [1, 3]]", [[1, 2], [3, 6]]),
        ("[m for m in [1]][0] + len(record['m'])", 1 + len(UPLINK["m"])),  # record: the record itself
        ("[x for x in 'ab']", ["a", "b"]),
    ],
)
def test_comprehensions_and_displays_compute_as_in_python(source: str, expected: Any) -> None:
    assert compile_expression(source)(UPLINK) == expected


def test_a_comprehension_name_is_not_a_record_field_read() -> None:
    expression = compile_expression("[m.v for m in messages if m.t == wanted]")
    assert expression.names == frozenset({"messages", "wanted"})


def test_a_constant_dict_is_computed_once_and_never_shared() -> None:
    expression = compile_expression("{'a': [1]}")
    first = expression({})
    first["a"].append(2)
    assert expression({}) == {"a": [1]}


@pytest.mark.parametrize(
    ("source", "record", "reason"),
    [
        ("[x for x in nothing]", {}, "missing field"),
        ("[x for x in n]", {"n": 5}, "cannot go over int"),
        ("{k: 1 for k in xs}", {"xs": [1]}, "a dict key must be a string, not int"),
        ("{n: 1}", {"n": 1.5}, "a dict key must be a string, not float"),
        ("[a for a, b in xs]", {"xs": [[1, 2, 3]]}, "cannot unpack list of 3 into 2 names"),
        ("sum(xs)", {"xs": [1, "2"]}, "needs numbers, not str"),
        ("sorted(xs)", {"xs": [1, "2"]}, "cannot compare int and str"),
        ("any(x)", {"x": "abc"}, "needs a list, not str"),
    ],
)
def test_a_bad_list_rejects_the_record_with_a_reason(
    source: str, record: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TransformError) as caught:
        compile_expression(source)(record)
    assert reason in caught.value.reason


def test_a_comprehension_over_a_million_items_is_refused_before_it_runs() -> None:
    expression = compile_expression("[x * 2 for x in readings]")
    started = time.perf_counter()
    with pytest.raises(TransformError) as caught:
        expression({"readings": list(range(1_000_000))})
    assert time.perf_counter() - started < 0.5  # counted before the loop, not after it
    assert caught.value.reason == f"comprehensions went over more than {MAX_ITERATIONS:,} items"
    assert caught.value.field == "readings"
    assert expression({"readings": list(range(MAX_ITERATIONS))})[-1] == 2 * (MAX_ITERATIONS - 1)


@pytest.mark.parametrize(
    "source",
    [
        "[1 for a in xs for b in xs]",  # nested clauses multiply
        "[[1 for b in xs] for a in xs]",  # nested comprehensions share the budget
        "sum(len([b for b in xs]) for a in xs)",
    ],
)
def test_nested_comprehensions_share_one_budget(source: str) -> None:
    with pytest.raises(TransformError, match="comprehensions went over more than"):
        compile_expression(source)({"xs": list(range(400))})  # 400 x 400 = 160,000 > 100,000
    assert compile_expression(source)({"xs": list(range(300))})  # 90,000: within


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("[value for value in xs]", "cannot bind the name 'value'"),
        ("[1 for record in xs]", "cannot bind the name 'record'"),
        ("[1 for __x in xs]", "cannot bind the name '__x'"),
        ("[1 for x[0] in xs]", "a comprehension binds names only"),
        ("{x for x in xs}", "set comprehension is not allowed"),
        ("{**a, 'b': 1}", "dict unpacking '**' is not allowed"),
        ("[x for x in xs if (y := x)]", "assignment expression ':=' is not allowed"),
    ],
)
def test_what_a_comprehension_may_not_do_is_refused_at_load(source: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("*", r"\*")):
        compile_expression(source)
