// A plain-text editor: a textarea with a line-number gutter whose lines can be marked.
//
//   const editor = new Editor(document.querySelector("#mapping-editor"), { label: "Mapping (YAML)" });
//   editor.value = "id: parking\n";
//   editor.mark([{ line: 3, severity: "error", message: "unknown key" }]);
//   editor.selectLine(3);
//   editor.textarea.addEventListener("input", ...);

import { h } from "./dom.js";

export class Editor {
  constructor(host, { label, placeholder = "", name = "" } = {}) {
    this.host = host;
    this.gutter = h("div", { class: "gutter", "aria-hidden": "true" });
    this.textarea = h("textarea", {
      class: "code",
      spellcheck: false,
      autocomplete: "off",
      wrap: "off",
      placeholder,
      name,
      "aria-label": label,
    });
    this.host.classList.add("editor");
    this.host.replaceChildren(this.gutter, this.textarea);
    this.marks = new Map();
    this.lines = 0;
    this.edits = 0; // counts the user's edits (not the values set by code)
    this.textarea.addEventListener("input", () => {
      this.edits += 1;
      this.renumber();
    });
    this.textarea.addEventListener("scroll", () => {
      this.gutter.scrollTop = this.textarea.scrollTop;
    });
    this.textarea.addEventListener("keydown", (event) => this.indent(event));
    this.renumber();
  }

  get value() {
    return this.textarea.value;
  }

  set value(text) {
    this.textarea.value = text;
    this.textarea.scrollTop = 0;
    this.renumber();
  }

  renumber() {
    const lines = this.textarea.value.split("\n").length;
    if (lines !== this.lines) {
      this.lines = lines;
      const numbers = [];
      for (let line = 1; line <= lines; line += 1) {
        numbers.push(h("div", { class: "line-number", dataset: { line: String(line) } }, String(line)));
      }
      numbers.push(h("div", { class: "line-number spacer" }, " ")); // room for the scrollbar
      this.gutter.replaceChildren(...numbers);
      this.paint();
    }
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  /** Mark lines: [{line, severity: "error"|"warning", message}] (lines out of range are ignored). */
  mark(problems) {
    this.marks = new Map();
    for (const problem of problems) {
      if (!problem.line) continue;
      const known = this.marks.get(problem.line);
      const severity = known && known.severity === "error" ? "error" : problem.severity;
      const text = known ? `${known.message}\n${problem.message}` : problem.message;
      this.marks.set(problem.line, { severity, message: text });
    }
    this.paint();
  }

  paint() {
    for (const element of this.gutter.children) {
      const mark = this.marks.get(Number(element.dataset.line));
      element.classList.toggle("error", Boolean(mark && mark.severity === "error"));
      element.classList.toggle("warning", Boolean(mark && mark.severity !== "error"));
      element.title = mark ? mark.message : "";
    }
  }

  /** Select the whole of line `line` (1-based) and scroll it into view. */
  selectLine(line, column = null) {
    const lines = this.textarea.value.split("\n");
    const index = Math.min(Math.max(line, 1), lines.length) - 1;
    let start = 0;
    for (let i = 0; i < index; i += 1) start += lines[i].length + 1;
    const end = start + lines[index].length;
    this.textarea.focus();
    this.textarea.setSelectionRange(column ? Math.min(start + column - 1, end) : start, end);
    const height = parseFloat(getComputedStyle(this.textarea).lineHeight) || 20;
    const visible = this.textarea.clientHeight;
    this.textarea.scrollTop = Math.max(0, index * height - visible / 3);
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  /** Tab inserts two spaces (YAML wants spaces); Shift+Tab leaves the editor as usual. */
  indent(event) {
    if (event.key !== "Tab" || event.shiftKey || event.ctrlKey || event.altKey || event.metaKey) return;
    event.preventDefault();
    const area = this.textarea;
    area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }
}
