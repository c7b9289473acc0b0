"""Regular expressions in expressions: ``re_search(pattern, text, group)`` and ``re_sub(pattern, repl, text)``.

    >>> compile_expression("re_search('^[0-9]+', name)")({"name": "24276[Turmcenter]"})
    '24276'

The pattern must be a string literal: it is compiled once, when the mapping loads (a bad pattern
is a mapping error). Python's ``re`` cannot be stopped once it runs, and a pattern such as
``(a|aa)+$`` backtracks for hours on a few dozen characters; so patterns run in the ``regex``
package (the same syntax as ``re``, well kept), whose matching takes a ``timeout``: a match that
runs past REGEX_TIMEOUT seconds refuses the record with TransformError naming the pattern. Texts
and results are bounded by MAX_ITEMS characters like every string of the language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import regex

from ...errors import ConfigError, TransformError
from .nodes import _failure, _Node
from .operators import MAX_ITEMS, _kind

REGEX_TIMEOUT: Final = 0.1  # seconds per call; a sane pattern on an id takes microseconds

PATTERN_FUNCTIONS: Final = frozenset({"re_search", "re_sub"})


def compile_pattern_call(name: str, args: list[_Node], refuse: Callable[[str], ConfigError]) -> _Node:
    """The node of ``re_search(...)`` or ``re_sub(...)``, its pattern compiled now."""
    pattern_node = args[0]
    if not pattern_node.constant or type(pattern_node.const) is not str:
        raise refuse(
            f"{name}(): the pattern must be a string literal (it is compiled when the mapping loads)"
        )
    try:
        pattern = regex.compile(pattern_node.const)
    except regex.error as error:
        raise refuse(f"{name}(): invalid regular expression {pattern_node.const!r}: {error}") from None
    if name == "re_search":
        return _search(pattern, args)
    return _sub(pattern, args)


def _timed_out(name: str, pattern: Any, text: str) -> TransformError:
    return TransformError(
        f"{name}(): the pattern {pattern.pattern!r} ran past {REGEX_TIMEOUT} s on a text of "
        f"{len(text)} characters (a pattern that backtracks without end?)"
    )


def _text(name: str, text: Any, node: _Node, record: Any) -> str:
    if type(text) is not str:
        raise _failure(f"{name}(): needs a string, not {_kind(text)}", [(node, text)], record)
    if len(text) > MAX_ITEMS:
        raise _failure(
            f"{name}(): text of {len(text)} characters is above {MAX_ITEMS}", [(node, text)], record
        )
    return text


def _search(pattern: Any, args: list[_Node]) -> _Node:
    text_node = args[1]
    get_text = text_node.run
    get_group = args[2].run if len(args) > 2 else (lambda record, value: 0)

    def search(record: Any, value: Any) -> Any:
        text = _text("re_search", get_text(record, value), text_node, record)
        group = get_group(record, value)
        if type(group) not in (int, str):
            raise TransformError(f"re_search(): a group is a number or a name, not {_kind(group)}")
        try:
            found = pattern.search(text, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            raise _timed_out("re_search", pattern, text) from None
        if found is None:
            return None
        try:
            return found.group(group)
        except IndexError:
            raise TransformError(f"re_search(): no group {group!r} in {pattern.pattern!r}") from None

    return _Node(search)


class _TooLong(Exception):
    pass


def _sub(pattern: Any, args: list[_Node]) -> _Node:
    repl_node, text_node = args[1], args[2]
    get_repl, get_text = repl_node.run, text_node.run

    def sub(record: Any, value: Any) -> str:
        repl = get_repl(record, value)
        if type(repl) is not str:
            raise _failure(
                f"re_sub(): needs a string replacement, not {_kind(repl)}", [(repl_node, repl)], record
            )
        text = _text("re_sub", get_text(record, value), text_node, record)
        size = [len(text)]

        def expand(match: Any) -> str:  # counts what it adds: an empty pattern matches everywhere
            out: str = match.expand(repl)
            size[0] += len(out) - (match.end() - match.start())
            if size[0] > MAX_ITEMS:
                raise _TooLong
            return out

        try:
            result: str = pattern.sub(expand, text, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            raise _timed_out("re_sub", pattern, text) from None
        except _TooLong:
            raise TransformError(f"re_sub(): the result is above {MAX_ITEMS} characters") from None
        except (regex.error, IndexError) as error:
            raise TransformError(f"re_sub(): bad replacement {repl!r}: {error}") from None
        return result

    return _Node(sub)
