// Batches: submit many texts as one batch (one job per line), follow a batch's progress and its
// jobs, cancel it.  The API lists no batches, so the page keeps the ids submitted in this tab and
// opens any other by its id.
import * as api from "../api.js";
import { badge, errorBox, field, h, progress, replace, table } from "../ui.js";
import { jobName } from "./jobs.js";

const submitted = [];  // this tab's batches, newest first (memory only, like the key)

function batchView(batch, jobs, onCancel) {
  const p = batch.progress;
  return h("section", { "aria-labelledby": "batch-title" },
    h("h2", { id: "batch-title" }, `Batch ${batch.id}`),
    h("p", {}, badge(batch.status), " ", progress(p.jobs_done, p.jobs_total, "Jobs finished"),
      ` ${p.jobs_done}/${p.jobs_total} jobs · ${p.chunks_done}/${p.chunks_total} chunks`),
    h("p", {}, Object.entries(batch.counts).map(([status, n]) => `${status}: ${n}`).join(" · ")),
    batch.status !== "completed" && !batch.cancel_requested
      ? h("button", { type: "button", class: "secondary", onclick: onCancel }, "Cancel batch") : null,
    table("The batch's jobs in item order", ["Job", "Status", "Progress"], jobs.map((j) => h("tr", {},
      h("td", {}, h("a", { href: `#/jobs/${j.id}` }, jobName(j))), h("td", {}, badge(j.status)),
      h("td", {}, `${j.progress.done}/${j.progress.total}`)))));
}

export function render(page, batchId) {
  const out = h("div", { class: "result" });
  const view = h("div");
  const items = h("textarea", { name: "items", rows: "6", required: true });
  const form = h("form", { class: "stack" }, field("Texts, one job per line", items),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Submit batch")));
  const lookup = h("input", { name: "batch", pattern: "bat_[0-9A-Z]{26}", spellcheck: "false" });
  const open = h("form", { class: "inline" }, field("Batch id", lookup), h("button", { type: "submit" }, "Open"));
  const mine = h("ul");
  replace(page, h("h1", {}, "Batches"),
    h("section", { "aria-labelledby": "new-batch" }, h("h2", { id: "new-batch" }, "New batch"), form, out),
    h("section", { "aria-labelledby": "find-batch" }, h("h2", { id: "find-batch" }, "Open a batch"), open,
      submitted.length ? [h("p", {}, "Submitted in this tab:"), mine] : null),
    view);
  replace(mine, submitted.map((id) => h("li", {}, h("a", { href: `#/batches/${id}` }, id))));
  let timer = null;
  let stopped = false;

  async function show(id) {
    try {
      const [batch, jobs] = await Promise.all([api.get(`/v1/batches/${id}`), api.get(`/v1/batches/${id}/jobs?limit=100`)]);
      if (stopped) return;
      replace(view, batchView(batch, jobs.data, async () => {
        try { await api.send("POST", `/v1/batches/${id}/cancel`); show(id); } catch (err) { replace(out, errorBox(err)); }
      }));
      if (batch.status !== "completed") timer = window.setTimeout(() => show(id), 2000);
    } catch (err) {
      if (!stopped) replace(view, errorBox(err));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = items.value.split("\n").map((l) => l.trim()).filter(Boolean);
    try {
      const batch = await api.send("POST", "/v1/batches", { json: { items: lines.map((text) => ({ text })) } });
      submitted.unshift(batch.id);
      window.location.hash = `#/batches/${batch.id}`;
    } catch (err) {
      replace(out, errorBox(err));
    }
  });
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.hash = `#/batches/${lookup.value.trim()}`;
  });
  if (batchId) show(batchId);
  return () => { stopped = true; window.clearTimeout(timer); };
}
