"""Python's operators, made safe: the same results, with bounds on size and clear errors."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any, Final

from ...errors import TransformError

Run = Callable[[Any, Any], Any]  # (record, value) -> result

MAX_SOURCE: Final = 10_000
MAX_DEPTH: Final = 50
MAX_ITEMS: Final = 1_000_000
MAX_EXPONENT: Final = 1000
MAX_POWER: Final = 10**300

_LOOKUP_ERRORS: Final = (KeyError, TypeError, IndexError)
# What an operator or a function of the table may raise on bad operands; turned into TransformError.
_ERRORS: Final = (TypeError, ValueError, ArithmeticError, TransformError)
_NOT_CONSTANT: Final = object()
_ABSENT: Final = object()


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


_SEQUENCES: Final = (str, list, tuple)


def _items(count: int) -> None:
    if count > MAX_ITEMS:
        raise TransformError(f"result of {count} items is above the limit of {MAX_ITEMS}")


def _bounded(value: Any) -> Any:
    if isinstance(value, _SEQUENCES):
        _items(len(value))
    return value


def _add(a: Any, b: Any) -> Any:
    # Checked after: a sum is no larger than its operands, which are already in memory.
    return _bounded(a + b)


def _multiply(a: Any, b: Any) -> Any:
    if type(a) is float or type(b) is float:  # the hot case (value * 0.01): no repetition possible
        return a * b
    # Check repetition before doing it: "a" * 10**9 must not allocate first.
    if isinstance(a, _SEQUENCES) and type(b) is int:
        _items(len(a) * b)
    elif isinstance(b, _SEQUENCES) and type(a) is int:
        _items(len(b) * a)
    result = a * b
    if type(result) is int and (result > MAX_POWER or result < -MAX_POWER):
        raise TransformError("result is above 10**300")
    return result


def _modulo(a: Any, b: Any) -> Any:
    if isinstance(a, str) or isinstance(b, str):  # "%*d" % (10**9, 1) would build a huge string
        raise TypeError("no string formatting")
    return a % b


def _power(a: Any, b: Any) -> Any:
    if isinstance(b, int | float) and abs(b) > MAX_EXPONENT:
        raise TransformError(f"exponent {b} is above {MAX_EXPONENT}")
    if type(a) is int and type(b) is int and b > 0 and (abs(a).bit_length() - 1) * b > 1000:
        raise TransformError("result is above 10**300")  # known from the sizes, before computing
    result = a**b
    if type(result) is int and not -MAX_POWER <= result <= MAX_POWER:
        raise TransformError("result is above 10**300")
    if isinstance(result, complex):
        raise TransformError(f"{a} ** {b} is not a real number")
    return result


_BINARY: Final[dict[type, tuple[str, Callable[[Any, Any], Any]]]] = {
    ast.Add: ("add", _add),
    ast.Sub: ("subtract", operator.sub),
    ast.Mult: ("multiply", _multiply),
    ast.Div: ("divide", operator.truediv),
    ast.FloorDiv: ("divide", operator.floordiv),
    ast.Mod: ("take the remainder of", _modulo),
    ast.Pow: ("raise", _power),
}


def _contains(a: Any, b: Any) -> bool:
    return a in b


def _not_contains(a: Any, b: Any) -> bool:
    return a not in b


def _mismatch(test: Callable[[Any, Any], bool], a: Any, b: Any) -> str:
    if test is _contains or test is _not_contains:
        return f"cannot look for {_kind(a)} in {_kind(b)}"
    return f"cannot compare {_kind(a)} and {_kind(b)}"


_COMPARE: Final[dict[type, Callable[[Any, Any], bool]]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: _contains,
    ast.NotIn: _not_contains,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
