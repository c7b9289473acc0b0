"""Lazy exports of a package (PEP 562): a public name's module is imported when the name is first used.

    # in a package's __init__.py, beside `if TYPE_CHECKING:` imports of the same names for type checkers
    __getattr__, __dir__ = lazy_exports(__name__, {"embedded": ("EmbeddedStore",), "sink": ("GraphSink",)})

So ``import contextbridge`` (and ``contextbridge --help``) does not load psycopg, owlrl, aiomqtt,
pyoxigraph or rdflib: each command imports what it uses, when it uses it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, modules: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``modules`` maps a submodule (relative
    name) to the public names it defines."""
    where = {name: module for module, names in modules.items() for name in names}
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value  # once: later uses find it without coming back here
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
