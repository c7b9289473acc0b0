// The mapping playground: a mapping and a payload, translated by the service as you type.
//
// GET /mappings fills the picker (the first one is loaded on a first visit); picking one loads
// its YAML and first golden sample (GET /mappings/{name}).
// Every edit posts both to POST /playground after a 300 ms pause, cancelling the request still
// in flight; the answer shows entities (each id links to its entity page), problems (click:
// select the line), rejected records and the RDF triples. "Save as golden sample" posts to
// /mappings/{name}/samples (a write key).

import { aborted, api, ApiError } from "./api.js";
import { count, debounce, fill, h, message } from "./dom.js";
import { Editor } from "./editor.js";
import { entityLink } from "./entity.js";

const DELAY_MS = 300;

export class Playground {
  constructor(root) {
    this.root = root;
    this.picker = root.querySelector("#mapping-picker");
    this.status = root.querySelector("#playground-status");
    this.error = root.querySelector("#playground-error");
    this.summary = root.querySelector("#playground-summary");
    this.problems = root.querySelector("#problems");
    this.entities = root.querySelector("#entities");
    this.rejected = root.querySelector("#rejected");
    this.triples = root.querySelector("#triples");
    this.tripleCount = root.querySelector("#triple-count");
    this.sampleName = root.querySelector("#sample-name");
    this.saveButton = root.querySelector("#save-sample");
    this.saveResult = root.querySelector("#save-result");
    this.mapping = new Editor(root.querySelector("#mapping-editor"), {
      label: "Mapping (YAML)",
      name: "mapping",
      placeholder: "Pick a mapping above, or paste one here",
    });
    this.payload = new Editor(root.querySelector("#payload-editor"), {
      label: "Payload",
      name: "payload",
      placeholder: "A payload the mapping reads (JSON, CSV, XML...)",
    });
    this.name = null;
    this.inflight = null;
    this.loaded = false;
    const later = debounce(() => this.translate(), DELAY_MS);
    for (const editor of [this.mapping, this.payload]) {
      editor.textarea.addEventListener("input", () => {
        this.status.textContent = "Editing…";
        later();
      });
    }
    this.picker.addEventListener("change", () => this.load(this.picker.value));
    this.saveButton.addEventListener("click", () => this.save());
  }

  async show() {
    if (this.loaded) return;
    try {
      const { mappings } = await api("/mappings");
      const options = mappings.map((item) => h("option", { value: item.name, title: item.path || "" }, label(item)));
      fill(this.picker, h("option", { value: "" }, "— paste your own —"), options);
      this.loaded = true;
      message(this.error, "");
      if (!this.mapping.value && !this.name && mappings.length) {
        // a first visit starts from a working example rather than from two empty boxes
        this.picker.value = mappings[0].name;
        await this.load(mappings[0].name);
      }
    } catch (error) {
      message(this.error, `Could not list the mappings: ${error.message}`);
    }
  }

  reset() {
    this.loaded = false;
  }

  /** Samples are saved beside a configured feed's mapping; the examples are read-only. */
  allowSave(writable) {
    this.saveButton.disabled = !(this.name && writable);
    this.saveButton.title = !this.name
      ? "Pick a feed's mapping first"
      : writable
        ? "Keep the payload and what the saved mapping makes of it (contextbridge test checks it)"
        : "An example mapping: copy it into a feed's mapping to save samples";
  }

  async load(name) {
    this.name = name || null;
    this.allowSave(false);
    message(this.saveResult, "");
    if (!name) return;
    const edits = [this.mapping.edits, this.payload.edits];
    try {
      const item = await api(`/mappings/${encodeURIComponent(name)}`);
      if (this.name !== name) return; // another mapping was picked meanwhile
      this.allowSave(item.writable !== false);
      // what was typed while the mapping was on its way is kept, not overwritten
      if (this.mapping.edits === edits[0]) this.mapping.value = item.text;
      if (this.payload.edits === edits[1]) this.payload.value = item.sample || "";
      this.status.textContent = item.sample_name ? `Sample: ${item.sample_name}` : "No sample: paste a payload";
      message(this.error, "");
      await this.translate();
    } catch (error) {
      message(this.error, `Could not load ${name}: ${error.message}`);
    }
  }

  async translate() {
    if (this.inflight) this.inflight.abort();
    const controller = new AbortController();
    this.inflight = controller;
    const body = { mapping: this.mapping.value, payload: this.payload.value };
    if (this.name) body.name = this.name;
    this.status.textContent = "Translating…";
    try {
      const result = await api("/playground", { method: "POST", json: body, signal: controller.signal });
      if (controller.signal.aborted) return;
      this.render(result);
      message(this.error, "");
    } catch (error) {
      if (aborted(error)) return;
      this.status.textContent = "";
      message(this.error, `The playground refused the request: ${error.message}`);
    } finally {
      if (this.inflight === controller) this.inflight = null;
    }
  }

  render(result) {
    const errors = result.problems.filter((problem) => problem.severity === "error").length;
    const warnings = result.problems.length - errors;
    this.status.textContent = `Translated in ${Math.round(result.took_ms)} ms`;
    fill(
      this.summary,
      stat("Records", result.records),
      stat("Entities", result.entity_count),
      stat("Rejected", result.rejected.length, result.rejected.length ? "warn" : ""),
      stat("Errors", errors, errors ? "bad" : ""),
      stat("Warnings", warnings, warnings ? "warn" : ""),
    );
    this.mapping.mark(result.problems.filter((problem) => problem.origin !== "payload"));
    this.payload.mark(result.problems.filter((problem) => problem.origin === "payload"));
    if (result.problems.length) {
      fill(this.problems, result.problems.map((problem) => this.problemItem(problem)));
    } else {
      fill(this.problems, h("li", { class: "empty" }, "No problems."));
    }
    const shown = result.entities.length;
    const more = result.entity_count > shown ? ` (first ${shown} of ${result.entity_count})` : "";
    fill(this.entities, shown ? linkedJson(result.entities) : "No entities.");
    this.entities.dataset.more = more;
    this.root.querySelector("#entities-more").textContent = more;
    if (result.rejected.length) {
      fill(
        this.rejected,
        result.rejected.map((item) =>
          h(
            "li",
            {},
            h("strong", {}, `Record ${item.record ?? "?"}`),
            item.field ? ` · field ${item.field}` : "",
            item.kind ? h("span", { class: "badge warn" }, item.kind) : "",
            h("div", { class: "detail" }, item.reason),
          ),
        ),
      );
    } else {
      fill(this.rejected, h("li", { class: "empty" }, "No rejected records."));
    }
    this.tripleCount.textContent = count(result.triple_count);
    this.triples.textContent = result.triples || "No triples.";
  }

  problemItem(problem) {
    const place = problem.line ? `line ${problem.line}${problem.column ? `:${problem.column}` : ""}` : "";
    const editor = problem.origin === "payload" ? this.payload : this.mapping;
    const content = [
      h("span", { class: `badge ${problem.severity === "error" ? "bad" : "warn"}` }, problem.severity),
      place ? h("span", { class: "place" }, place) : "",
      h("span", { class: "text" }, problem.message),
      h("span", { class: "origin" }, problem.origin),
    ];
    if (!problem.line) return h("li", { class: "problem" }, content);
    return h(
      "li",
      { class: "problem" },
      h(
        "button",
        {
          type: "button",
          class: "link problem-link",
          dataset: { line: String(problem.line) },
          title: "Select this line in the editor",
          onclick: () => editor.selectLine(problem.line, problem.column),
        },
        content,
      ),
    );
  }

  async save() {
    if (!this.name) return;
    const sample = this.sampleName.value.trim();
    if (!sample) {
      message(this.saveResult, "Give the sample a short name first.", "error");
      this.sampleName.focus();
      return;
    }
    this.saveButton.disabled = true;
    try {
      // the sample is translated by the mapping as saved on the service, not by the editor's text
      const body = { sample_name: sample, payload: this.payload.value };
      const saved = await api(`/mappings/${encodeURIComponent(this.name)}/samples`, { method: "POST", json: body });
      message(
        this.saveResult,
        `Saved golden sample ${saved.input} → ${saved.expected} (${count(saved.entities)} entities).`,
        "ok",
      );
    } catch (error) {
      const text = error instanceof ApiError ? error.message : String(error);
      message(this.saveResult, `Not saved: ${text}`, "error");
    } finally {
      this.saveButton.disabled = false;
    }
  }
}

// An entity's own "id" is the only key at this depth of JSON.stringify(entities, null, 2):
// attributes' keys are deeper, so a nested "id" (e.g. inside a value) is not taken for one.
const ENTITY_ID = /^ {4}"id": (".*"),?$/gm;
const LINK_TITLE = "Open this entity as the city graph holds it now (a trial translation: it may not be there yet)";

/** The entities as indented JSON text, each entity's id a link to its entity page (text nodes only: untrusted). */
function linkedJson(entities) {
  const text = JSON.stringify(entities, null, 2);
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(ENTITY_ID)) {
    const start = match.index + match[0].indexOf(match[1]);
    parts.push(text.slice(last, start));
    const link = entityLink(JSON.parse(match[1]), match[1]);
    link.title = LINK_TITLE;
    parts.push(link);
    last = start + match[1].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function stat(name, value, tone = "") {
  return h(
    "div",
    { class: `stat ${tone}`, dataset: { stat: name.toLowerCase() } },
    h("span", { class: "value" }, count(value)),
    h("span", { class: "label" }, name),
  );
}

/** "santander-parking · ParkingSpot, Device · json · feed parking": what the picker shows of a mapping. */
function label(item) {
  const feeds = item.feeds || [];
  const origin = feeds.length ? `feed ${feeds.join(", ")}` : "example";
  const types = (item.entity_types || []).join(", ");
  return [item.name, types, item.format, item.problem ? "unreadable" : origin].filter(Boolean).join(" · ");
}
