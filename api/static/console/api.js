// Every call the console makes goes through here, to the public API, with the user's key.
// The key lives in this module's variable only: never in storage, a cookie, a URL or a log.
let key = null;

export function signIn(value) { key = value; }
export function signOut() { key = null; }
export function signedIn() { return key !== null; }

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function failure(resp) {
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON */ }
  const err = (body && body.error) || {};
  return new ApiError(resp.status, err.code || `http_${resp.status}`, err.message || resp.statusText, err.details);
}

// fetch `path` (same origin) with the key; `json` is sent as JSON, `form` (FormData) as multipart
export async function call(method, path, { json, form, signal } = {}) {
  if (key === null) throw new ApiError(401, "signed_out", "sign in first");
  const headers = { Authorization: `Bearer ${key}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const resp = await fetch(path, { method, headers, body, signal, cache: "no-store", credentials: "omit",
                                   referrerPolicy: "no-referrer" });
  if (!resp.ok) throw await failure(resp);
  return resp;
}

export async function get(path, opts) { return (await call("GET", path, opts)).json(); }

export async function send(method, path, opts) {
  const resp = await call(method, path, opts);
  return resp.status === 204 ? null : resp.json();
}

// A result or file URL as the API gives it: this farm's own path is fetched with the key and
// played or saved from memory; a presigned storage URL carries its own signature and is used as is.
export function ownPath(url) {
  const u = new URL(url, window.location.href);
  const presigned = [...u.searchParams.keys()].some((k) => /signature/i.test(k));
  return u.pathname.startsWith("/v1/") && !presigned ? u.pathname : null;
}

export async function objectUrl(url) {
  const path = ownPath(url);
  if (path === null) return url;
  const blob = await (await call("GET", path)).blob();
  return URL.createObjectURL(blob);
}

export async function text(url) {
  const path = ownPath(url);
  const resp = path === null ? await fetch(url, { credentials: "omit" }) : await call("GET", path);
  if (!resp.ok) throw await failure(resp);
  return resp.text();
}
