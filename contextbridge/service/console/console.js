// The console's entry point: the key and tenant form, the tabs (and the URL hash), the four views.
//
// The key lives in sessionStorage (this tab only, gone when it closes); every request of every
// view carries it with the tenant (api.js). A 401 or 403 anywhere opens the key form again with
// the service's reason (a 401 also forgets the key). A URL whose fragment carries a key
// (`/#key=...`, as `contextbridge serve` prints it on loopback) sets it, and leaves the address bar.

import { credentials } from "./api.js";
import { Dashboard } from "./dashboard.js";
import { DeadLetters } from "./deadletters.js";
import { message } from "./dom.js";
import { attachDrafter } from "./drafter.js";
import { EntityPage } from "./entity.js";
import { Playground } from "./playground.js";
import { SparqlPage } from "./sparql.js";
import { TypePanel } from "./typepanel.js";

const VIEWS = ["playground", "feeds", "sparql", "dead-letters", "entity"]; // entity: #entity/<id>, no tab

const form = document.querySelector("#auth-form");
const keyInput = document.querySelector("#api-key");
const tenantInput = document.querySelector("#tenant");
const authMessage = document.querySelector("#auth-message");
const who = document.querySelector("#who");
const forget = document.querySelector("#forget-key");

const views = {
  playground: new Playground(document.querySelector("#playground")),
  feeds: new Dashboard(document.querySelector("#feeds")),
  sparql: new SparqlPage(document.querySelector("#sparql")),
  "dead-letters": new DeadLetters(document.querySelector("#dead-letters")),
  entity: new EntityPage(document.querySelector("#entity")),
};
attachDrafter(views.playground);
new TypePanel(document.querySelector("#playground")); // after the playground made its editors
let current = null;

function currentView() {
  const name = location.hash.replace(/^#/, "").split("/")[0];
  return VIEWS.includes(name) ? name : "playground";
}

function showAuth(text, kind = "info") {
  form.classList.add("open");
  message(authMessage, text, kind);
  keyInput.focus();
}

function renderWho() {
  const tenant = credentials.tenant || "default tenant";
  who.textContent = credentials.key ? `Key set · ${tenant}` : "No key";
  who.className = credentials.key ? "who ok" : "who off";
  forget.hidden = !credentials.key;
}

function route() {
  const name = currentView();
  for (const view of VIEWS) {
    const active = view === name;
    document.querySelector(`#${view}`).hidden = !active;
    const tab = document.querySelector(`#tab-${view}`);
    if (!tab) continue;
    tab.setAttribute("aria-selected", String(active));
    tab.classList.toggle("active", active);
  }
  if (current && current !== name && views[current].hide) views[current].hide();
  current = name;
  const tab = document.querySelector(`#tab-${name}`);
  document.title = `${tab ? tab.textContent : "Entity"} · contextbridge console`;
  if (credentials.key) views[name].show();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!keyInput.value.trim()) {
    showAuth("The key is empty.", "error");
    return;
  }
  credentials.save(keyInput.value, tenantInput.value);
  keyInput.value = "";
  form.classList.remove("open");
  message(authMessage, "");
});

forget.addEventListener("click", () => {
  credentials.forget();
  showAuth("Key forgotten. Enter a key to continue.");
});

document.querySelector("#change-key").addEventListener("click", () => {
  if (form.classList.contains("open") && credentials.key) form.classList.remove("open");
  else showAuth("");
});

credentials.addEventListener("change", () => {
  renderWho();
  for (const view of Object.values(views)) {
    if (view.reset) view.reset();
    if (view.hide) view.hide();
  }
  route();
});

credentials.addEventListener("auth-needed", (event) => {
  const reason = event.detail.replace(/[.\s]*$/, ".");
  // After a 403 the key is kept (it may do other things); a refused key (401) is already forgotten.
  const next = credentials.key ? "Enter a key that may do this." : "Enter a valid key.";
  showAuth(reason.startsWith("Enter") ? reason : `${reason} ${next}`, "error");
});

/** Take a key from the URL's fragment (`#key=...`), then remove it from the address bar and history. */
function keyFromFragment() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const key = (fragment.get("key") || "").trim();
  if (!fragment.has("key")) return;
  history.replaceState(null, "", location.pathname + location.search);
  if (key) credentials.save(key, credentials.tenant);
}

window.addEventListener("hashchange", () => {
  if (location.hash.startsWith("#key=")) keyFromFragment();
  route();
});

keyFromFragment();
tenantInput.value = credentials.tenant;
renderWho();
if (!credentials.key) {
  showAuth(
    "Enter an API key of this service to start. It is kept in this tab only. " +
      "(On your own machine, `contextbridge serve` prints a console URL that carries one.)",
  );
}
route();
