"""The exceptions contextbridge raises, grouped by what the caller does next.

    ContextBridgeError
     ├── ConfigError              fix the configuration, then start again
     │    ├── MappingError         fix the mapping file (one or more located problems)
     │    ├── OptionsError         fix these options of one section (every wrong key, in reading order)
     │    └── RemoteRefused        a remote (HTTP poll, lookup) refused for good (401, 403, 404...):
     │                             fix its URL or credentials; retrying will not help
     ├── OntologyError            fix the ontology files
     ├── RecordError              skip this record; the rest of the feed goes on
     │    ├── FormatError          the input bytes could not be parsed
     │    ├── TransformError       a value of the record could not be translated
     │    ├── InvalidEntityError   the record gave an entity that breaks an NGSI-LD rule
     │    └── ConstraintError      the record gave an entity that breaks a Smart Data Models constraint
     ├── EntityError              an entity breaks an NGSI-LD rule (never sent to the broker)
     ├── DeviceError              a device description is invalid: fix the description
     ├── Unavailable              out of reach for now: retry later (``retry_after`` when known)
     │    ├── DeliveryError        a sink (broker, graph store, webhook) or a remote cannot be reached now
     │    ├── OutboxError          the outbox's database failed an operation; nothing of it was stored
     │    └── QueryBusy            every query slot is taken
     ├── Rejected                 refused for good: do not retry
     │    ├── SinkRefused          a sink (broker, graph, webhook) refused a batch (its ProblemDetails):
     │    │    │                   dead-letter it
     │    │    └── BrokerError     the broker's refusal
     │    └── GraphStoreError      the graph store's refusal (bad data or a bad request)
     │         └── QueryError       a SPARQL query is wrong or was refused: fix the query
     │              ├── QueryRefused  the query would change the graph (the interface is read-only)
     │              └── QueryTimeout  the query ran longer than its timeout
     └── WebhookRefused           the service refused a webhook request (400): the sender fixes it
          ├── WebhookAuthError     the request does not prove who sent it (401)
          ├── PayloadTooLarge      the body is larger than the source accepts (413)
          └── WebhookBusy          the queue stayed full: the sender retries later (503, Retry-After)

Every error carries where it happened: a mapping file and line, a record number and
field, an entity id and attribute. ``str(error)`` puts the place first, as compilers do.
``Problem`` is no exception: it is one located mistake of a ``MappingError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class ContextBridgeError(Exception):
    """Root of every error contextbridge raises on purpose."""


class ConfigError(ContextBridgeError):
    """The configuration is wrong; nothing can run until it is fixed.

    ``key`` names the offending key (relative to where the caller was looking), when known,
    so that the caller can point at its line.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    """One located mistake in a file: ``file:line: key: message``."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        place = ":".join(str(part) for part in (self.file, self.line) if part is not None)
        key = f"{self.key}: " if self.key else ""
        return f"{place}: {key}{self.message}" if place else f"{key}{self.message}"


class MappingError(ConfigError):
    """A mapping cannot be loaded. ``problems`` lists every mistake found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class RemoteRefused(ConfigError):
    """A remote the configuration names (an HTTP poll, a lookup table) refused the request for good
    (401, 403, 404...): its URL or credentials must change; retrying will not help.

    ``url`` is the address asked, ``status`` the HTTP status of the answer.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(f"{message} ({url})" if url else message)


class OptionsError(ConfigError):
    """Several options of one section (a format's, a source's) are wrong, each reported.

    ``problems`` lists every ``(key, message)`` in reading order, ``key`` (the first's) relative to
    the section; ``str()`` joins the messages, each of which names its key.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(message for _, message in self.problems), key=self.problems[0][0])


class OntologyError(ContextBridgeError):
    """The ontology cannot be loaded or is inconsistent."""


class RecordError(ContextBridgeError):
    """One input record could not be turned into entities; it is rejected, the feed goes on.

    ``record`` is the 1-based position of the record in its input, ``field`` the
    record field (or mapping attribute) at fault, ``source`` the input's name.
    ``kind`` is a short stable reason code used for counting rejects; ``data`` the record.
    """

    kind = "record"

    def __init__(
        self,
        reason: str,
        *,
        record: int | None = None,
        field: str | None = None,
        source: str | None = None,
        data: Any = None,
    ) -> None:
        self.reason = reason
        self.data = data  # the rejected record itself, kept for the dead-letter queue
        self.record = record
        self.field = field
        self.source = source
        super().__init__(reason)

    def located(
        self, *, record: int | None = None, source: str | None = None, data: Any = None
    ) -> RecordError:
        """Fill in the position once it is known (errors are raised deep, located shallow)."""
        if self.record is None:
            self.record = record
        if self.source is None:
            self.source = source
        if self.data is None:
            self.data = data
        return self

    def __str__(self) -> str:
        place = [self.source or "", f"record {self.record}" if self.record is not None else ""]
        where = ", ".join(part for part in place if part)
        field = f" field {self.field!r}:" if self.field else ""
        return f"{where}:{field} {self.reason}" if where else f"{field} {self.reason}".strip()


class FormatError(RecordError):
    """The input could not be parsed (bad JSON, XML, CSV row, encoding)."""

    kind = "format"


class TransformError(RecordError):
    """A record value could not be translated (missing field, bad number, bad date...)."""

    kind = "transform"


class InvalidEntityError(RecordError):
    """A record's entity failed validation; ``problems`` holds each broken rule."""

    kind = "entity"

    def __init__(self, problems: list[EntityError], **where: Any) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"invalid entity: {first}{more}", field=first.attribute, **where)


class ConstraintError(RecordError):
    """A record's entity breaks a Smart Data Models constraint (a feed with ``constraints: reject``)."""

    kind = "constraint"


class EntityError(ContextBridgeError):
    """An entity breaks an NGSI-LD rule. ``error_type`` is the ProblemDetails type Orion-LD would answer."""

    def __init__(
        self,
        message: str,
        *,
        entity_id: str | None = None,
        attribute: str | None = None,
        rule: str | None = None,
        error_type: str = "BadRequestData",
    ) -> None:
        self.message = message
        self.entity_id = entity_id
        self.attribute = attribute
        self.rule = rule
        self.error_type = error_type
        super().__init__(message)

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                self.entity_id or "",
                f"attribute {self.attribute!r}" if self.attribute else "",
            )
            if part
        )
        rule = f" [{self.rule}]" if self.rule else ""
        return (
            f"{where}: {self.error_type}: {self.message}{rule}"
            if where
            else f"{self.error_type}: {self.message}{rule}"
        )


class Unavailable(ContextBridgeError):
    """Something needed is out of reach for now; the same call may succeed later.

    ``retry_after`` is the seconds to wait when the other side said so (``Retry-After``), else None.
    """

    retry_after: float | None = None


class Rejected(ContextBridgeError):
    """Refused for good: sending the same request again gives the same answer (dead-letter it)."""


class DeliveryError(Unavailable):
    """A sink could not be reached or answered with a transient failure; the caller retries.

    ``status`` is the HTTP status when there was an answer; ``retry_after`` the seconds the
    server asked to wait (``Retry-After``), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.url = url
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"{message} ({url})" if url else message)


class OutboxError(Unavailable):
    """The outbox's database failed an operation (connection lost, disk full, locked too long):
    nothing of that operation was stored, and it may be tried again later. ``outbox`` says which."""

    def __init__(self, message: str, *, outbox: str | None = None) -> None:
        self.outbox = outbox
        super().__init__(f"outbox {outbox}: {message}" if outbox else f"outbox: {message}")


class SinkRefused(Rejected):
    """A sink (the broker, the graph, a webhook) refused a request for good: do not retry; the
    entities go to the dead-letter queue. ``problem`` is the ProblemDetails saying why.

    ``entity_id`` is set when the refusal concerns one entity of a batch.
    """

    def __init__(
        self,
        problem: dict[str, Any],
        *,
        status: int | None = None,
        url: str | None = None,
        entity_id: str | None = None,
    ) -> None:
        self.problem = problem
        self.status = status
        self.url = url
        self.entity_id = entity_id
        kind = str(problem.get("type", "")).rsplit("/", 1)[-1] or "error"
        detail = problem.get("detail") or problem.get("title") or ""
        who = f"{entity_id}: " if entity_id else ""
        code = f"{status} " if status is not None else ""
        super().__init__(f"{who}{code}{kind}: {detail}".rstrip(": "))


class BrokerError(SinkRefused):
    """The broker refused a request for good. ``problem`` is its ProblemDetails body."""

    status: int

    def __init__(
        self,
        problem: dict[str, Any],
        *,
        status: int,
        url: str | None = None,
        entity_id: str | None = None,
    ) -> None:
        super().__init__(problem, status=status, url=url, entity_id=entity_id)


class GraphStoreError(Rejected):
    """The graph store refused a request for good (bad data or a bad request): do not retry."""


class QueryError(GraphStoreError):
    """A SPARQL query is wrong (syntax, unknown prefix...) or was refused."""


class QueryRefused(QueryError):
    """The query would change the graph; the query interface is read-only."""


class QueryTimeout(QueryError):
    """The query ran longer than its timeout."""


class QueryBusy(Unavailable):
    """Every query slot is taken (abandoned queries may still be running): try again later."""


class WebhookRefused(ContextBridgeError):
    """A webhook request was refused before anything was queued."""

    status = 400

    def __init__(self, reason: str, *, source: str | None = None) -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"webhook {source}: {reason}" if source else f"webhook: {reason}")


class WebhookAuthError(WebhookRefused):
    """The request does not prove who sent it (API key or body signature missing or wrong)."""

    status = 401


class PayloadTooLarge(WebhookRefused):
    """The body is larger than the source accepts."""

    status = 413


class WebhookBusy(WebhookRefused):
    """The consumer is behind and the queue stayed full; the sender should retry later."""

    status = 503

    def __init__(self, reason: str, *, source: str | None = None, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(reason, source=source)


class DeviceError(ContextBridgeError):
    """A device description is invalid; ``field`` names the place (``attributes.latitude``)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)
