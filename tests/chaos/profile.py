"""The test profile, shared by the hostile-input (``tests/fuzz``) and chaos (``tests/chaos``) suites.

    CONTEXTBRIDGE_PROFILE=long pytest tests/test_chaos_*.py tests/test_hostile_*.py

``short`` (the default, what CI runs) or ``long`` (on demand: many more examples, entities, rounds,
kills and seeds). ``CONTEXTBRIDGE_FUZZ=long`` is still accepted, as an older name of the same switch.

    >>> ENTITIES = scale(60, 600)      # 60 in the short profile, 600 in the long one
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")


def _profile() -> str:
    for variable in ("CONTEXTBRIDGE_PROFILE", "CONTEXTBRIDGE_FUZZ"):
        value = os.environ.get(variable, "").strip().lower()
        if value:
            if value not in ("short", "long"):
                raise ValueError(f"{variable}={value!r}: expected 'short' or 'long'")
            return value
    return "short"


PROFILE = _profile()
LONG = PROFILE == "long"


def scale(short: T, long: T) -> T:
    """``short`` in the short profile, ``long`` in the long one."""
    return long if LONG else short
