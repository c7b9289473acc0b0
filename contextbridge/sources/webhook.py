"""Webhook push: the service hands each request to a ``WebhookSource``, which checks and queues it.

    >>> source = WebhookSource("ttn", api_key="s3cret", header="X-Api-Key")
    >>> # in the service's request handler:
    >>> body = await source.receive(request.stream(), request.headers)  # credentials, then the size
    >>> source.verify(body, request.headers)              # WebhookAuthError (401), PayloadTooLarge (413)
    >>> stored = await source.push(body, request.headers, metadata={"path": request.url.path})
    >>> await stored                                       # the consumer acked: answer 202
    >>> # in the feed's consumer:
    >>> async for message in source.messages(): ...; await message.ack()

Authentication, one or both:
- an API key in a header (``X-Api-Key`` by default, or ``Authorization`` with ``scheme: Bearer``):
  what The Things Stack ("additional headers" of a webhook) and ChirpStack (HTTP integration
  "headers") send: neither signs its bodies, so a shared secret header over TLS is their way;
- an HMAC-SHA256 of the raw body under a shared secret, hex or base64, in a header
  (``X-Signature-256`` by default; an optional ``prefix`` such as ``sha256=`` is stripped), as
  GitHub-style senders and gateways in front of network servers do.
Secrets are compared in constant time. A refused request queues nothing.

Credentials are judged before the size: a request without valid ones is refused 401 whatever its
size, and only a sender whose credentials hold learns that its body is over ``max_body`` (413), so
that a stranger cannot tell a feed that exists by its size limit. A key is in the headers, judged
before anything is read; a signature needs the body, which ``receive`` reads and hashes up to
``SIGNED_READ`` times ``max_body`` (keeping at most ``max_body`` of it): a body that does not
verify, or is too large to be verified within that bound, is a 401.

Delivery: ``push`` waits (at most ``enqueue_timeout`` seconds, else WebhookBusy, 503) for room in
the bounded queue and returns an ``asyncio.Future`` that completes when the consumer acks the
message, or fails with the consumer's error on ``nack``. Answering 202 only then makes the sender
the holder of the data until it is durable: a crash before loses nothing the sender does not retry.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal

from ..errors import PayloadTooLarge, WebhookAuthError, WebhookBusy, WebhookRefused
from .base import Message, utc_now
from .settings import Settings

__all__ = ["WebhookSource"]

_CLOSE = object()
SIGNED_READ = 4  # a signed body is read and hashed up to this many times max_body, then refused 401


class WebhookSource:
    """Requests pushed by the service, verified, queued (bounded) and acknowledged by the consumer."""

    kind = "webhook"

    def __init__(
        self,
        name: str = "webhook",
        *,
        api_key: str | None = None,
        header: str = "X-Api-Key",
        scheme: str | None = None,
        secret: str | None = None,
        signature_header: str = "X-Signature-256",
        encoding: Literal["hex", "base64"] = "hex",
        prefix: str = "",
        max_body: int = 1_000_000,
        queue_size: int = 100,
        enqueue_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.api_key = api_key.encode() if api_key else None
        self.header = header
        self.scheme = scheme
        self.secret = secret.encode() if secret else None
        self.signature_header = signature_header
        self.encoding = encoding
        self.prefix = prefix
        self.max_body = max_body
        self.enqueue_timeout = enqueue_timeout
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self._closed = False
        self.refused = 0
        # Credentials never reach the records (nor, through them, the dead-letter queue).
        self._hidden = frozenset({"authorization", header.lower(), signature_header.lower()})

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise a WebhookRefused (with its HTTP status) unless the request may be queued.

        ``headers`` is looked up case-insensitively when it is a plain dict (starlette's and
        httpx's header objects already are).
        """
        try:
            self._verify(body, headers)
        except WebhookRefused:
            self.refused += 1
            raise

    def _verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        self._check_key(headers)
        expected = self._signature(headers)
        if expected is not None and not hmac.compare_digest(
            expected, hmac.digest(self.secret or b"", body, hashlib.sha256)
        ):
            raise self._mismatch()
        if len(body) > self.max_body:
            raise PayloadTooLarge(f"body of {len(body)} bytes is over {self.max_body}", source=self.name)

    async def receive(
        self, chunks: AsyncIterable[bytes], headers: Mapping[str, str], *, length: int | None = None
    ) -> bytes:
        """The body of a request, read once its credentials hold; WebhookAuthError (401) for a
        request without valid credentials whatever its size, PayloadTooLarge (413) only after.

        ``chunks`` is the body as it arrives, ``length`` its declared ``Content-Length`` (None:
        unknown). A key is judged before anything is read; a signed body is hashed as it comes,
        up to ``SIGNED_READ`` × ``max_body`` bytes, and never more than ``max_body`` is kept.
        """
        try:
            return await self._receive(chunks, headers, length)
        except WebhookRefused:
            self.refused += 1
            raise

    async def _receive(
        self, chunks: AsyncIterable[bytes], headers: Mapping[str, str], length: int | None
    ) -> bytes:
        self._check_key(headers)
        expected = self._signature(headers)
        limit = self.max_body
        bound = limit if expected is None else limit * SIGNED_READ
        if length is not None and length > bound:
            raise self._unverifiable() if expected is not None else self._too_large()
        mac = hmac.new(self.secret or b"", digestmod=hashlib.sha256)
        kept: list[bytes] = []
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > bound:
                raise self._unverifiable() if expected is not None else self._too_large()
            if expected is not None:
                mac.update(chunk)
            if size <= limit:
                kept.append(chunk)
        if expected is not None and not hmac.compare_digest(expected, mac.digest()):
            raise self._mismatch()
        if size > limit:
            raise self._too_large()
        return b"".join(kept)

    def _check_key(self, headers: Mapping[str, str]) -> None:
        """The API key of the headers, if the feed has one; else WebhookAuthError."""
        if self.api_key is None:
            return
        given = _header(headers, self.header)
        if given is None:
            raise WebhookAuthError(f"missing {self.header} header", source=self.name)
        if self.scheme:
            scheme, _, given = given.partition(" ")
            if scheme.lower() != self.scheme.lower():
                raise WebhookAuthError(f"{self.header}: expected the {self.scheme} scheme", source=self.name)
        if not hmac.compare_digest(given.strip().encode(), self.api_key):
            raise WebhookAuthError(f"wrong key in {self.header}", source=self.name)

    def _signature(self, headers: Mapping[str, str]) -> bytes | None:
        """The body signature the headers give (None: the feed has no secret); WebhookAuthError if
        it is missing or lacks its prefix (an undecodable one is compared as garbage)."""
        if self.secret is None:
            return None
        signature = _header(headers, self.signature_header)
        if signature is None:
            raise WebhookAuthError(f"missing {self.signature_header} header", source=self.name)
        signature = signature.strip()
        if self.prefix:
            if not signature.startswith(self.prefix):
                raise WebhookAuthError(f"{self.signature_header}: expected {self.prefix}…", source=self.name)
            signature = signature[len(self.prefix) :]
        return self._decode(signature)

    def _mismatch(self) -> WebhookAuthError:
        return WebhookAuthError(
            f"{self.signature_header}: the body signature does not match", source=self.name
        )

    def _unverifiable(self) -> WebhookAuthError:
        bound = self.max_body * SIGNED_READ
        return WebhookAuthError(
            f"{self.signature_header}: a body over {bound} bytes ({SIGNED_READ}× the limit) is not verified",
            source=self.name,
        )

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the body is over {self.max_body:,} bytes", source=self.name)

    def _decode(self, signature: str) -> bytes:
        try:
            if self.encoding == "hex":
                return bytes.fromhex(signature)
            return base64.b64decode(signature, validate=True)
        except (ValueError, binascii.Error):
            # Undecodable: compared as garbage, so the answer is the same 401 as a wrong signature.
            return b""

    def sign(self, body: bytes) -> str:
        """The signature header value a sender would compute for ``body`` (tests, client examples)."""
        if self.secret is None:
            raise ValueError("this webhook has no secret")
        digest = hmac.digest(self.secret, body, hashlib.sha256)
        text = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return self.prefix + text

    async def push(
        self, body: bytes, headers: Mapping[str, str], *, metadata: Mapping[str, Any] | None = None
    ) -> asyncio.Future[None]:
        """Verify and queue one request; the returned future completes when its records are stored."""
        if self._closed:
            raise WebhookBusy("the feed is stopping", source=self.name)
        self.verify(body, headers)
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A request abandoned by its client leaves nobody to await the outcome: mark it retrieved.
        stored.add_done_callback(lambda done: done.cancelled() or done.exception())

        async def ack() -> None:
            if not stored.done():
                stored.set_result(None)

        async def nack(error: BaseException) -> None:
            if not stored.done():
                stored.set_exception(error)

        message = Message(
            name=self.name,
            metadata={
                "headers": {k.lower(): v for k, v in headers.items() if k.lower() not in self._hidden},
                "received_at": utc_now(),
                **(metadata or {}),
            },
            payload=body,
            _ack=ack,
            _nack=nack,
        )
        try:
            await asyncio.wait_for(self._queue.put(message), timeout=self.enqueue_timeout)
        except TimeoutError:
            raise WebhookBusy(
                f"queue full for {self.enqueue_timeout:g}s",
                source=self.name,
                retry_after=self.enqueue_timeout,
            ) from None
        return stored

    async def messages(self) -> AsyncIterator[Message]:
        while not (self._closed and self._queue.empty()):
            item = await self._queue.get()
            if item is _CLOSE:
                return
            yield item

    async def close(self) -> None:
        """Refuse new pushes; the consumer drains what is queued, then ``messages()`` ends."""
        if not self._closed:
            self._closed = True
            # Wakes a consumer waiting on an empty queue; a full queue is drained first, then the loop ends.
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(_CLOSE)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    @classmethod
    def from_config(cls, settings: Settings, *, base_dir: Path) -> WebhookSource:
        name = settings.text("name", "webhook") or "webhook"
        api_key = settings.text("api_key")
        secret = settings.text("secret")
        insecure = settings.flag("insecure", False)
        if api_key is None and secret is None and not insecure:
            settings.problem("api_key", "a webhook needs api_key or secret (or insecure: true)")
        return cls(
            name,
            api_key=api_key,
            header=settings.text("header", "X-Api-Key") or "X-Api-Key",
            scheme=settings.text("scheme"),
            secret=secret,
            signature_header=settings.text("signature_header", "X-Signature-256") or "X-Signature-256",
            encoding=settings.choice("encoding", "hex"),
            prefix=settings.text("prefix", "") or "",
            max_body=settings.integer("max_body", 1_000_000),
            queue_size=settings.integer("queue_size", 100),
            enqueue_timeout=settings.number("enqueue_timeout", 5.0),
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
