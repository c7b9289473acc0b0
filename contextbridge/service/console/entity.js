// The entity page (#entity/<id>): one entity of the city graph as the graph holds it now.
//
// GET /entities/{id} gives its attributes (relationships link to their entity's page), its place
// (on the city map) and the entities that point at it; where its feed keeps history,
// GET /entities/{id}/history?since=P1D|P7D|P31D gives the past values, drawn as one small time
// chart per numeric attribute over the last day, week or month.

import { aborted, api } from "./api.js";
import { CityMap } from "./citymap.js";
import { dateTime, fill, h, message } from "./dom.js";
import { TimeChart } from "./timechart.js";

const PREFIX = "#entity/";
const RANGES = { day: "P1D", week: "P7D", month: "P31D" };

export function entityHref(id) {
  return PREFIX + encodeURIComponent(id);
}

/** A link to the entity page of `id`. */
export function entityLink(id, text = id) {
  return h("a", { href: entityHref(id), class: "entity-link" }, text);
}

function shown(value) {
  if (value === null || value === undefined) return "–";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export class EntityPage {
  constructor(root) {
    this.root = root;
    this.title = root.querySelector("#entity-title");
    this.kind = root.querySelector("#entity-type");
    this.error = root.querySelector("#entity-error");
    this.attributes = root.querySelector("#entity-attributes");
    this.relationships = root.querySelector("#entity-relationships");
    this.referrers = root.querySelector("#entity-referrers");
    this.place = root.querySelector("#entity-place");
    this.history = root.querySelector("#entity-history");
    this.historyNote = root.querySelector("#history-note");
    this.range = "day";
    this.charts = [];
    this.map = null;
    this.controller = null;
    for (const button of root.querySelectorAll("#history-range button")) {
      button.addEventListener("click", () => {
        this.range = button.dataset.range;
        this.loadHistory();
      });
    }
  }

  get id() {
    return location.hash.startsWith(PREFIX) ? decodeURIComponent(location.hash.slice(PREFIX.length)) : "";
  }

  hide() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
    if (this.map) this.map.remove();
    this.map = null;
  }

  async show() {
    this.hide();
    const id = this.id;
    const controller = new AbortController();
    this.controller = controller;
    this.title.textContent = id || "No entity";
    this.kind.textContent = "";
    fill(this.attributes);
    fill(this.relationships);
    fill(this.referrers);
    fill(this.place);
    fill(this.history);
    this.root.dataset.loaded = "";
    if (!id) {
      const from = "the SPARQL results, the dead letters or the playground";
      message(this.error, `No entity named: open one from ${from}.`, "info");
      return;
    }
    try {
      this.entity = await api(`/entities/${encodeURIComponent(id)}`, { signal: controller.signal });
    } catch (error) {
      if (aborted(error)) return;
      // a 404 is no fault: the id may come from the playground's trial translation, not yet delivered
      if (error.status === 404) message(this.error, `Not in the city graph (yet): ${error.message}`, "info");
      else message(this.error, `Could not read the entity: ${error.message}`);
      return;
    }
    message(this.error, "");
    this.render(this.entity);
    await Promise.all([this.drawPlace(this.entity), this.loadHistory()]);
    if (this.controller === controller) this.root.dataset.loaded = id;
  }

  render(entity) {
    this.kind.textContent = entity.typeName || "";
    this.kind.title = [].concat(entity.type || []).join(", ");
    fill(
      this.attributes,
      entity.attributes.length
        ? entity.attributes.map((attribute) =>
            h(
              "tr",
              { dataset: { attribute: attribute.name } },
              h("th", { scope: "row", title: attribute.iri }, attribute.name),
              h("td", {}, attribute.kind),
              h(
                "td",
                { class: "wrap" },
                attribute.object !== undefined
                  ? [].concat(attribute.object).map((target) => entityLink(target))
                  : attribute.point
                    ? `${attribute.point.lat}, ${attribute.point.lon}`
                    : shown(attribute.value),
                attribute.unitCode ? h("span", { class: "muted" }, ` ${attribute.unitCode}`) : "",
                attribute.datasetId ? h("span", { class: "badge" }, attribute.datasetId) : "",
              ),
              h("td", {}, attribute.observedAt ? dateTime(attribute.observedAt) : "–"),
            ),
          )
        : h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No attributes.")),
    );
    const links = entity.attributes.filter((attribute) => attribute.object !== undefined);
    fill(
      this.relationships,
      links.length
        ? links.flatMap((link) =>
            [].concat(link.object).map((target) => h("li", {}, h("span", { class: "muted" }, `${link.name} → `), entityLink(target))),
          )
        : h("li", { class: "empty" }, "None."),
    );
    fill(
      this.referrers,
      entity.referencedBy.length
        ? entity.referencedBy.map((from) => h("li", {}, entityLink(from.id), h("span", { class: "muted" }, ` (${from.name})`)))
        : h("li", { class: "empty" }, "No entity points here."),
    );
  }

  async drawPlace(entity) {
    if (!entity.location) {
      fill(this.place, h("p", { class: "empty" }, "No location."));
      return;
    }
    const canvas = h("div", { class: "map-canvas small", id: "entity-map" });
    const note = h("p", { class: "map-note", role: "status", hidden: true });
    fill(this.place, canvas, note);
    const map = await CityMap.open(canvas, note);
    if (this.entity !== entity || !canvas.isConnected) {
      map.remove();
      return;
    }
    this.map = map;
    map.show([entity.location], { label: () => entity.id });
  }

  async loadHistory() {
    for (const button of this.root.querySelectorAll("#history-range button")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === this.range));
    }
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
    const entity = this.entity;
    if (!entity || !entity.history.length) {
      fill(this.history, h("p", { class: "empty" }, "No history is kept for this entity (a feed keeps it with history: true)."));
      return;
    }
    let answer;
    try {
      answer = await api(`/entities/${encodeURIComponent(entity.id)}/history?since=${RANGES[this.range]}`, {
        signal: this.controller ? this.controller.signal : undefined,
      });
    } catch (error) {
      if (!aborted(error)) message(this.error, `Could not read the history: ${error.message}`);
      return;
    }
    const numeric = answer.series.filter((series) => series.numeric && series.points.length);
    const cards = numeric.map((series) =>
      h(
        "article",
        { class: "card chart-card", dataset: { attribute: series.name } },
        h(
          "header",
          {},
          h("h3", { title: series.iri }, series.name),
          series.datasetId ? h("span", { class: "badge" }, series.datasetId) : "",
          h("span", { class: "muted" }, `${series.points.length} values${series.truncated ? " (the newest)" : ""}`),
        ),
        h("div", { class: "time-chart" }),
      ),
    );
    const others = answer.series.length - numeric.length;
    fill(
      this.history,
      cards.length ? cards : h("p", { class: "empty" }, `No numeric values in the last ${this.range}.`),
      others ? h("p", { class: "muted" }, `${others} attribute(s) without numeric values are not drawn.`) : "",
    );
    for (const [index, series] of numeric.entries()) {
      const chart = await TimeChart.open(cards[index].querySelector(".time-chart"), { labels: [series.name], tones: [index], height: 140 });
      chart.update(
        series.points.map(([time]) => Date.parse(time) / 1000),
        [series.points.map(([, value]) => value)],
      );
      this.charts.push(chart);
    }
  }
}
