"""The compiler: a checked Python AST becomes nested closures, once."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any, Final

from ...errors import ConfigError, TransformError
from .comprehensions import _Collections
from .functions import FUNCTIONS, _str
from .nodes import _constant, _failure, _getter, _item, _Node
from .operators import _BINARY, _COMPARE, _ERRORS, MAX_DEPTH, _bounded, _kind, _mismatch
from .patterns import PATTERN_FUNCTIONS, compile_pattern_call


def _check_depth(tree: ast.AST, source: str) -> None:
    # Iterative: a recursive walk could itself overflow on the trees it is meant to refuse.
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"{_column(node, source)}: expression is nested deeper than {MAX_DEPTH}")
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))


def _column(node: ast.AST, source: str | None = None) -> str:
    line, offset = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
    if source is not None:  # col_offset counts UTF-8 bytes; people count characters
        text = source.splitlines()[line - 1] if source else ""
        offset = len(text.encode()[:offset].decode(errors="ignore"))
    return f"line {line}, column {offset + 1}" if line > 1 else f"column {offset + 1}"


_REFUSED: Final[dict[type, str]] = {
    ast.BitAnd: "operator '&'",
    ast.BitOr: "operator '|'",
    ast.BitXor: "operator '^'",
    ast.LShift: "operator '<<'",
    ast.RShift: "operator '>>'",
    ast.MatMult: "operator '@'",
    ast.Invert: "operator '~'",
    ast.Lambda: "lambda",
    ast.SetComp: "set comprehension",
    ast.NamedExpr: "assignment expression ':='",
    ast.Starred: "starred expression",
    ast.Set: "set display",
    ast.Slice: "slice (use substr)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


class _Compiler(_Collections):
    """Turns a checked AST into _Nodes, collecting the field paths read."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.names: set[str] = set()
        self.bound: list[str] = []  # names bound by enclosing comprehensions

    def refuse(self, node: ast.AST, message: str) -> ConfigError:
        return ConfigError(f"{_column(node, self.source)}: {message}")

    def compile(self, node: ast.expr) -> _Node:
        compiled = self._compile(node)
        if compiled.path is not None:  # a path used as a value, not as the base of a longer path
            self.names.add(compiled.path)
        return compiled

    def fold(self, node: ast.expr, compiled: _Node, children: Sequence[_Node]) -> _Node:
        """Compute a subtree without names now, once."""
        if not all(child.constant for child in children):
            return compiled
        try:
            return _constant(compiled.run({}, None))
        except TransformError as error:
            raise self.refuse(node, error.reason) from None

    def _compile(self, node: ast.expr) -> _Node:
        kind = type(node).__name__
        if kind not in _ALLOWED:
            construct = _REFUSED.get(type(node), type(node).__name__)
            raise self.refuse(node, f"{construct} is not allowed")
        result: _Node = getattr(self, f"_{kind}")(node)
        return result

    def _Constant(self, node: ast.Constant) -> _Node:
        if node.value is not None and type(node.value) not in (str, int, float, bool):
            raise self.refuse(node, f"{type(node.value).__name__} literal is not allowed")
        return _constant(node.value)

    def _Name(self, node: ast.Name) -> _Node:
        name = node.id
        if name.startswith("__"):
            raise self.refuse(node, f"name {name!r} is not allowed")
        if name == "value":
            return _Node(lambda _record, value: value)
        if name in self.bound:  # a comprehension's name: its scope holds it
            return _Node(lambda scope, _value: scope[name])
        steps = () if name == "record" else (name,)
        return _Node(_getter(steps), steps=steps)

    def _Attribute(self, node: ast.Attribute) -> _Node:
        if node.attr.startswith("__"):
            raise self.refuse(node, f"attribute {node.attr!r} is not allowed")
        return self._lookup(node, node.value, _constant(node.attr))

    def _Subscript(self, node: ast.Subscript) -> _Node:
        return self._lookup(node, node.value, self.compile(node.slice))

    def _lookup(self, node: ast.expr, base_node: ast.expr, key: _Node) -> _Node:
        base = self._compile(base_node)
        static_key = type(key.const) in (str, int)
        if base.steps is not None and static_key:  # still a plain record path
            steps = (*base.steps, key.const)
            return _Node(_getter(steps), steps=steps)
        if base.path is not None:
            self.names.add(base.path)
        get_base, get_key = base.run, key.run

        def look_up(record: Any, value: Any) -> Any:
            container, index = get_base(record, value), get_key(record, value)
            try:
                return _item(container, index)
            except TypeError as error:
                raise _failure(str(error), [(key, index)], record) from None

        return self.fold(node, _Node(look_up), [base, key])

    def _List(self, node: ast.List) -> _Node:
        items = [self.compile(item) for item in node.elts]
        runs = [item.run for item in items]
        return self.fold(node, _Node(lambda record, value: [run(record, value) for run in runs]), items)

    def _Tuple(self, node: ast.Tuple) -> _Node:
        items = [self.compile(item) for item in node.elts]
        runs = [item.run for item in items]
        return self.fold(node, _Node(lambda record, value: tuple(run(record, value) for run in runs)), items)

    def _UnaryOp(self, node: ast.UnaryOp) -> _Node:
        operand = self.compile(node.operand)
        get = operand.run
        if isinstance(node.op, ast.Not):
            return self.fold(node, _Node(lambda record, value: not get(record, value)), [operand])
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise self.refuse(node, f"{_REFUSED[type(node.op)]} is not allowed")
        negate = isinstance(node.op, ast.USub)

        def sign(record: Any, value: Any) -> Any:
            number = get(record, value)
            if not isinstance(number, int | float):  # also refuses -"abc" and -None
                what = "negate" if negate else "apply unary + to"
                raise _failure(f"cannot {what} {_kind(number)}", [(operand, number)], record)
            return -number if negate else +number

        return self.fold(node, _Node(sign), [operand])

    def _BinOp(self, node: ast.BinOp) -> _Node:
        if type(node.op) not in _BINARY:
            raise self.refuse(node, f"{_REFUSED[type(node.op)]} is not allowed")
        verb, op = _BINARY[type(node.op)]
        left, right = self.compile(node.left), self.compile(node.right)
        get_left, get_right = left.run, right.run

        def fail(error: Exception, a: Any, b: Any, record: Any) -> TransformError:
            if isinstance(error, TransformError):
                reason = error.reason
            elif isinstance(error, ZeroDivisionError):
                return _failure("division by zero", [(right, b), (left, a)], record)
            elif isinstance(error, OverflowError):
                reason = "number too large"
            else:
                reason = f"cannot {verb} {_kind(a)} and {_kind(b)}"
            return _failure(reason, [(left, a), (right, b)], record)

        if right.constant:  # value * 0.01: the commonest shape, one closure call fewer
            b = right.const

            def binary_const(record: Any, value: Any) -> Any:
                a = get_left(record, value)
                try:
                    return op(a, b)
                except _ERRORS as error:
                    raise fail(error, a, b, record) from None

            return self.fold(node, _Node(binary_const), [left, right])

        def binary(record: Any, value: Any) -> Any:
            a, b = get_left(record, value), get_right(record, value)
            try:
                return op(a, b)
            except _ERRORS as error:
                raise fail(error, a, b, record) from None

        return self.fold(node, _Node(binary), [left, right])

    def _BoolOp(self, node: ast.BoolOp) -> _Node:
        operands = [self.compile(operand) for operand in node.values]
        runs = [operand.run for operand in operands]
        stop_at = isinstance(node.op, ast.Or)  # `or` stops at the first true operand, `and` at a false one

        def boolean(record: Any, value: Any) -> Any:
            result = None
            for run in runs:
                result = run(record, value)
                if bool(result) is stop_at:
                    return result
            return result

        return self.fold(node, _Node(boolean), operands)

    def _Compare(self, node: ast.Compare) -> _Node:
        operands = [self.compile(node.left), *(self.compile(item) for item in node.comparators)]
        steps: list[tuple[Callable[[Any, Any], bool], _Node, _Node]] = []
        for position, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot):
                sides = (node.left, *node.comparators)[position : position + 2]
                if not any(isinstance(side, ast.Constant) and side.value is None for side in sides):
                    raise self.refuse(node, "'is' and 'is not' compare with None only")
            steps.append((_COMPARE[type(op)], operands[position], operands[position + 1]))

        def compare(record: Any, value: Any) -> bool:
            a = operands[0].run(record, value)
            for test, left, right in steps:
                b = right.run(record, value)
                try:
                    if not test(a, b):
                        return False
                except (TypeError, ValueError) as error:
                    raise _failure(_mismatch(test, a, b), [(left, a), (right, b)], record) from error
                a = b
            return True

        if len(steps) > 1:
            return self.fold(node, _Node(compare), operands)
        if type(node.ops[0]) in (ast.In, ast.NotIn) and operands[1].constant:
            return self._membership(node, operands[0], operands[1].const, isinstance(node.ops[0], ast.NotIn))
        test, left, right = steps[0]
        get_left, get_right = left.run, right.run

        def compare_one(record: Any, value: Any) -> bool:  # the usual case: no loop
            a, b = get_left(record, value), get_right(record, value)
            try:
                return test(a, b)
            except (TypeError, ValueError) as error:
                raise _failure(_mismatch(test, a, b), [(left, a), (right, b)], record) from error

        return self.fold(node, _Node(compare_one), operands)

    def _membership(self, node: ast.expr, item: _Node, options: Any, negate: bool) -> _Node:
        """``status in ["a", "b"]``: a set look-up, built once."""
        try:
            members: frozenset[Any] | None = frozenset(options) if isinstance(options, list | tuple) else None
        except TypeError:  # unhashable options: the plain test below
            members = None
        get = item.run

        def member(record: Any, value: Any) -> bool:
            a = get(record, value)
            try:
                found = a in members if members is not None else a in options
            except TypeError:
                try:
                    found = a in options  # an unhashable item: compare one by one
                except TypeError as error:
                    reason = f"cannot look for {_kind(a)} in {_kind(options)}"
                    raise _failure(reason, [(item, a)], record) from error
            return found is not negate

        return self.fold(node, _Node(member), [item])

    def _IfExp(self, node: ast.IfExp) -> _Node:
        test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
        if test.constant:
            return body if test.const else orelse
        get_test, get_body, get_else = test.run, body.run, orelse.run
        return _Node(
            lambda record, value: (
                get_body(record, value) if get_test(record, value) else get_else(record, value)
            )
        )

    def _JoinedStr(self, node: ast.JoinedStr) -> _Node:
        parts: list[_Node] = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.conversion != -1 or part.format_spec is not None:
                    raise self.refuse(part, "f-string conversions and format specs are not allowed")
                parts.append(self.compile(part.value))
            else:
                parts.append(self.compile(part))

        def text(record: Any, value: Any) -> str:
            values = [part.run(record, value) for part in parts]
            try:
                return _bounded("".join(_str(item) for item in values))
            except TransformError as error:
                raise _failure(error.reason, list(zip(parts, values, strict=True)), record) from None

        return self.fold(node, _Node(text), parts)

    def _Call(self, node: ast.Call) -> _Node:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise self.refuse(
                node, f"method calls are not allowed; write {func.attr}(x), not x.{func.attr}()"
            )
        if not isinstance(func, ast.Name):
            raise self.refuse(node, "only the named functions can be called")
        known = ", ".join(sorted(FUNCTIONS))
        if func.id not in FUNCTIONS:
            raise self.refuse(node, f"function {func.id!r} is not allowed; allowed: {known}")
        if node.keywords:
            raise self.refuse(node, f"{func.id}() takes no keyword arguments")
        impl, least, most = FUNCTIONS[func.id]
        if len(node.args) < least or (most is not None and len(node.args) > most):
            expected = f"{least} to {most}" if most != least else str(least)
            expected = f"at least {least}" if most is None else expected
            plural = "s" if (most or least) != 1 else ""
            raise self.refuse(node, f"{func.id}() takes {expected} argument{plural} ({len(node.args)} given)")
        args = [self.compile(arg) for arg in node.args]
        if func.id == "coalesce":
            return self.fold(node, _coalesce(args), args)
        if func.id in PATTERN_FUNCTIONS:
            pattern = compile_pattern_call(func.id, args, lambda message: self.refuse(node, message))
            return self.fold(node, pattern, args)
        name, runs = func.id, [arg.run for arg in args]

        def fail(error: Exception, values: list[Any], record: Any) -> TransformError:
            reason = error.reason if isinstance(error, TransformError) else str(error)
            return _failure(f"{name}(): {reason}", list(zip(args, values, strict=True)), record)

        if len(runs) == 1:
            get = runs[0]

            def call_one(record: Any, value: Any) -> Any:
                a = get(record, value)
                try:
                    return impl(a)
                except _ERRORS as error:
                    raise fail(error, [a], record) from None

            return self.fold(node, _Node(call_one), args)

        def call(record: Any, value: Any) -> Any:
            values = [run(record, value) for run in runs]
            try:
                return impl(*values)
            except _ERRORS as error:
                raise fail(error, values, record) from None

        return self.fold(node, _Node(call), args)


# The node types the language has: those _Compiler has a builder for (_Name, _BinOp, _Dict...).
_ALLOWED: Final = frozenset(
    name[1:] for cls in _Compiler.__mro__ for name in vars(cls) if name[1:2].isupper() and name[0] == "_"
)


def _coalesce(args: list[_Node]) -> _Node:
    runs = [arg.run for arg in args]

    def coalesce(record: Any, value: Any) -> Any:
        for run in runs:  # lazily: later arguments are not computed once one is found
            found = run(record, value)
            if found is not None and found != "":
                return found
        return None

    return _Node(coalesce)
