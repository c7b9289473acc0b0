"""``/metrics``: the adapter's counters in the Prometheus text format.

    >>> registry = adapter_registry(adapter)
    >>> text = prometheus_client.generate_latest(registry)

The feeds, the translators and the drainers already count what they do, as plain integers on
their hot paths; this collector reads those counters when Prometheus scrapes, so nothing is
paid per record for metrics. The outbox depth and the dead-letter counts come from the
adapter's last reading of the outbox status (every few seconds, off the request path).

``/metrics`` needs no key, and feed ids name tenants' feeds: unless ``feeds=True`` (the
configuration's ``service.metrics.feeds``), the per-feed counts are summed under ``feed="*"``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from ..delivery.drainer import LATENCY_BUCKETS
from .adapter import Adapter

PREFIX = "contextbridge_"


class AdapterCollector(Collector):
    """Per feed: messages, records, entities, rejects by reason; per sink: delivery and the queue."""

    def __init__(self, adapter: Adapter, *, feeds: bool = False) -> None:
        self.adapter = adapter
        self.feeds = feeds  # label the counts by feed id (else one sum, feed="*")

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        def counter(name: str, text: str, labels: list[str]) -> CounterMetricFamily:
            return CounterMetricFamily(PREFIX + name, text, labels=labels)

        def gauge(name: str, text: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(PREFIX + name, text, labels=labels)

        messages = counter("messages_received", "Messages taken from the feed's source.", ["feed"])
        records = counter("records_received", "Records parsed from the feed's messages.", ["feed"])
        entities = counter("entities_produced", "NGSI-LD entities translated.", ["feed"])
        stored = counter("entities_stored", "Entities written to the outbox.", ["feed"])
        filtered = counter("records_filtered", "Records the mapping's filter left out.", ["feed"])
        rejected = counter(
            "records_rejected", "Records rejected (dead-lettered), by reason.", ["feed", "reason"]
        )
        broken = counter(
            "constraints_broken",
            "Smart Data Models constraints broken by entities let through (warn), by reason.",
            ["feed", "reason"],
        )
        failures = counter("outbox_write_failures", "Batches the outbox could not take (nacked).", ["feed"])
        last = gauge("last_message_timestamp_seconds", "When the feed last received a message.", ["feed"])
        counts: dict[str, Counter[str]] = {}
        reasons: dict[tuple[str, str], int] = Counter()
        warned: dict[tuple[str, str], int] = Counter()
        latest: dict[str, float] = {}
        for feed in self.adapter.feeds:
            name = feed.id if self.feeds else "*"
            stats, translation = feed.stats, feed.translation
            counts.setdefault(name, Counter()).update(
                messages=stats.messages,
                records=translation.records,
                entities=translation.entities,
                stored=stats.stored,
                filtered=translation.filtered,
                failures=stats.store_failures,
            )
            for reason, count in translation.reasons.items():
                reasons[name, reason] += count
            for reason, count in translation.warnings.items():
                warned[name, reason] += count
            if stats.last_message is not None:
                latest[name] = max(latest.get(name, 0.0), stats.last_message)
        for name, sums in counts.items():
            messages.add_metric([name], sums["messages"])
            records.add_metric([name], sums["records"])
            entities.add_metric([name], sums["entities"])
            stored.add_metric([name], sums["stored"])
            filtered.add_metric([name], sums["filtered"])
            failures.add_metric([name], sums["failures"])
        for (name, reason), number in reasons.items():
            rejected.add_metric([name, reason], number)
        for (name, reason), number in warned.items():
            broken.add_metric([name, reason], number)
        for name, when in latest.items():
            last.add_metric([name], when)
        yield from (messages, records, entities, stored, filtered, rejected, broken, failures, last)

        delivered = counter("entities_delivered", "Entities a sink confirmed.", ["sink"])
        superseded = counter(
            "entities_superseded", "Versions replaced by a newer one before delivery.", ["sink"]
        )
        dead = counter("entities_dead_lettered", "Entities a sink refused (dead-lettered).", ["sink"])
        requests = counter("delivery_requests", "Batches sent to a sink.", ["sink"])
        retries = counter("delivery_retries", "Failed attempts retried after a backoff.", ["sink"])
        latency = HistogramMetricFamily(
            PREFIX + "delivery_latency_seconds", "From the outbox write to the sink's ack.", labels=["sink"]
        )
        for sink, delivery in self.adapter.delivery.items():
            delivered.add_metric([sink], delivery.delivered)
            superseded.add_metric([sink], delivery.superseded)
            dead.add_metric([sink], delivery.dead_lettered)
            requests.add_metric([sink], delivery.requests)
            retries.add_metric([sink], delivery.retries)
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), delivery.latency, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else f"{bound:g}", cumulative))
            latency.add_metric([sink], buckets, delivery.latency_sum)
        yield from (delivered, superseded, dead, requests, retries, latency)

        depth = gauge("outbox_pending", "Entities waiting in the outbox, per sink.", ["sink"])
        in_flight = gauge("outbox_in_flight", "Entities claimed by a drainer and not yet settled.", ["sink"])
        letters = gauge("dead_letters", "Entries in the dead-letter queue, per sink.", ["sink"])
        # The outbox's own totals (all its workers, kept across restarts), read every few seconds.
        settled = counter("outbox_delivered", "Entries the outbox saw acked, per sink.", ["sink"])
        replaced = counter(
            "outbox_superseded", "Versions the outbox dropped for a newer one before delivery.", ["sink"]
        )
        merged = counter(
            "outbox_merged",
            "Partial versions the outbox merged into a waiting one before delivery.",
            ["sink"],
        )
        stale = counter(
            "outbox_stale",
            "Versions older than one stored already for their entity, kept as stale instead of delivered.",
            ["sink"],
        )
        reclaimed = counter(
            "outbox_reclaimed",
            "Claims taken back from a worker that stopped renewing them (frozen, cut off) or is gone.",
            ["sink"],
        )
        oldest = gauge(
            "outbox_oldest_pending_timestamp_seconds", "Creation time of the oldest waiting entry.", ["sink"]
        )
        for status in self.adapter.status:
            depth.add_metric([status.sink], status.pending)
            in_flight.add_metric([status.sink], status.in_flight)
            letters.add_metric([status.sink], status.dead_letters)
            settled.add_metric([status.sink], status.delivered)
            replaced.add_metric([status.sink], status.superseded)
            merged.add_metric([status.sink], status.merged)
            stale.add_metric([status.sink], status.stale)
            reclaimed.add_metric([status.sink], status.reclaimed)
            if status.oldest_pending is not None:
                oldest.add_metric([status.sink], status.oldest_pending)
        yield from (depth, in_flight, letters, settled, replaced, merged, stale, reclaimed, oldest)


def adapter_registry(adapter: Adapter, *, feeds: bool = False) -> CollectorRegistry:
    """A registry of the adapter's metrics alone (no process-global state shared between apps)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AdapterCollector(adapter, feeds=feeds))
    return registry
