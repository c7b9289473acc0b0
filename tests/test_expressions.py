"""Expressions: Python syntax, record fields as names, a fixed function table, refused beyond that."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contextbridge import ConfigError, TransformError, compile_expression
from contextbridge.language.expressions import FUNCTIONS

RECORD: dict[str, Any] = {
    "temperature": 212,
    "ayto:noise": 55.5,
    "properties": {"idSensor": "419", "dc:modified": "2016-04-11T13:24:19Z", "a.b": 1},
    "geometry": {"coordinates": [-3.79716, 43.46469]},
    "name": " Plaza  Mayor ",
    "count": "  12 ",
    "zero": 0,
    "empty": None,
    "blank": "",
    "tags": ["a", "b"],
    "i": 1,
    "underscored": "1_000",
    "nan": "nan",
    "mixed": [1, "a"],
}


def run(source: str, record: dict[str, Any] | None = None, value: Any = None) -> Any:
    return compile_expression(source)(RECORD if record is None else record, value)


# ---- names ----


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("temperature", 212),
        ("properties.idSensor", "419"),
        ('properties["dc:modified"]', "2016-04-11T13:24:19Z"),
        ("properties['a.b']", 1),
        ('record["ayto:noise"]', 55.5),
        ("record.temperature", 212),
        ('record["properties"].idSensor', "419"),
        ("geometry.coordinates[0]", -3.79716),
        ("geometry.coordinates[-1]", 43.46469),
        ("tags[i]", "b"),
        ("empty", None),
    ],
)
def test_names_read_record_fields_with_dots_as_key_look_ups(source: str, expected: Any) -> None:
    assert run(source) == expected


@pytest.mark.parametrize(
    "source", ["nothing", "properties.nothing", "geometry.coordinates[5]", "name[0]", "name.x", "tags.x"]
)
def test_a_field_that_is_not_there_reads_as_none(source: str) -> None:
    assert run(source) is None


def test_record_is_the_whole_record_and_value_the_value_passed() -> None:
    assert run("record") is RECORD
    assert run("value * 0.01", value=250) == 2.5
    assert run("value") is None  # no value given
    assert run('record["value"]', {"value": 3}, value=4) == 3  # a field called value
    assert run("value.unit", value={"unit": "CEL"}) == "CEL"


def test_names_are_the_field_paths_read() -> None:
    expression = compile_expression(
        "coalesce(properties.idSensor, record['ayto:noise'], geometry.coordinates[0], tags[i]) + value"
    )
    assert expression.names == {
        "properties.idSensor",
        "ayto:noise",
        "geometry.coordinates[0]",
        "tags",
        "i",
    }
    assert compile_expression("value * 2 + 1").names == frozenset()
    assert compile_expression("record").names == frozenset()
    assert compile_expression("properties['a.b']").names == {'properties["a.b"]'}


def test_an_expression_is_a_small_immutable_value() -> None:
    expression = compile_expression("value * 2")
    assert expression.source == "value * 2"
    assert repr(expression) == "Expression('value * 2')"
    assert expression == compile_expression("value * 2")
    assert hash(expression) == hash(compile_expression("value * 2"))
    with pytest.raises(AttributeError):
        expression.source = "value * 3"


# ---- operators ----


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("temperature + 1", 213),
        ("temperature - 12", 200),
        ("temperature * 2", 424),
        ("temperature / 8", 26.5),
        ("temperature // 8", 26),
        ("temperature % 10", 2),
        ("i ** 3 + temperature ** 2", 1 + 212**2),
        ("2 ** -1", 0.5),
        ("(temperature - 32) * 5 / 9", 100.0),
        ("-temperature", -212),
        ("+temperature", 212),
        ("not empty", True),
        ("properties.idSensor + '-' + name", "419- Plaza  Mayor "),
        ("tags + ['c']", ["a", "b", "c"]),
        ("tags * 2", ["a", "b", "a", "b"]),
        ("'ab' * i", "ab"),
        ("[temperature, i]", [212, 1]),
        ("(temperature, i)", (212, 1)),
        ("[1, 2, 3][i]", 2),
        ('f"{properties.idSensor}:{temperature}"', "419:212"),
    ],
)
def test_arithmetic_follows_python(source: str, expected: Any) -> None:
    assert run(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("temperature == 212", True),
        ("temperature != 212", False),
        ("temperature < 300", True),
        ("temperature <= 212", True),
        ("temperature > 212", False),
        ("temperature >= 300", False),
        ("0 < i < temperature < 300", True),
        ("0 < temperature < i", False),
        ("'a' in tags", True),
        ("'z' not in tags", True),
        ("'Plaza' in name", True),
        ("'idSensor' in properties", True),
        ("temperature in [1, 212]", True),
        ("temperature not in (1, 212)", False),
        ("tags in [['a', 'b'], 1]", True),  # an unhashable item against a list
        ("empty is None", True),
        ("nothing is None", True),
        ("temperature is not None", True),
        ("None is empty", True),
        ("empty == None", True),
        ("i and temperature", 212),
        ("zero and temperature", 0),
        ("zero or blank or 'x'", "x"),
        ("empty or zero", 0),
        ("i and tags and name", " Plaza  Mayor "),
        ("not i", False),
        ("'hot' if temperature > 30 else 'cold'", "hot"),
        ("'hot' if zero > 30 else 'cold'", "cold"),
    ],
)
def test_comparisons_and_logic_follow_python(source: str, expected: Any) -> None:
    assert run(source) == expected


def test_only_the_chosen_branch_of_a_condition_is_computed() -> None:
    assert run("1 if i else temperature / zero") == 1
    assert run("i or temperature / zero") == 1
    assert run("zero and temperature / zero") == 0


# ---- functions ----


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("abs(-temperature)", 212),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),  # Python's round: halves to even
        ("round(temperature, -2)", 200),
        ("min(3, i, 5)", 1),
        ("max(geometry.coordinates)", 43.46469),
        ("int(count)", 12),
        ("int(' -7 ')", -7),
        ("int(12.9)", 12),
        ("float(count)", 12.0),
        ("float(' 7.5 ')", 7.5),
        ("float(i)", 1.0),
        ("str(temperature)", "212"),
        ("str(1.5)", "1.5"),
        ("bool(empty)", False),
        ("bool('false')", True),  # Python's truth: any non-empty string
        ("len(tags)", 2),
        ("len(name)", 14),
        ("len(properties)", 3),
        ("lower('ABC')", "abc"),
        ("upper(properties.idSensor + 'a')", "419A"),
        ("strip(name)", "Plaza  Mayor"),
        ("strip('xxaxx', 'x')", "a"),
        ("replace(name, ' ', '')", "PlazaMayor"),
        ("startswith(properties['dc:modified'], '2016')", True),
        ("startswith('abc', ['x', 'a'])", True),
        ("endswith('abc', 'b')", False),
        ("split('a,b,,c', ',')", ["a", "b", "", "c"]),
        ("split(name)", ["Plaza", "Mayor"]),
        ("join(tags)", "ab"),
        ("join(tags, ';')", "a;b"),
        ("join([temperature, 'x', 1.5], '-')", "212-x-1.5"),
        ("join(split(name), '_')", "Plaza_Mayor"),
        ("coalesce(empty, nothing, blank, properties.idSensor, 'x')", "419"),
        ("coalesce(empty, nothing)", None),
        ("coalesce(zero, 1)", 0),
        ("coalesce(i, temperature / zero)", 1),  # later arguments are not computed
        ("substr('abcdef', 1, 3)", "bc"),
        ("substr('abcdef', -2)", "ef"),
        ("substr(properties['dc:modified'], 0, 4)", "2016"),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    assert run(source) == expected


def test_the_function_table_is_the_documented_one() -> None:
    documentation = (Path(__file__).parent.parent / "docs" / "mapping-language.md").read_text(
        encoding="utf-8"
    )
    documented = re.search(r"functions: `([^`]+)`", documentation)
    assert documented is not None
    assert sorted(FUNCTIONS) == sorted(documented[1].split())


# ---- compiled once ----


@pytest.mark.parametrize(
    ("constant", "with_fields", "record"),
    [
        ("(212 - 32) * 5 / 9", "(t - 32) * 5 / 9", {"t": 212}),
        ("lower(strip(' AB ')) + 'c'", "lower(strip(s)) + 'c'", {"s": " AB "}),
        ("'a' in ['a', 'b']", "s in ['a', 'b']", {"s": "a"}),
        ("[1, 2][1] ** 3", "[1, t][1] ** 3", {"t": 2}),
        ("1 if 2 > 1 else 0", "1 if t > 1 else 0", {"t": 2}),
        ("f'{1}-{2.5}'", "f'{t}-{u}'", {"t": 1, "u": 2.5}),
    ],
)
def test_constant_parts_are_computed_at_compile_time_with_the_same_result(
    constant: str, with_fields: str, record: dict[str, Any]
) -> None:
    assert compile_expression(constant)({}) == compile_expression(with_fields)(record)


def test_a_constant_part_that_fails_is_a_compile_error() -> None:
    with pytest.raises(ConfigError, match="column 5: division by zero"):
        compile_expression("i + 1 / 0")
    with pytest.raises(ConfigError, match="cannot add str and int"):
        compile_expression("'abc' + 1")


def test_a_constant_list_is_a_fresh_list_on_every_call() -> None:
    expression = compile_expression("[1, [2]]")
    first = expression({})
    first[1].append(3)
    assert expression({}) == [1, [2]]


# ---- refused at compile time ----


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "__import__('os')",
            "column 1: function '__import__' is not allowed; allowed: abs, all, any, bool, coalesce",
        ),
        ("().__class__", "column 1: attribute '__class__' is not allowed"),
        ("a.__dict__", "attribute '__dict__' is not allowed"),
        ("__builtins__", "name '__builtins__' is not allowed"),
        ("i + open('x')", "column 5: function 'open' is not allowed"),
        ("name.upper()", "method calls are not allowed; write upper(x), not x.upper()"),
        ("(lower or upper)(name)", "only the named functions can be called"),
        ("round(x, ndigits=2)", "round() takes no keyword arguments"),
        ("round(1, 2, 3)", "round() takes 1 to 2 arguments (3 given)"),
        ("abs()", "abs() takes 1 argument (0 given)"),
        ("lambda: 1", "column 1: lambda is not allowed"),
        ("[x.y for x.y in z]", "a comprehension binds names only"),
        ("[1 async for x in y]", "async comprehension is not allowed"),
        ("(x := 1)", "column 2: assignment expression ':=' is not allowed"),
        ("x := 1", "column 3: syntax error"),
        ("i +", "column 4: syntax error"),
        ("{**a}", "dict unpacking '**' is not allowed"),
        ("{1}", "set display is not allowed"),
        ("name[1:3]", "slice (use substr) is not allowed"),
        ("[*tags]", "starred expression is not allowed"),
        ("i << 40", "operator '<<' is not allowed"),
        ("~i", "operator '~' is not allowed"),
        ("b'bytes'", "bytes literal is not allowed"),
        ("1j", "complex literal is not allowed"),
        ("i is 1", "'is' and 'is not' compare with None only"),
        ("f'{name!r}'", "f-string conversions and format specs are not allowed"),
        ("f'{i:>10}'", "f-string conversions and format specs are not allowed"),
        ("'ñ' + open('x')", "column 7: function 'open'"),  # columns count characters, not bytes
        ("(i +\n open('x'))", "line 2, column 2: function 'open'"),
        ("a" * 10_001, "10001 characters long; the limit is 10000"),
        ("-" * 60 + "i", "nested deeper than 50"),
        ("-" * 9_000 + "i", "nested deeper than 50"),
        ("2 ** 100000", "exponent 100000 is above 1000"),
        ("'a' * 10**9", "result of 1000000000 items is above the limit of 1000000"),
    ],
)
def test_anything_outside_the_language_is_refused_naming_it_and_its_column(source: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_expression(source)
    assert message in str(caught.value)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a string, not int"):
        compile_expression(42)  # type: ignore[arg-type]


# ---- failing at run time ----


@pytest.mark.parametrize(
    ("source", "field", "reason"),
    [
        ("nothing + 1", "nothing", "missing field"),
        ("properties.missing * 2", "properties.missing", "missing field"),
        ("temperature - empty", "empty", "null field"),
        ("lower(nothing)", "nothing", "missing field"),
        ("nothing > 3", "nothing", "missing field"),
        ("f'{nothing}'", "nothing", "missing field"),
        ("tags[nothing]", "nothing", "missing field"),
        ("temperature / zero", "zero", "division by zero"),
        ("i % zero", "zero", "division by zero"),
        ("value / 0", None, "division by zero"),
        ("name + 1", "name", "cannot add str and int"),
        ("value + 1", None, "cannot add str and int"),
        ("name % 2", "name", "cannot take the remainder of str and int"),
        ("-name", "name", "cannot negate str"),
        ("name < 1", "name", "cannot compare str and int"),
        ("1 in temperature", "temperature", "cannot look for int in int"),
        ("int(name)", "name", "int(): not an integer: ' Plaza  Mayor '"),
        ("int(underscored)", "underscored", "int(): not an integer: '1_000'"),
        ("float(value)", None, "float(): not a number: '7,5'"),
        ("float(nan)", "nan", "float(): not a finite number: 'nan'"),
        ("max(mixed)", "mixed", "max(): cannot compare int and str"),
        ("max(tags + [i])", None, "max(): cannot compare int and str"),
    ],
)
def test_run_time_errors_are_transform_errors_naming_the_field(
    source: str, field: str | None, reason: str
) -> None:
    with pytest.raises(TransformError) as caught:
        run(source, value={"float(value)": "7,5", "value / 0": 7}.get(source, "abc"))
    assert caught.value.field == field
    assert caught.value.reason == reason


def test_a_failing_function_names_itself() -> None:
    with pytest.raises(TransformError, match=r"^min\(\): empty list$"):
        run("min(value)", value=[])
    with pytest.raises(TransformError, match=r"len\(\): needs a string, a list or a mapping, not int"):
        run("len(temperature)")
    with pytest.raises(TransformError, match="empty separator"):
        run("split(name, blank)")


@pytest.mark.parametrize(
    ("source", "value", "reason"),
    [
        ("2 ** value", 100_000, "exponent 100000 is above 1000"),
        ("10 ** value", 301, "result is above 10**300"),
        ("value ** 2", 10**200, "result is above 10**300"),
        ("value * value", 10**200, "result is above 10**300"),
        ("value ** 0.5", -8, "-8 ** 0.5 is not a real number"),
        ("value ** 3", 1e300, "number too large"),
        ("'a' * value", 10**9, "result of 1000000000 items is above the limit of 1000000"),
        ("value * [0]", 2_000_000, "result of 2000000 items is above the limit of 1000000"),
        ("value + value", "a" * 600_000, "result of 1200000 items is above the limit of 1000000"),
        ("replace(value, '', 'xxxxxxxxxx')", "a" * 100_000, "above the limit of 1000000"),
        ("join([value, value])", "a" * 600_000, "above the limit of 1000000"),
        ("round(5, value)", -(10**9), "round(): cannot round to -1000000000 digits"),
    ],
)
def test_resource_use_is_bounded(source: str, value: Any, reason: str) -> None:
    with pytest.raises(TransformError) as caught:
        run(source, value=value)
    assert reason in caught.value.reason


# ---- against Python itself ----

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}


class Tree(NamedTuple):
    """An arithmetic expression, and how Python computes it for a record."""

    source: str
    compute: Callable[[dict[str, int]], Any]


class Refused(Exception):
    """Python computed it, but the language refuses it (a result above 10**300)."""


def _bounded(result: Any) -> Any:
    if isinstance(result, int) and abs(result) > 10**300:
        raise Refused
    return result


def _leaf() -> st.SearchStrategy[Tree]:
    numbers = st.integers(-9, 9).map(lambda n: Tree(f"({n})", lambda record: n))
    names = st.sampled_from("abc").map(lambda name: Tree(name, lambda record: record[name]))
    return st.one_of(numbers, names)


def _extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    def binary(left: Tree, symbol: str, right: Tree) -> Tree:
        def compute(record: dict[str, int]) -> Any:
            result = _BINARY[symbol](left.compute(record), right.compute(record))
            return _bounded(result) if symbol == "*" else result

        return Tree(f"({left.source} {symbol} {right.source})", compute)

    def power(base: Tree, exponent: int) -> Tree:
        return Tree(f"({base.source} ** {exponent})", lambda rec: _bounded(base.compute(rec) ** exponent))

    def negate(operand: Tree) -> Tree:
        return Tree(f"(-{operand.source})", lambda record: -operand.compute(record))

    return st.one_of(
        st.builds(binary, children, st.sampled_from(sorted(_BINARY)), children),
        st.builds(power, children, st.integers(0, 3)),
        st.builds(negate, children),
    )


TREES = st.recursive(_leaf(), _extend, max_leaves=12)
RECORDS = st.fixed_dictionaries({name: st.integers(-9, 9) for name in "abc"})


@given(tree=TREES, record=RECORDS)
def test_arithmetic_gives_what_python_gives(tree: Tree, record: dict[str, int]) -> None:
    source = tree.source
    try:
        expected = tree.compute(record)
    except (ArithmeticError, Refused):
        with pytest.raises((ConfigError, TransformError)) as caught:
            compile_expression(source)(record)
        assume("nested deeper" not in str(caught.value))
        return
    try:
        result = compile_expression(source)(record)
    except ConfigError as error:
        assume("nested deeper" not in str(error))
        raise
    assert result == expected or (math.isnan(result) and math.isnan(expected))
    assert type(result) is type(expected)


@given(tree=TREES, record=RECORDS)
def test_folding_constants_gives_the_same_result_as_reading_fields(
    tree: Tree, record: dict[str, int]
) -> None:
    names = tree.source
    literals = names
    for name, number in record.items():
        literals = literals.replace(name, f"({number})")
    try:
        with_names = compile_expression(names)(record)
    except (ConfigError, TransformError) as error:
        assume("nested deeper" not in str(error))
        with pytest.raises((ConfigError, TransformError)):
            compile_expression(literals)({})
        return
    folded = compile_expression(literals)
    assert folded({}) == with_names or (math.isnan(folded({})) and math.isnan(with_names))
