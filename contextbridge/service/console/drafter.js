// "Draft from payload": the playground's payload posted to POST /playground/draft; the drafted
// mapping (each line with a comment saying why) replaces the editor's text, and its entities
// show as after any edit. The three best-ranked types are listed beside the button; the type
// picker redrafts for another one.

import { api } from "./api.js";
import { fill, h, message } from "./dom.js";

export function attachDrafter(playground) {
  const button = h(
    "button",
    { type: "button", id: "draft-mapping", title: "Propose a mapping for the payload from the ontology" },
    "Draft from payload",
  );
  const types = h("select", { id: "draft-type", "aria-label": "Entity type of the draft" });
  fill(types, h("option", { value: "" }, "best-ranked type"));
  const ranking = h("span", { id: "draft-ranking", class: "muted", role: "status" });
  playground.root.querySelector(".toolbar").append(button, types, ranking);

  async function draft() {
    const payload = playground.payload.value;
    if (!payload.trim()) {
      message(playground.error, "Paste a payload first: the draft is made from it.");
      return;
    }
    button.disabled = true;
    ranking.textContent = "Drafting…";
    try {
      const json = { payload, type: types.value || null };
      const answer = await api("/playground/draft", { method: "POST", json });
      playground.name = null; // a draft is no configured mapping: nothing to save beside
      playground.picker.value = "";
      playground.allowSave(false);
      playground.mapping.value = answer.mapping;
      if (!types.value && answer.ranking.length) {
        const ranked = answer.ranking.map((item) => h("option", { value: item.type }, `${item.type} (${item.score})`));
        fill(types, h("option", { value: "" }, "best-ranked type"), ranked);
      }
      ranking.textContent = `Draft for ${answer.type}: ${answer.attributes} attributes proposed; review each line`;
      message(playground.error, "");
      await playground.translate();
    } catch (error) {
      ranking.textContent = "";
      message(playground.error, `Could not draft a mapping: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener("click", draft);
  types.addEventListener("change", draft);
}
