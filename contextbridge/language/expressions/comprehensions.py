"""Lists and dicts built by an expression: dict displays and comprehensions, bounded.

    >>> compile_expression("[m['measurementValue'] for m in messages if m['type'] == 'Rain Gauge']")(
    ...     {"messages": [{"type": "Rain Gauge", "measurementValue": 0.2}]})
    [0.2]

A comprehension binds its names in a Scope over the record (a name it binds hides the record
field of that name; ``record`` still names the record). It goes over lists, tuples, the keys of
a dict and the characters of a string. The comprehensions of one evaluation go over at most
MAX_ITERATIONS items in all, nested ones included, counted before each loop starts: past it the
record is refused with TransformError, so no record can make the translator loop for long.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any, Final

from ...errors import ConfigError, TransformError
from .nodes import Scope, _failure, _Node
from .operators import Run, _kind

MAX_ITERATIONS: Final = 100_000

_RESERVED: Final = frozenset({"record", "value"})


class _Collections:
    """The builders of _Compiler for dict displays and comprehensions (a mixin: see _Compiler)."""

    bound: list[str]  # the names bound by the comprehensions being compiled, innermost last

    def compile(self, node: ast.expr) -> _Node:
        raise NotImplementedError

    def fold(self, node: ast.expr, compiled: _Node, children: list[_Node]) -> _Node:
        raise NotImplementedError

    def refuse(self, node: ast.AST, message: str) -> ConfigError:
        raise NotImplementedError

    def _Dict(self, node: ast.Dict) -> _Node:
        if any(key is None for key in node.keys):
            raise self.refuse(node, "dict unpacking '**' is not allowed")
        keys = [self.compile(key) for key in node.keys if key is not None]
        values = [self.compile(value) for value in node.values]
        pairs = tuple((key.run, key, value.run) for key, value in zip(keys, values, strict=True))

        def display(record: Any, value: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for get_key, key_node, get_value in pairs:
                out[_text_key(get_key(record, value), key_node, record)] = get_value(record, value)
            return out

        return self.fold(node, _Node(display), [*keys, *values])

    def _ListComp(self, node: ast.ListComp) -> _Node:
        return self._comprehension(node)

    def _GeneratorExp(self, node: ast.GeneratorExp) -> _Node:  # any(x > 0 for x in xs): a list too
        return self._comprehension(node)

    def _DictComp(self, node: ast.DictComp) -> _Node:
        return self._comprehension(node)

    def compile_generators(self, generators: list[ast.comprehension]) -> tuple[_Loop, ...]:
        """Compile the ``for ... in ... if ...`` clauses; leaves their names bound (the caller unbinds)."""
        loops = []
        for generator in generators:
            if generator.is_async:
                raise self.refuse(generator.iter, "async comprehension is not allowed")
            iterable = self.compile(generator.iter)  # before the clause's own names are bound
            names = self._targets(generator.target)
            self.bound.extend(names)
            conditions = tuple(self.compile(condition).run for condition in generator.ifs)
            loops.append(_Loop(iterable, names, conditions))
        return tuple(loops)

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp) -> _Node:
        count = len(self.bound)
        loops = self.compile_generators(node.generators)
        emit: Callable[[Scope, Any, Any], None]
        if isinstance(node, ast.DictComp):
            emit = _dict_emitter(self.compile(node.key), self.compile(node.value))
            make: Callable[[], Any] = dict
        else:
            get = self.compile(node.elt).run

            def emit(scope: Scope, value: Any, out: Any) -> None:
                out.append(get(scope, value))

            make = list
        del self.bound[count:]
        return _Node(_runner(loops, emit, make))

    def _targets(self, target: ast.expr) -> tuple[str, ...]:
        elements = target.elts if isinstance(target, ast.Tuple) else [target]
        names = []
        for element in elements:
            if not isinstance(element, ast.Name):
                raise self.refuse(
                    element, "a comprehension binds names only: 'for x in ...', 'for k, v in ...'"
                )
            if element.id in _RESERVED or element.id.startswith("__"):
                raise self.refuse(element, f"a comprehension cannot bind the name {element.id!r}")
            names.append(element.id)
        return tuple(names)


class _Loop:
    """One ``for NAMES in ITERABLE if CONDITIONS`` clause, compiled."""

    __slots__ = ("conditions", "get", "iterable", "names")

    def __init__(self, iterable: _Node, names: tuple[str, ...], conditions: tuple[Run, ...]) -> None:
        self.iterable, self.get, self.names, self.conditions = iterable, iterable.run, names, conditions


def _text_key(key: Any, node: _Node, record: Any) -> str:
    if type(key) is not str:  # JSON objects have text keys
        raise _failure(f"a dict key must be a string, not {_kind(key)}", [(node, key)], record)
    return key


def _dict_emitter(key: _Node, item: _Node) -> Callable[[Scope, Any, Any], None]:
    get_key, get_item = key.run, item.run

    def emit(scope: Scope, value: Any, out: Any) -> None:
        out[_text_key(get_key(scope, value), key, scope)] = get_item(scope, value)

    return emit


def _items(loop: _Loop, scope: Scope, value: Any) -> Any:
    items = loop.get(scope, value)
    if isinstance(items, dict):
        items = list(items)
    elif not isinstance(items, list | tuple | str):
        raise _failure(f"cannot go over {_kind(items)}", [(loop.iterable, items)], scope)
    budget = scope.budget
    budget[0] -= len(items)
    if budget[0] < 0:
        raise TransformError(
            f"comprehensions went over more than {MAX_ITERATIONS:,} items", field=loop.iterable.path
        )
    return items


def _bind(scope: Scope, names: tuple[str, ...], item: Any) -> None:
    if len(names) == 1:
        scope[names[0]] = item
        return
    if not isinstance(item, list | tuple) or len(item) != len(names):
        size = f" of {len(item)}" if isinstance(item, list | tuple) else ""
        raise TransformError(f"cannot unpack {_kind(item)}{size} into {len(names)} names")
    for name, part in zip(names, item, strict=True):
        scope[name] = part


def _runner(
    loops: tuple[_Loop, ...], emit: Callable[[Scope, Any, Any], None], make: Callable[[], Any]
) -> Run:
    last = len(loops) - 1

    def go(level: int, scope: Scope, value: Any, out: Any) -> None:
        loop = loops[level]
        names, conditions = loop.names, loop.conditions
        for item in _items(loop, scope, value):
            _bind(scope, names, item)
            if conditions and not all(condition(scope, value) for condition in conditions):
                continue
            if level == last:
                emit(scope, value, out)
            else:
                go(level + 1, scope, value, out)

    def run(record: Any, value: Any) -> Any:
        scope = Scope()
        scope.parent = record
        if type(record) is Scope:  # nested: the same record, the same budget
            scope.root, scope.budget = record.root, record.budget
        else:
            scope.root, scope.budget = record, [MAX_ITERATIONS]
        out = make()
        go(0, scope, value, out)
        return out

    return run
