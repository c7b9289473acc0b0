"""Seeds of the chaos scenarios: fixed in the short profile, new ones in the long, one on demand.

    >>> for seed in seeds("broker-faults", rounds=scale(1, 5)):
    ...     with reported(seed):
    ...         run_scenario(random.Random(seed))

``CONTEXTBRIDGE_CHAOS_SEED=N`` runs every scenario once with seed ``N`` (to replay a failure); the
short profile derives one seed per scenario from its name (the same in every CI run); the long
profile draws ``rounds`` new ones. ``reported`` prints the seed and adds it to any failure.
"""

from __future__ import annotations

import contextlib
import os
import random
import zlib
from collections.abc import Iterator

from .profile import LONG

VARIABLE = "CONTEXTBRIDGE_CHAOS_SEED"


def seeds(name: str, *, rounds: int = 1) -> list[int]:
    """The seeds to run scenario ``name`` with."""
    given = os.environ.get(VARIABLE, "").strip()
    if given:
        return [int(given)]
    if LONG:
        return [random.SystemRandom().randrange(1 << 32) for _ in range(rounds)]
    return [zlib.crc32(name.encode())]


@contextlib.contextmanager
def reported(seed: int) -> Iterator[None]:
    """Print ``seed`` (shown by pytest with a failure's output) and name it in any exception."""
    print(f"chaos seed: {seed} (replay with {VARIABLE}={seed})")
    try:
        yield
    except BaseException as error:
        error.add_note(f"chaos seed: {seed} (replay with {VARIABLE}={seed})")
        raise
