// The SPARQL page: an editor (the first example question preloaded), the example questions
// (GET /queries), results as a table and, when the rows carry coordinates, on a map of the city
// (citymap.js): coloured by a column the user picks, a click shows the row and links its entities.
//
// Run posts the form `query=` to /sparql asking for application/sparql-results+json; a cut
// answer (X-Result-Truncated) says so above the table. Ctrl+Enter runs the query too. IRIs in
// the table and on the map open the entity page (#entity/<id>).

import { aborted, api } from "./api.js";
import { CityMap } from "./citymap.js";
import { count, fill, h, message } from "./dom.js";
import { Editor } from "./editor.js";
import { entityLink } from "./entity.js";
import { category, colourColumns, findPoints } from "./geomap.js";

export class SparqlPage {
  constructor(root) {
    this.root = root;
    this.examples = root.querySelector("#query-examples");
    this.runButton = root.querySelector("#run-query");
    this.summary = root.querySelector("#query-summary");
    this.error = root.querySelector("#sparql-error");
    this.table = root.querySelector("#results");
    this.mapHost = root.querySelector("#results-map");
    this.editor = new Editor(root.querySelector("#query-editor"), {
      label: "SPARQL query",
      name: "query",
      placeholder: "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 10",
    });
    this.queries = [];
    this.loaded = false;
    this.controller = null;
    this.map = null;
    this.drawn = 0;
    this.examples.addEventListener("change", () => this.pick(this.examples.value));
    this.runButton.addEventListener("click", () => this.run());
    this.editor.textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.run();
      }
    });
  }

  async show() {
    if (this.loaded) return;
    try {
      const { queries } = await api("/queries");
      this.queries = queries;
      fill(
        this.examples,
        h("option", { value: "" }, queries.length ? "— an example question —" : "— no example questions —"),
        queries.map((query) => h("option", { value: query.name, title: query.title }, query.title || query.name)),
      );
      this.loaded = true;
      message(this.error, "");
      if (!this.editor.value && queries.length) {
        this.examples.value = queries[0].name; // the editor starts with the first example question
        this.pick(queries[0].name);
      }
    } catch (error) {
      message(this.error, `Could not list the example questions: ${error.message}`);
    }
  }

  reset() {
    this.loaded = false;
  }

  pick(name) {
    const query = this.queries.find((item) => item.name === name);
    if (query) this.editor.value = query.query;
  }

  async run() {
    const text = this.editor.value.trim();
    if (!text) {
      message(this.error, "Write a query first, or pick an example question.", "info");
      return;
    }
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.runButton.disabled = true;
    this.summary.textContent = "Running…";
    const started = performance.now();
    try {
      const response = await api("/sparql", {
        method: "POST",
        form: { query: text },
        accept: "application/sparql-results+json",
        signal: controller.signal,
        raw: true,
      });
      const result = await response.json();
      const took = Math.round(performance.now() - started);
      message(this.error, "");
      this.render(result, took, response.headers);
    } catch (error) {
      if (aborted(error)) return;
      this.summary.textContent = "";
      fill(this.table);
      this.clearMap();
      message(this.error, `The query failed: ${error.message}`);
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.runButton.disabled = false;
      }
    }
  }

  clearMap() {
    this.drawn += 1; // a map still opening is not shown
    if (this.map) this.map.remove();
    this.map = null;
    fill(this.mapHost);
    this.mapHost.hidden = true;
    delete this.mapHost.dataset.points;
  }

  render(result, took, headers) {
    this.clearMap();
    if (typeof result.boolean === "boolean") {
      this.summary.textContent = `ASK answered in ${took} ms`;
      fill(this.table, h("p", { class: "answer" }, result.boolean ? "Yes (true)" : "No (false)"));
      return;
    }
    const vars = result.head.vars;
    const rows = result.results.bindings;
    const truncated = headers.get("X-Result-Truncated") === "true";
    const limit = headers.get("X-Result-Limit");
    fill(
      this.summary,
      `${count(rows.length)} row${rows.length === 1 ? "" : "s"} in ${took} ms`,
      truncated
        ? h("span", { class: "badge warn", id: "truncated" }, `truncated at ${limit ? count(Number(limit)) : "the row limit"} rows`)
        : "",
    );
    fill(
      this.table,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "data results" },
          h("thead", {}, h("tr", {}, vars.map((name) => h("th", { scope: "col" }, name)))),
          h(
            "tbody",
            {},
            rows.length
              ? rows.map((row) => h("tr", {}, vars.map((name) => cell(row[name]))))
              : h("tr", {}, h("td", { colspan: vars.length || 1, class: "empty" }, "No rows.")),
          ),
        ),
      ),
    );
    const layers = findPoints(vars, rows);
    if (layers.length) this.renderMap(vars, layers);
  }

  async renderMap(vars, layers) {
    const drawn = this.drawn;
    const points = layers.flatMap((layer) => layer.points.map((point) => ({ ...point, layer: layer.name })));
    const places = new Set(points.map((point) => `${point.lat},${point.lon}`)).size;
    const title = `Map: ${count(points.length)} point${points.length === 1 ? "" : "s"}`;
    const picker = h(
      "select",
      { id: "map-colour", "aria-label": "Colour the points by" },
      h("option", { value: "" }, layers.length > 1 ? "— their column —" : "— one colour —"),
      colourColumns(vars, layers).map((name) => h("option", { value: name }, name)),
    );
    picker.value = category(vars, layers) || "";
    const canvas = h("div", { class: "map-canvas", id: "map-canvas" });
    const note = h("p", { class: "map-note", id: "map-note", role: "status", hidden: true });
    const legend = h("ul", { class: "map-legend", id: "map-legend" });
    fill(
      this.mapHost,
      h(
        "div",
        { class: "map-head" },
        h("h3", {}, places < points.length ? `${title} at ${count(places)} places` : title),
        h("label", { class: "inline" }, "Colour by ", picker),
      ),
      canvas,
      note,
      legend,
    );
    this.mapHost.hidden = false;
    this.mapHost.dataset.points = String(points.length);
    const map = await CityMap.open(canvas, note);
    if (drawn !== this.drawn) {
      map.remove();
      return;
    }
    this.map = map;
    const draw = (fit) => {
      const by = picker.value;
      const tones = new Map();
      const key = (point) => (by ? (point.row[by] ? point.row[by].value : "") : point.layer);
      for (const point of points) if (!tones.has(key(point))) tones.set(key(point), tones.size);
      map.show(points, {
        fit,
        tone: (point) => tones.get(key(point)),
        label: (point) => describe(point.row),
        popup: (point) => popup(vars, point.row),
      });
      fill(
        legend,
        tones.size > 1 || by
          ? [...tones].map(([value, tone]) =>
              h("li", {}, h("span", { class: `swatch tone-${tone % 8}` }), `${by ? `${by} = ` : ""}${value || "(none)"}`),
            )
          : "",
      );
    };
    picker.addEventListener("change", () => draw(false));
    draw(true);
  }
}

function describe(row) {
  return Object.entries(row)
    .map(([name, binding]) => `${name}: ${binding.value}`)
    .join("\n");
}

/** A row as the map's popup: each column and its value, IRIs as links to their entity page. */
function popup(vars, row) {
  return h(
    "table",
    { class: "map-popup" },
    vars
      .filter((name) => row[name])
      .map((name) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, name),
          h("td", {}, row[name].type === "uri" ? entityLink(row[name].value) : row[name].value),
        ),
      ),
  );
}

function cell(binding) {
  if (!binding) return h("td", { class: "unbound" }, "");
  const title = binding.datatype ? `${binding.type}, ${binding.datatype}` : binding["xml:lang"] ? `@${binding["xml:lang"]}` : binding.type;
  const numeric = binding.type === "literal" && binding.value !== "" && Number.isFinite(Number(binding.value));
  const value = binding.type === "uri" ? entityLink(binding.value) : binding.value;
  return h("td", { class: `${binding.type}${numeric ? " num" : ""}`, title }, value);
}
