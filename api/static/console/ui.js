// DOM helpers.  Text always enters the page as text nodes (h() never parses HTML), so a job
// titled "<script>" shows those characters and runs nothing.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export function id(prefix) { uid += 1; return `${prefix}-${uid}`; }

// a labelled form control: label text, then the control (which gets an id)
export function field(label, control, hint) {
  control.id = control.id || id("f");
  const parts = [h("label", { for: control.id }, label), control];
  if (hint) {
    const hintId = id("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("span", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, parts);
}

export function announce(message) {
  const status = document.getElementById("status");
  status.textContent = "";
  window.setTimeout(() => { status.textContent = message; }, 50);
}

export function errorText(err) {
  if (err && err.code && err.message) return `${err.message} (${err.code})`;
  return String((err && err.message) || err);
}

export function errorBox(err, explain) {
  const extra = explain ? explain(err) : null;
  return h("div", { class: "error", role: "alert" }, h("p", {}, errorText(err)), extra ? h("p", {}, extra) : null);
}

export function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const s = Math.max(0, Math.round(value));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

export function when(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString();
}

export function badge(status) {
  return h("span", { class: `badge s-${status}` }, status);
}

export function progress(done, total, label) {
  return h("progress", { max: Math.max(total, 1), value: done, "aria-label": label });
}

export function table(caption, headers, rows) {
  return h("div", { class: "table-wrap" },
    h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows)));
}

// save a Blob (or an object URL) under `name` through a temporary link
export function save(url, name) {
  const a = h("a", { href: url, download: name, class: "visually-hidden" });
  document.body.append(a);
  a.click();
  a.remove();
}

export const live = (status) => status === "queued" || status === "running";
