"""The one retry policy: exponential backoff with jitter, ``Retry-After`` obeyed, on tenacity.

    >>> policy = RetryPolicy(initial=0.5, maximum=60.0, attempts=5)
    >>> async for attempt in policy.retrying(sleep=pause):     # tenacity's AsyncRetrying
    ...     with attempt:
    ...         await send()                                   # DeliveryError: tried again
    >>> policy.delay(3)          # about 0.5 * 2**2 = 2 s, plus up to ``jitter`` s of random spread

Every component that tries again uses it: the drainer (a sink down), the HTTP poll source (a feed
down), the MQTT and NATS sources (reconnecting). Jitter spreads the retries of many workers that
lost the same server at the same moment, so they do not all come back together (the "thundering
herd" after a broker restart). A server that says when to come back (``Retry-After``, carried by
``DeliveryError.retry_after``) is obeyed instead of the backoff, up to ``max_retry_after``.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_never
from tenacity.wait import wait_base

from ..errors import DeliveryError

__all__ = ["RetryPolicy", "retry_after"]


class _Settings(Protocol):
    """What ``RetryPolicy.from_settings`` reads: a section of options (the sources' ``Settings``)."""

    def number(self, name: str, default: float, /) -> float: ...

    def integer(self, name: str, default: int, /) -> int: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Waits of ``initial * 2**(n-1)`` seconds plus random ``[0, jitter)``, at most ``maximum``; a
    ``Retry-After`` is obeyed instead, up to ``max_retry_after``. ``attempts`` bounds the tries of
    one operation (``None``: never give up)."""

    initial: float = 0.5
    maximum: float = 60.0
    jitter: float = 1.0
    max_retry_after: float = 3600.0
    attempts: int | None = None

    def delay(self, attempt: int) -> float:
        """The wait after ``attempt`` failures in a row (1-based), before the next try."""
        spread = random.uniform(0, self.jitter)
        try:
            wait = self.initial * 2 ** (attempt - 1) + spread
        except OverflowError:
            wait = self.maximum
        return max(0.0, min(wait, self.maximum))

    def wait(self, error: BaseException | None, attempt: int) -> float:
        """The wait after ``error`` ended try ``attempt``: its ``Retry-After``, else the backoff."""
        after = getattr(error, "retry_after", None)
        if after is not None:
            return float(min(after, self.max_retry_after))
        return self.delay(attempt)

    def retrying(
        self,
        *,
        retry: Callable[[BaseException], bool] = lambda error: isinstance(error, DeliveryError),
        sleep: Callable[[float], Awaitable[None]],
        before_sleep: Callable[[RetryCallState], Any] | None = None,
    ) -> AsyncRetrying:
        """A tenacity loop that retries the errors ``retry`` accepts (``DeliveryError``), waiting as
        this policy says with ``sleep`` (which may raise to stop), and gives up after ``attempts``
        by raising the last error."""
        return AsyncRetrying(
            retry=retry_if_exception(retry),
            wait=_Wait(self),
            stop=stop_never if self.attempts is None else stop_after_attempt(self.attempts),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    @classmethod
    def from_settings(cls, settings: _Settings | None, *, attempts: int | None = 5) -> RetryPolicy:
        """``retry: {initial, maximum, jitter, attempts}`` of a source, each optional; a
        ``Retry-After`` is obeyed up to ``maximum``."""
        if settings is None:
            return cls(attempts=attempts, max_retry_after=cls.maximum)
        initial = settings.number("initial", cls.initial)  # the ranges: sources.schema.json
        maximum = max(settings.number("maximum", cls.maximum), initial)
        jitter = settings.number("jitter", cls.jitter)
        tries = settings.integer("attempts", attempts or 0)
        return cls(initial, maximum, jitter, maximum, tries or None)


class _Wait(wait_base):
    """The policy as tenacity's wait strategy."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        return self.policy.wait(error, retry_state.attempt_number)


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
