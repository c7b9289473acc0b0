"""A small, safe expression language with Python's syntax, compiled once into closures.

    >>> to_celsius = compile_expression("(temperature - 32) * 5 / 9")
    >>> to_celsius({"temperature": 212})
    100.0
    >>> compile_expression("coalesce(properties.name, 'unnamed')")({"properties": {}})
    'unnamed'
    >>> sorted(compile_expression("value * 0.01 if record['ayto:ok'] else properties.idSensor").names)
    ['ayto:ok', 'properties.idSensor']

Names are record fields: ``temperature``, ``properties.idSensor`` (a dot is a key look-up,
never an attribute of a Python object), ``geometry.coordinates[0]``, ``record["ayto:noise"]``
for keys that are not identifiers. ``value`` is the value passed with the call, ``record`` the
whole record (so a field called ``value`` is read as ``record["value"]``).

A field that is not in the record reads as None, like a JSON null, so ``coalesce(a, b)``,
``a is None`` and ``a if a else b`` need no special form. The operation or function that then
receives that None (``a + 1``, ``lower(a)``) raises TransformError naming the field, with the
reason "missing field" (or "null field" when the record holds a null).

Allowed: literals (str, int, float, bool, None), lists and tuples, ``+ - * / // % **`` (``%`` on
numbers only: no string formatting), unary ``- + not``, comparisons (chained, ``in``, ``not in``,
``is None``, ``is not None``), ``and or``, ``x if c else y``, look-ups ``x[0]`` and ``x["key"]``
(a key or index that is not there reads as None), plain f-strings (``f"{a}-{b}"``: no conversions,
no format specs) and the functions of FUNCTIONS, with Python's semantics (``round`` halves to even,
``bool("false")`` is True, ``int("12.5")`` fails: write ``int(float(x))``); ``int`` and ``float``
take strings with blanks around, not "1_000", "nan" or a decimal comma. Everything else
(attributes of objects, methods, other calls, lambdas, comprehensions, ``:=``, dunder names) is
refused by compile_expression with a ConfigError naming the construct and its column.

Limits: source of 10_000 characters and nesting 50 deep at most; at run time ``**`` with an
exponent above 1000 or a result above 10**300, and strings or lists above 1_000_000 items, are
refused with TransformError. A part without names is computed once, at compile time, so a
constant ``1 / 0`` is a ConfigError.
"""

# Why hand-written: expressions run once per record on the hot path, so the AST is compiled once
# into nested closures (a simple expression costs a few calls). General-purpose safe-eval
# libraries re-walk the AST on every call, and they accept far more than the tiny whitelist
# below, which is the whole of the language.

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError
from .compiler import _check_depth, _Compiler
from .functions import FUNCTIONS
from .operators import MAX_DEPTH, MAX_EXPONENT, MAX_ITEMS, MAX_POWER, MAX_SOURCE, Run, _kind

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_ITEMS",
    "MAX_POWER",
    "MAX_SOURCE",
    "Expression",
    "compile_expression",
]


class Expression:
    """A compiled expression: call it with a record (and the attribute's value, if any)."""

    __slots__ = ("_run", "names", "source")

    source: str
    names: frozenset[str]  # the record field paths it reads, for the mapping lint
    _run: Run

    def __init__(self, source: str, names: frozenset[str], run: Run) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "_run", run)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Expression is immutable: cannot set {name!r}")

    def __call__(self, record: Mapping[str, Any], value: Any = None) -> Any:
        return self._run(record, value)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


def compile_expression(source: str) -> Expression:
    """Compile ``source`` into an Expression; raise ConfigError naming what is refused and where.

    >>> compile_expression("value * 0.01")({}, 250)
    2.5
    """
    if not isinstance(source, str):
        raise ConfigError(f"an expression must be a string, not {_kind(source)}")
    if len(source) > MAX_SOURCE:
        raise ConfigError(f"expression is {len(source)} characters long; the limit is {MAX_SOURCE}")
    text = source.strip()  # YAML block scalars bring a trailing newline, indentation a leading space
    try:
        with warnings.catch_warnings():  # invalid escapes and the like: the code below decides
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        lines = text.splitlines() or [""]
        line = min(error.lineno or 1, len(lines))
        column = error.offset or len(lines[line - 1]) + 1  # 0 when the parser ran off the end: "1 +"
        where = f"line {line}, column {column}" if line > 1 else f"column {column}"
        raise ConfigError(f"{where}: syntax error: {error.msg}") from None
    except (ValueError, MemoryError, RecursionError):  # the parser's own stack: absurd nesting
        raise ConfigError(f"expression is nested deeper than {MAX_DEPTH}") from None
    _check_depth(tree, text)
    compiler = _Compiler(text)
    root = compiler.compile(tree.body)
    return Expression(source, frozenset(compiler.names), root.run)
