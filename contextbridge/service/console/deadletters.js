// Dead letters: what a sink refused for good (the broker's ProblemDetails, or the translator's
// reason), filtered by feed, sink and error type, shown one by one, replayed or purged.
//
// GET /dead-letters?feed=&sink=&type=&limit=&offset= lists a page and the facets the filters
// offer; POST /dead-letters/replay and /dead-letters/purge take the selected ids (purge asks first).

import { api } from "./api.js";
import { count, dateTime, epoch, fill, h, message, relativeTime, shortType } from "./dom.js";
import { entityLink } from "./entity.js";

const PAGE = 50;

export class DeadLetters {
  constructor(root) {
    this.root = root;
    this.filters = {
      feed: root.querySelector("#filter-feed"),
      sink: root.querySelector("#filter-sink"),
      type: root.querySelector("#filter-type"),
    };
    this.rows = root.querySelector("#letter-rows");
    this.all = root.querySelector("#select-all");
    this.replayButton = root.querySelector("#replay");
    this.purgeButton = root.querySelector("#purge");
    this.force = root.querySelector("#force");
    this.summary = root.querySelector("#letters-summary");
    this.result = root.querySelector("#letters-result");
    this.error = root.querySelector("#letters-error");
    this.previous = root.querySelector("#letters-previous");
    this.next = root.querySelector("#letters-next");
    this.detail = document.querySelector("#letter-dialog");
    this.confirmDialog = document.querySelector("#confirm-dialog");
    this.offset = 0;
    this.letters = [];
    this.selected = new Set();
    for (const select of Object.values(this.filters)) {
      select.addEventListener("change", () => {
        this.offset = 0;
        this.load();
      });
    }
    root.querySelector("#letters-refresh").addEventListener("click", () => this.load());
    this.all.addEventListener("change", () => {
      for (const letter of this.letters) {
        if (this.all.checked) this.selected.add(letter.id);
        else this.selected.delete(letter.id);
      }
      this.renderRows();
    });
    this.replayButton.addEventListener("click", () => this.replay([...this.selected]));
    this.purgeButton.addEventListener("click", () => this.purge([...this.selected]));
    this.previous.addEventListener("click", () => this.page(-PAGE));
    this.next.addEventListener("click", () => this.page(PAGE));
  }

  show() {
    this.load();
  }

  hide() {}

  reset() {
    this.selected.clear();
  }

  page(step) {
    this.offset = Math.max(0, this.offset + step);
    this.load();
  }

  query() {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(this.offset) });
    for (const [name, select] of Object.entries(this.filters)) {
      if (select.value) params.set(name, select.value);
    }
    return params;
  }

  async load() {
    try {
      const answer = await api(`/dead-letters?${this.query()}`);
      this.letters = answer.dead_letters;
      const present = new Set(this.letters.map((letter) => letter.id));
      for (const id of [...this.selected]) if (!present.has(id)) this.selected.delete(id);
      this.renderFacets(answer.facets || {});
      const first = answer.count ? this.offset + 1 : 0;
      const last = this.offset + this.letters.length;
      this.summary.textContent = answer.count
        ? `${count(first)}–${count(last)} of ${count(answer.count)} dead letters`
        : "No dead letters.";
      this.previous.disabled = this.offset === 0;
      this.next.disabled = last >= answer.count;
      this.renderRows();
      message(this.error, "");
    } catch (error) {
      this.letters = [];
      this.renderRows();
      message(this.error, `Could not list the dead letters: ${error.message}`);
    }
  }

  renderFacets(facets) {
    for (const [name, select] of Object.entries(this.filters)) {
      const chosen = select.value;
      const values = Object.entries(facets[name] || {}).sort((a, b) => b[1] - a[1]);
      const options = values.map(([value, n]) =>
        h("option", { value }, `${name === "type" ? shortType(value) : value} (${count(n)})`),
      );
      if (chosen && !values.some(([value]) => value === chosen)) options.push(h("option", { value: chosen }, `${chosen} (0)`));
      fill(select, h("option", { value: "" }, `All ${name === "type" ? "error types" : `${name}s`}`), options);
      select.value = chosen;
    }
  }

  renderRows() {
    this.all.checked = this.letters.length > 0 && this.letters.every((letter) => this.selected.has(letter.id));
    this.all.disabled = this.letters.length === 0;
    const chosen = this.selected.size;
    this.replayButton.disabled = chosen === 0;
    this.purgeButton.disabled = chosen === 0;
    this.replayButton.textContent = chosen ? `Replay ${chosen}` : "Replay";
    this.purgeButton.textContent = chosen ? `Purge ${chosen}` : "Purge";
    if (!this.letters.length) {
      fill(this.rows, h("tr", {}, h("td", { colspan: 6, class: "empty" }, "Nothing here: every entity was delivered.")));
      return;
    }
    fill(this.rows, this.letters.map((letter) => this.row(letter)));
  }

  row(letter) {
    const reason = letter.reason || {};
    const last = epoch(letter.last_attempt ?? letter.created);
    return h(
      "tr",
      { dataset: { id: String(letter.id), entity: letter.entity_id || "" }, class: this.selected.has(letter.id) ? "selected" : "" },
      h(
        "td",
        { class: "check" },
        h("input", {
          type: "checkbox",
          checked: this.selected.has(letter.id),
          "aria-label": `select ${letter.entity_id}`,
          onchange: (event) => {
            if (event.target.checked) this.selected.add(letter.id);
            else this.selected.delete(letter.id);
            this.renderRows();
          },
        }),
      ),
      h(
        "td",
        { class: "entity" },
        h("button", { type: "button", class: "link", onclick: () => this.open(letter.id) }, subject(letter)),
        letter.entity_id ? h("div", {}, entityLink(letter.entity_id, "in the city graph →")) : "",
      ),
      h("td", {}, letter.feed || "–", h("div", { class: "muted" }, letter.sink)),
      h(
        "td",
        { class: "reason" },
        h("span", { class: "badge bad", title: reason.type || "" }, shortType(reason.type)),
        reason.status ? h("span", { class: "muted" }, ` ${reason.status}`) : "",
        h("div", { class: "title" }, reason.title || ""),
        reason.detail ? h("div", { class: "detail" }, reason.detail) : "",
      ),
      h("td", { class: "num" }, count(letter.attempts)),
      h("td", { title: dateTime(letter.last_attempt ?? letter.created) }, last === null ? "–" : relativeTime(last)),
    );
  }

  async open(id) {
    try {
      const letter = await api(`/dead-letters/${encodeURIComponent(id)}`);
      const reason = letter.reason || {};
      fill(
        this.detail.querySelector(".dialog-body"),
        h("h2", {}, subject(letter)),
        h(
          "dl",
          { class: "facts" },
          fact("Feed", letter.feed || "–"),
          fact("Sink", letter.sink),
          fact("Tenant", letter.tenant || "default"),
          fact("Attempts", count(letter.attempts)),
          fact("First attempt", dateTime(letter.first_attempt)),
          fact("Last attempt", dateTime(letter.last_attempt)),
          fact("Dead since", dateTime(letter.created)),
        ),
        h("h3", {}, "Reason"),
        h("p", { class: "reason-line" }, h("span", { class: "badge bad" }, shortType(reason.type)), " ", reason.title || "", reason.detail ? ` — ${reason.detail}` : ""),
        h("pre", { class: "json", id: "letter-reason" }, JSON.stringify(reason, null, 2)),
        h("h3", {}, "Data"),
        h("pre", { class: "json", id: "letter-data" }, JSON.stringify(letter.data, null, 2)),
      );
      const actions = this.detail.querySelector(".dialog-actions");
      fill(
        actions,
        h("button", { type: "button", class: "primary", onclick: () => this.closeThen(() => this.replay([letter.id])) }, "Replay"),
        h("button", { type: "button", class: "danger", onclick: () => this.closeThen(() => this.purge([letter.id])) }, "Purge"),
        h("button", { type: "button", onclick: () => this.detail.close() }, "Close"),
      );
      this.detail.showModal();
    } catch (error) {
      message(this.error, `Could not open dead letter ${id}: ${error.message}`);
    }
  }

  closeThen(action) {
    this.detail.close();
    action();
  }

  async replay(ids) {
    if (!ids.length) return;
    message(this.result, "");
    try {
      const answer = await api("/dead-letters/replay", { method: "POST", json: { ids, force: this.force.checked } });
      message(
        this.result,
        `Replayed ${count(answer.replayed)}, stale ${count(answer.stale)}, skipped ${count(answer.skipped)}.`,
        "ok",
      );
      this.selected.clear();
    } catch (error) {
      message(this.result, `Replay failed: ${error.message}`, "error");
    }
    await this.load();
  }

  async purge(ids) {
    if (!ids.length) return;
    const noun = ids.length === 1 ? "dead letter" : "dead letters";
    if (!(await this.confirm(`Purge ${ids.length} ${noun}?`, "They are deleted for good; they will not be delivered."))) return;
    message(this.result, "");
    try {
      const answer = await api("/dead-letters/purge", { method: "POST", json: { ids } });
      message(this.result, `Purged ${count(answer.purged)}.`, "ok");
      this.selected.clear();
    } catch (error) {
      message(this.result, `Purge failed: ${error.message}`, "error");
    }
    await this.load();
  }

  confirm(title, text) {
    const dialog = this.confirmDialog;
    dialog.querySelector(".confirm-title").textContent = title;
    dialog.querySelector(".confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    });
  }
}

/** What a letter is about: its entity, or (a rejected record: no entity) the record's number. */
function subject(letter) {
  if (letter.entity_id) return letter.entity_id;
  const record = letter.reason && letter.reason.record;
  return record ? `record ${record} of ${letter.feed || "a feed"} (#${letter.id})` : `dead letter #${letter.id}`;
}

function fact(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}
