// The feeds dashboard: a card per feed, the sinks and the health checks, kept live.
//
// Each card charts the feed's last minutes (timechart.js): records per second over a time axis,
// split into those translated and those rejected, stacked by reason (rates between two status
// samples, from the counters the service sends).
//
// Live data comes from GET /status/events (server-sent events, read with fetch() and a
// ReadableStream because EventSource cannot send the key header); when the stream cannot be
// opened or breaks, the page polls GET /status every 2 s instead. Leaving the page stops both.

import { aborted, api, ApiError } from "./api.js";
import { count, fill, h, message, rate, relativeTime } from "./dom.js";
import { TimeChart } from "./timechart.js";

const INTERVAL_S = 2;
const HISTORY = 150; // samples kept per feed: 5 minutes at one every 2 s

export class Dashboard {
  constructor(root) {
    this.root = root;
    this.feeds = root.querySelector("#feed-cards");
    this.sinks = root.querySelector("#sink-rows");
    this.health = root.querySelector("#health");
    this.mode = root.querySelector("#live-mode");
    this.updated = root.querySelector("#status-time");
    this.error = root.querySelector("#feeds-error");
    this.history = new Map(); // feed id → [{time, records, rejected, reasons}]
    this.charts = new Map(); // feed id → {labels, host, chart}
    this.controller = null;
    this.timer = 0;
  }

  show() {
    this.hide();
    this.controller = new AbortController();
    this.stream(this.controller.signal);
  }

  hide() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    clearTimeout(this.timer);
  }

  setMode(text, kind) {
    this.mode.textContent = text;
    this.mode.className = `live ${kind}`;
  }

  async stream(signal) {
    this.setMode("Connecting…", "idle");
    try {
      const response = await api(`/status/events?interval=${INTERVAL_S}`, {
        accept: "text/event-stream",
        signal,
        raw: true,
      });
      if (!response.body) throw new Error("the browser gives no stream");
      this.setMode("Live", "on");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          this.event(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
      }
      throw new Error("the stream ended");
    } catch (error) {
      if (signal.aborted || aborted(error)) return;
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        this.setMode("Offline", "off");
        message(this.error, error.message);
        return;
      }
      this.poll(signal);
    }
  }

  event(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // a comment: keep-alive
      const [field, ...rest] = line.split(":");
      const value = rest.join(":").replace(/^ /, "");
      if (field === "event") name = value;
      if (field === "data") data.push(value);
    }
    if (name === "status" && data.length) this.render(JSON.parse(data.join("\n")));
  }

  async poll(signal) {
    this.setMode(`Polling every ${INTERVAL_S} s`, "poll");
    try {
      this.render(await api("/status", { signal }));
    } catch (error) {
      if (signal.aborted || aborted(error)) return;
      message(this.error, `Could not read the status: ${error.message}`);
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        this.setMode("Offline", "off");
        return;
      }
    }
    if (!signal.aborted) this.timer = setTimeout(() => this.poll(signal), INTERVAL_S * 1000);
  }

  render(status) {
    message(this.error, "");
    const now = status.time;
    this.updated.textContent = `Updated ${new Date(now * 1000).toLocaleTimeString("en-GB")}`;
    this.renderHealth(status.health || {});
    this.renderSinks(status.sinks || [], now);
    this.renderFeeds(status.feeds || [], now);
  }

  renderHealth(health) {
    const order = ["broker", "graph", "outbox"];
    const names = [...order.filter((name) => name in health), ...Object.keys(health).filter((n) => !order.includes(n))];
    fill(
      this.health,
      names.map((name) => {
        const check = health[name] || {};
        const tone = check.status === "ok" ? "ok" : check.status === "error" ? "bad" : "idle";
        return h(
          "div",
          { class: `health ${tone}`, dataset: { check: name }, title: check.detail || check.status || "" },
          h("span", { class: "dot", "aria-hidden": "true" }),
          h("span", { class: "name" }, name),
          h("span", { class: "state" }, check.status || "unknown"),
          check.detail ? h("span", { class: "detail" }, check.detail) : "",
        );
      }),
    );
  }

  renderSinks(sinks, now) {
    if (!sinks.length) {
      fill(this.sinks, h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No sinks: the service runs no outbox.")));
      return;
    }
    fill(
      this.sinks,
      sinks.map((sink) =>
        h(
          "tr",
          { dataset: { sink: sink.sink } },
          h("th", { scope: "row" }, sink.sink),
          h("td", { class: "num" }, count(sink.pending)),
          h("td", { class: "num" }, count(sink.in_flight)),
          h("td", { class: "num" }, count(sink.delivered)),
          h("td", { class: `num ${sink.dead_letters ? "bad-text" : ""}` }, count(sink.dead_letters)),
          h("td", {}, sink.oldest_pending ? relativeTime(sink.oldest_pending, now) : "–"),
          h("td", { class: "num" }, count(sink.retries)),
          h("td", { class: "wrap" }, sink.last_error || "–"),
        ),
      ),
    );
  }

  renderFeeds(feeds, now) {
    if (!feeds.length) {
      fill(this.feeds, h("p", { class: "empty" }, "No feeds for this key and tenant."));
      return;
    }
    fill(this.feeds, feeds.map((feed) => this.card(feed, now)));
  }

  /** The feed's samples as rates: times, and per series (translated, then each reject reason) records/s. */
  rates(feed, now) {
    const samples = this.history.get(feed.id) || [];
    if (!samples.length || samples[samples.length - 1].time < now) {
      samples.push({ time: now, records: feed.records, rejected: feed.rejected, reasons: { ...(feed.rejects || {}) } });
    }
    if (samples.length > HISTORY) samples.shift();
    this.history.set(feed.id, samples);
    const reasons = [...new Set(samples.flatMap((sample) => Object.keys(sample.reasons)))].sort();
    const times = [];
    const values = [[], ...reasons.map(() => [])];
    for (let index = 1; index < samples.length; index += 1) {
      const [before, after] = [samples[index - 1], samples[index]];
      const seconds = after.time - before.time;
      if (seconds <= 0 || after.records < before.records) continue; // a restarted service counts from 0
      times.push(after.time);
      values[0].push(Math.max(0, after.records - before.records - (after.rejected - before.rejected)) / seconds);
      reasons.forEach((reason, at) => {
        values[at + 1].push(Math.max(0, (after.reasons[reason] || 0) - (before.reasons[reason] || 0)) / seconds);
      });
    }
    return { labels: ["translated", ...reasons.map((reason) => `rejected: ${reason}`)], times, values };
  }

  /** The feed's chart element, kept from one render to the next (a new chart when a reason appears). */
  chart(feed, now) {
    const { labels, times, values } = this.rates(feed, now);
    let found = this.charts.get(feed.id);
    if (!found || found.labels.join("|") !== labels.join("|")) {
      if (found && found.chart) found.chart.destroy();
      const host = h("div", { class: "rate-chart", "aria-label": `records/s of ${feed.id} over time` });
      found = { labels, host, chart: null, opening: null };
      this.charts.set(feed.id, found);
    }
    const entry = found;
    entry.data = [times, values];
    if (!entry.chart && !entry.opening) {
      // opened once the card is in the page: the chart takes the card's width
      entry.opening = new Promise((resolve) => requestAnimationFrame(resolve))
        .then(() => TimeChart.open(entry.host, { labels, stacked: true, fromZero: true, unit: "records/s", height: 130 }))
        .then((chart) => {
          entry.chart = chart;
          chart.update(...entry.data);
        });
    } else if (entry.chart) {
      entry.chart.update(times, values);
    }
    return entry.host;
  }

  card(feed, now) {
    const rejects = Object.entries(feed.rejects || {}).sort((a, b) => b[1] - a[1]);
    const broken = Object.entries(feed.constraints_broken || {}).sort((a, b) => b[1] - a[1]);
    const fresh = feed.last_message !== null && now - feed.last_message < 60;
    return h(
      "article",
      { class: "card feed", dataset: { feed: feed.id } },
      h(
        "header",
        {},
        h("h3", {}, feed.id),
        h("span", { class: "badge" }, feed.source),
        feed.tenant ? h("span", { class: "badge tenant", title: "tenant" }, feed.tenant) : "",
      ),
      h(
        "div",
        { class: "rate-row" },
        h(
          "div",
          { class: "rate" },
          h("span", { class: "value", dataset: { field: "rate" } }, rate(feed.rate)),
          h("span", { class: "label" }, "records/s"),
        ),
      ),
      this.chart(feed, now),
      h(
        "dl",
        { class: "figures" },
        figure("Messages", count(feed.messages), "messages"),
        figure("Records", count(feed.records), "records"),
        figure("Entities", count(feed.entities), "entities"),
        figure("Stored", count(feed.stored), "stored"),
        figure("Rejected", count(feed.rejected), "rejected", feed.rejected ? "warn-text" : ""),
        figure("Last record", relativeTime(feed.last_message, now), "last", fresh ? "ok-text" : ""),
      ),
      rejects.length
        ? h(
            "ul",
            { class: "rejects", "aria-label": "rejects by reason" },
            rejects.map(([reason, n]) => h("li", {}, h("span", {}, reason), h("span", { class: "num" }, count(n)))),
          )
        : "",
      broken.length
        ? h(
            "ul",
            { class: "rejects", "aria-label": "Smart Data Models constraints broken, by reason" },
            broken.map(([reason, n]) => h("li", {}, h("span", {}, `constraint: ${reason}`), h("span", { class: "num" }, count(n)))),
          )
        : "",
    );
  }
}

function figure(label, value, field, tone = "") {
  return h("div", {}, h("dt", {}, label), h("dd", { class: tone, dataset: { field } }, value));
}

