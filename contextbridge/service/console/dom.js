// Small DOM helpers: elements built from data (never from HTML strings), numbers and times.
//
//   h("td", { class: "num", title: "records" }, "42")
//   svg("circle", { cx: 10, cy: 10, r: 3 }, svg("title", {}, "3101"))
//   relativeTime(1732530000, 1732530042)   // "42 s ago"

const SVG = "http://www.w3.org/2000/svg";

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name in element && typeof element[name] !== "object" && !(element instanceof SVGElement)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: tag, attributes (on* are listeners), children (nodes or text). */
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** An SVG element. */
export function svg(tag, attributes, ...children) {
  return build(document.createElementNS(SVG, tag), attributes, children);
}

/** Replace the children of `element`. */
export function fill(element, ...children) {
  element.replaceChildren();
  return build(element, {}, children);
}

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });

export function count(value) {
  return value === null || value === undefined ? "–" : integer.format(value);
}

export function rate(value) {
  return value === null || value === undefined ? "–" : decimal.format(value);
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago" — `now` and `then` in epoch seconds. */
export function relativeTime(then, now = Date.now() / 1000) {
  if (then === null || then === undefined) return "never";
  const seconds = Math.max(0, Math.round(now - then));
  if (seconds < 2) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** An epoch (seconds) or ISO string as a local date and time. */
export function dateTime(value) {
  if (value === null || value === undefined || value === "") return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString("en-GB");
}

/** An epoch in seconds, from a number or an ISO string (null when neither). */
export function epoch(value) {
  if (typeof value === "number") return value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed / 1000;
}

/** A message box: kind "error" | "info" | "ok"; an empty text hides it. */
export function message(element, text, kind = "error") {
  element.hidden = !text;
  element.className = `message ${kind}`;
  element.textContent = text || "";
}

/** The last path segment of a ProblemDetails type URI ("BadRequestData"). */
export function shortType(type) {
  return String(type || "").replace(/[/#]$/, "").split(/[/#]/).pop() || "unknown";
}

/** Call `action` once `delay` ms have passed without another call. */
export function debounce(action, delay) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => action(...args), delay);
  };
}
