// The playground's type panel: what the ontology says about an entity type of the mapping.
//
// The picker lists the types the mapping in the editor names (its `type:` lines); picking one
// asks GET /types/{name} and shows the type's IRI, superclasses and, per attribute, its IRI,
// kind, datatype, unit, enumeration, range, whether it is required and where each constraint
// comes from — what `contextbridge describe TYPE` prints. An unknown type shows the suggestions.

import { api } from "./api.js";
import { fill, h, message } from "./dom.js";

const TYPE_LINE = /^\s*(?:-\s*)?type:\s*["']?([A-Za-z][\w:]*)["']?\s*(?:#.*)?$/gm;

export class TypePanel {
  constructor(root) {
    this.picker = root.querySelector("#type-picker");
    this.panel = root.querySelector("#type-panel");
    this.error = root.querySelector("#type-error");
    this.textarea = root.querySelector("#mapping-editor textarea");
    this.picker.addEventListener("change", () => this.describe(this.picker.value));
    // The playground also sets the mapping's text itself (picking a mapping): read it again
    // whenever the text changes by hand and whenever the picker is about to open.
    if (this.textarea) this.textarea.addEventListener("input", () => this.refresh());
    for (const event of ["focus", "mousedown", "keydown"]) this.picker.addEventListener(event, () => this.refresh());
    this.types = [];
  }

  /** The types named by the mapping in the editor, in the picker. */
  refresh() {
    const text = this.textarea ? this.textarea.value : "";
    const types = [...new Set([...text.matchAll(TYPE_LINE)].map((found) => found[1]))];
    if (types.join() === this.types.join()) return;
    this.types = types;
    const kept = types.includes(this.picker.value) ? this.picker.value : "";
    fill(this.picker, h("option", { value: "" }, "— pick a type —"), types.map((name) => h("option", { value: name }, name)));
    this.picker.value = kept;
  }

  async describe(name) {
    message(this.error, "");
    if (!name) {
      fill(this.panel);
      return;
    }
    try {
      this.show(await api(`/types/${encodeURIComponent(name)}`));
    } catch (error) {
      const hints = error.problem && error.problem.suggestions;
      const more = hints && hints.length ? ` Did you mean ${hints.join(", ")}?` : "";
      message(this.error, `${error.message}${more}`);
      fill(this.panel);
    }
  }

  show(type) {
    const supers = type.superclasses.map((s) => s.name).join(", ") || "none";
    const rows = Object.entries(type.attributes).map(([name, a]) =>
      h(
        "tr",
        {},
        h("td", {}, h("code", { title: a.iri }, name)),
        h("td", {}, a.kind),
        h("td", {}, a.datatype || ""),
        h("td", {}, a.unit || ""),
        h("td", {}, a.enumeration ? a.enumeration.join(", ") : ""),
        h("td", {}, a.range || ""),
        h("td", {}, a.required ? "yes" : ""),
        h("td", { class: "muted" }, a.constraints.map((c) => `${c.rule}: ${c.source}`).join("; ")),
      ),
    );
    fill(
      this.panel,
      h("p", {}, h("strong", {}, type.type), " ", h("code", {}, type.iri)),
      h("p", { class: "muted" }, `Superclasses: ${supers}`),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "data types" },
          h("thead", {}, h("tr", {}, ...["attribute", "kind", "datatype", "unit", "enumeration", "range", "required", "origin"].map((c) => h("th", {}, c)))),
          h("tbody", {}, ...rows),
        ),
      ),
    );
  }
}
