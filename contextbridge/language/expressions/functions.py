"""The functions an expression may call: each checks its arguments and raises TransformError(reason)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from ...errors import TransformError
from .operators import MAX_POWER, _items, _kind

# ---- the function table: each checks its arguments and raises TransformError(reason) ----


def _need(value: Any, kinds: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, kinds):
        raise TransformError(f"needs {what}, not {_kind(value)}")


def _number_text(text: str) -> str:
    stripped = text.strip()
    if not stripped or "_" in stripped:  # Python reads "1_000"; a feed never means that
        raise ValueError(text)
    return stripped


def _int(x: Any) -> int:
    if isinstance(x, str):
        try:
            return int(_number_text(x))
        except ValueError:
            raise TransformError(f"not an integer: {x!r}") from None
    _need(x, (int, float), "a number or a string")
    if isinstance(x, float) and not math.isfinite(x):
        raise TransformError(f"not a finite number: {x}")
    return int(x)


def _float(x: Any) -> float:
    if isinstance(x, str):
        try:
            result = float(_number_text(x))
        except ValueError:
            raise TransformError(f"not a number: {x!r}") from None
    else:
        _need(x, (int, float), "a number or a string")
        result = float(x)
    if not math.isfinite(result):
        raise TransformError(f"not a finite number: {x!r}")
    return result


def _str(x: Any) -> str:
    if x is None:
        raise TransformError("needs a value, not None")
    return x if type(x) is str else str(x)


def _round(x: Any, digits: Any = None) -> Any:
    _need(x, (int, float), "a number")
    if digits is None:
        return round(x)
    _need(digits, int, "a whole number of digits")
    if abs(digits) > 300:  # round(5, -10**9) would build 10**(10**9)
        raise TransformError(f"cannot round to {digits} digits")
    return round(x, digits)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(*args: Any) -> Any:
        items = args[0] if len(args) == 1 and isinstance(args[0], list | tuple) else args
        if not items:
            raise TransformError("empty list")
        try:
            return pick(items)
        except TypeError:
            kinds = sorted({_kind(item) for item in items})
            raise TransformError(f"cannot compare {' and '.join(kinds)}") from None

    return extreme


def _len(x: Any) -> int:
    _need(x, (str, list, tuple, dict), "a string, a list or a mapping")
    return len(x)


def _text(name: str) -> Callable[..., Any]:
    method = getattr(str, name)

    def apply(s: Any) -> Any:
        _need(s, str, "a string")
        return method(s)

    return apply


def _strip(s: Any, chars: Any = None) -> str:
    _need(s, str, "a string")
    if chars is not None:
        _need(chars, str, "a string of characters")
    return s.strip(chars)


def _replace(s: Any, old: Any, new: Any) -> str:
    for item in (s, old, new):
        _need(item, str, "strings")
    size = len(s) + s.count(old) * (len(new) - len(old))  # replace("ab", "", big) multiplies
    _items(size)
    return s.replace(old, new)


def _affix(name: str) -> Callable[[Any, Any], bool]:
    method = getattr(str, name)

    def test(s: Any, affix: Any) -> bool:
        _need(s, str, "a string")
        affixes = tuple(affix) if isinstance(affix, list | tuple) else (affix,)
        for item in affixes:
            _need(item, str, "a string or a list of strings")
        return bool(method(s, affixes))

    return test


def _split(s: Any, sep: Any = None) -> list[str]:
    _need(s, str, "a string")
    if sep is not None:
        _need(sep, str, "a string separator")
        if not sep:
            raise TransformError("empty separator")
    return s.split(sep)


def _join(items: Any, sep: Any = "") -> str:
    _need(items, (list, tuple), "a list")
    _need(sep, str, "a string separator")
    texts = [_str(item) for item in items]
    size = sum(map(len, texts)) + len(sep) * max(len(texts) - 1, 0)
    _items(size)
    return sep.join(texts)


def _substr(s: Any, start: Any, end: Any = None) -> str:
    _need(s, str, "a string")
    _need(start, int, "a whole number as start")
    if end is not None:
        _need(end, int, "a whole number as end")
    return s[start:end]


def _list(x: Any, what: str = "a list") -> list[Any] | tuple[Any, ...]:
    _need(x, (list, tuple), what)
    return x


def _sum(items: Any) -> Any:
    total: Any = 0
    for item in _list(items, "a list of numbers"):
        _need(item, (int, float), "numbers")
        total += item
    if type(total) is int and not -MAX_POWER <= total <= MAX_POWER:
        raise TransformError("result is above 10**300")
    return total


def _sorted(items: Any) -> list[Any]:
    try:
        return sorted(_list(items))
    except TypeError:
        kinds = sorted({_kind(item) for item in items})
        raise TransformError(f"cannot compare {' and '.join(kinds)}") from None


def _items_of(x: Any) -> list[list[Any]]:
    _need(x, dict, "a mapping")
    return [[key, value] for key, value in x.items()]


def _values(x: Any) -> list[Any]:
    _need(x, dict, "a mapping")
    return list(x.values())


def _abs(x: Any) -> Any:
    _need(x, (int, float), "a number")
    return abs(x)


FUNCTIONS: Final[Mapping[str, tuple[Callable[..., Any], int, int | None]]] = {
    # name: (implementation, least arguments, most arguments or None for any number)
    "abs": (_abs, 1, 1),
    "all": (lambda items: all(_list(items)), 1, 1),
    "any": (lambda items: any(_list(items)), 1, 1),
    "bool": (bool, 1, 1),
    "coalesce": (lambda *args: None, 1, None),  # compiled lazily by _coalesce
    "endswith": (_affix("endswith"), 2, 2),
    "float": (_float, 1, 1),
    "int": (_int, 1, 1),
    "items": (_items_of, 1, 1),
    "join": (_join, 1, 2),
    "len": (_len, 1, 1),
    "lower": (_text("lower"), 1, 1),
    "max": (_extreme(max), 1, None),
    "min": (_extreme(min), 1, None),
    "re_search": (lambda *args: None, 2, 3),  # compiled with its pattern by patterns.py
    "re_sub": (lambda *args: None, 3, 3),
    "replace": (_replace, 3, 3),
    "round": (_round, 1, 2),
    "sorted": (_sorted, 1, 1),
    "split": (_split, 1, 2),
    "startswith": (_affix("startswith"), 2, 2),
    "str": (_str, 1, 1),
    "strip": (_strip, 1, 2),
    "substr": (_substr, 2, 3),
    "sum": (_sum, 1, 1),
    "upper": (_text("upper"), 1, 1),
    "values": (_values, 1, 1),
}
"""The functions an expression may call, with how many arguments each takes."""
