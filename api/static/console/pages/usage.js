// Usage: what this tenant consumed (characters, audio and engine seconds, per engine and per job)
// and its limits with its standing against each.
import * as api from "../api.js";
import { errorBox, h, replace, table } from "../ui.js";

const num = (v) => (v === null || v === undefined ? "–" : typeof v === "number" ? String(Math.round(v * 100) / 100) : v);

function totals(label, t) {
  return h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, num(t.chunks)), h("td", {}, num(t.cache_hits)),
    h("td", {}, num(t.characters)), h("td", {}, num(t.audio_s)), h("td", {}, num(t.engine_s)));
}

export function render(page) {
  const body = h("div", {}, h("p", {}, "Loading…"));
  replace(page, h("h1", {}, "Usage"), body);
  let stopped = false;
  api.get("/v1/usage").then((u) => {
    if (stopped) return;
    const columns = ["Scope", "Chunks", "Cache hits", "Characters", "Audio s", "Engine s"];
    replace(body,
      h("p", {}, `Tenant ${u.tenant}, all time.`),
      table("Totals and per engine", columns, [totals("All engines", u.total), ...u.engines.map((e) => totals(e.engine, e))]),
      table(`Per job${u.jobs_truncated ? " (the heaviest only)" : ""}`, columns,
        u.jobs.map((j) => totals(j.job_id, j))),
      table("Limits", ["Limit", "Value", "Used", "Remaining", "From"], Object.entries(u.limits).map(([name, l]) =>
        h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, l.limit === null ? "none" : num(l.limit)),
          h("td", {}, num(l.used)), h("td", {}, num(l.remaining)), h("td", {}, l.source)))));
  }).catch((err) => { if (!stopped) replace(body, errorBox(err)); });
  return () => { stopped = true; };
}
