// The service's HTTP API as the console uses it: every request carries the key and the tenant.
//
//   import { api, credentials } from "./api.js";
//   credentials.save("my-key", "porto");
//   const status = await api("/status");                       // parsed JSON
//   await api("/dead-letters/replay", { method: "POST", json: { ids: [1] } });
//
// Errors come back as ApiError carrying the service's ProblemDetails (RFC 9457); a 401 or 403
// also fires an "auth-needed" event on `credentials`, so that the page asks for a key. A 401
// (no key configured, or this key not valid) also forgets the key: the badge says "No key".

const KEY = "contextbridge.key";
const TENANT = "contextbridge.tenant";

class Credentials extends EventTarget {
  get key() {
    return sessionStorage.getItem(KEY) || "";
  }

  get tenant() {
    return sessionStorage.getItem(TENANT) || "";
  }

  save(key, tenant) {
    sessionStorage.setItem(KEY, key.trim());
    sessionStorage.setItem(TENANT, tenant.trim());
    this.dispatchEvent(new Event("change"));
  }

  forget() {
    sessionStorage.removeItem(KEY);
    this.dispatchEvent(new Event("change"));
  }

  /** The request headers: the key, and the tenant when one is set (none: the default tenant). */
  headers(extra = {}) {
    const headers = { "X-API-Key": this.key, ...extra };
    if (this.tenant) headers["NGSILD-Tenant"] = this.tenant;
    return headers;
  }
}

export const credentials = new Credentials();

/** An error answer of the service: `status`, and `problem` ({type, title, status, detail}). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(describe(problem, status));
    this.status = status;
    this.problem = problem;
  }

  get kind() {
    return (this.problem.type || "").split("/").pop();
  }
}

/** A ProblemDetails as one readable line: "Forbidden: key 'reader' is read-only". */
export function describe(problem, status) {
  const title = problem.title || `HTTP ${status}`;
  return problem.detail ? `${title}: ${problem.detail}` : title;
}

async function problemOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") return body;
  } catch {
    // not JSON: a proxy's page, or plain text
  }
  return { title: `${response.status} ${response.statusText}`.trim(), detail: text.slice(0, 300) };
}

/**
 * fetch() with the key and tenant; resolves to the Response when `raw`, else to the parsed body.
 * Options: method, json (a body sent as JSON), form (an object sent URL-encoded), accept, signal.
 */
export async function api(path, { method = "GET", json, form, accept, signal, raw = false } = {}) {
  if (!credentials.key) {
    credentials.dispatchEvent(new CustomEvent("auth-needed", { detail: "Enter an API key to continue." }));
    throw new ApiError(401, { title: "No API key", detail: "enter an API key (above) to continue" });
  }
  const extra = { Accept: accept || "application/json" };
  let body;
  if (json !== undefined) {
    extra["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  const sent = credentials.key;
  const response = await fetch(path, { method, headers: credentials.headers(extra), body, signal });
  if (!response.ok) {
    const problem = await problemOf(response);
    // Forget a refused key, unless another was entered while this request was on its way.
    if (response.status === 401 && credentials.key === sent) credentials.forget();
    if (response.status === 401 || response.status === 403) {
      credentials.dispatchEvent(new CustomEvent("auth-needed", { detail: describe(problem, response.status) }));
    }
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

/** True for the rejection of a request that was cancelled on purpose (AbortController). */
export function aborted(error) {
  return error && error.name === "AbortError";
}
