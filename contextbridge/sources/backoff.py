"""Exponential backoff with jitter, shared by the sources that reconnect or retry (HTTP poll, MQTT).

    >>> backoff = Backoff(initial=0.5, maximum=60.0)
    >>> backoff.delay(3)        # about 0.5 * 2**2 = 2 s, plus up to ``jitter`` s of random spread

Jitter spreads the retries of many workers that lost the same server at the same moment, so
they do not all come back together (the "thundering herd" after a broker restart).
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import RetryCallState
from tenacity.wait import wait_exponential_jitter

from .settings import Settings

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Waits of ``initial * 2**(n-1)`` seconds (at most ``maximum``), plus random ``[0, jitter)``.

    ``attempts`` bounds the tries of one operation (``None``: never give up).
    """

    initial: float = 0.5
    maximum: float = 60.0
    jitter: float = 1.0
    attempts: int | None = 5

    def wait(self) -> wait_exponential_jitter:
        """The tenacity wait strategy."""
        return wait_exponential_jitter(multiplier=self.initial, max=self.maximum, jitter=self.jitter)

    def delay(self, attempt: int) -> float:
        """The wait before try ``attempt + 1`` after ``attempt`` failures (1-based)."""
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]  # no retrying object needed
        state.attempt_number = attempt
        return float(self.wait()(state))

    @classmethod
    def from_settings(cls, settings: Settings | None, *, attempts: int | None = 5) -> Backoff:
        """``retry: {initial, maximum, jitter, attempts}``; each optional."""
        if settings is None:
            return cls(attempts=attempts)
        initial = settings.number("initial", cls.initial)
        maximum = settings.number("maximum", cls.maximum)
        jitter = settings.number("jitter", cls.jitter)
        tries = settings.integer("attempts", attempts or 0)
        return cls(initial, max(maximum, initial), jitter, tries or None)
