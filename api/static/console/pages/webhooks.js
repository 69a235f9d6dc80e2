// Webhooks: the signing secret (shown on request, rotated), the default endpoint, and a job's
// deliveries log with each attempt, and redelivery.
import * as api from "../api.js";
import { announce, badge, errorBox, field, h, replace, table, when } from "../ui.js";
import { jobName } from "./jobs.js";

function attempts(delivery) {
  if (!delivery.attempts.length) return "not sent yet";
  return delivery.attempts.map((a) => `#${a.attempt} ${a.status_code ?? "no answer"}`
    + `${a.latency_ms !== null ? ` in ${Math.round(a.latency_ms)} ms` : ""}${a.error ? ` (${a.error})` : ""}`).join("; ");
}

export function render(page) {
  const out = h("div", { class: "result" });
  const secret = h("code", { class: "secret" }, "hidden");
  const endpoint = h("input", { name: "url", type: "url", placeholder: "https://example.com/hooks" });
  const jobSelect = h("select", { name: "job" });
  const log = h("div");
  const endpointForm = h("form", { class: "inline" }, field("Default endpoint (empty: none)", endpoint),
    h("button", { type: "submit" }, "Save"));
  replace(page, h("h1", {}, "Webhooks"),
    h("section", { "aria-labelledby": "secret-title" }, h("h2", { id: "secret-title" }, "Signing secret"),
      h("p", {}, secret),
      h("button", { type: "button", class: "secondary", onclick: async () => {
        try { secret.textContent = (await api.get("/v1/webhooks/secret")).secret; } catch (err) { replace(out, errorBox(err)); }
      } }, "Show secret"), " ",
      h("button", { type: "button", class: "secondary", onclick: async () => {
        try {
          const s = await api.send("POST", "/v1/webhooks/secret/rotate");
          secret.textContent = s.secret;
          announce("Secret rotated");
        } catch (err) { replace(out, errorBox(err)); }
      } }, "Rotate secret")),
    h("section", { "aria-labelledby": "endpoint-title" }, h("h2", { id: "endpoint-title" }, "Endpoint"), endpointForm),
    out,
    h("section", { "aria-labelledby": "log-title" }, h("h2", { id: "log-title" }, "Deliveries"),
      field("Job", jobSelect), log));
  let stopped = false;

  async function showLog() {
    const jobId = jobSelect.value;
    if (!jobId) { replace(log, h("p", {}, "No jobs yet.")); return; }
    try {
      const deliveries = (await api.get(`/v1/jobs/${jobId}/webhook-deliveries`)).data;
      if (stopped || jobId !== jobSelect.value) return;  // another job was chosen meanwhile
      replace(log, deliveries.length ? table("Events of this job and their delivery attempts",
        ["Event", "Status", "Attempts", "Delivered", "Redeliver"], deliveries.map((d) => h("tr", {},
          h("td", {}, d.type), h("td", {}, badge(d.status)), h("td", {}, attempts(d)), h("td", {}, when(d.delivered_at)),
          h("td", {}, h("button", { type: "button", class: "small", "aria-label": `Redeliver ${d.type}`, onclick: async () => {
            try { await api.send("POST", `/v1/webhook-deliveries/${d.id}/redeliver`); announce("Redelivery queued"); showLog(); }
            catch (err) { replace(out, errorBox(err)); }
          } }, "Redeliver"))))) : h("p", {}, "This job has no webhook events (no endpoint was set when it ran)."));
    } catch (err) {
      if (!stopped) replace(log, errorBox(err));
    }
  }

  endpointForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api.send("PUT", "/v1/webhooks/endpoint", { json: { url: endpoint.value.trim() || null } });
      announce("Endpoint saved");
      replace(out, h("p", { class: "ok" }, "Endpoint saved."));
    } catch (err) {
      replace(out, errorBox(err));
    }
  });
  jobSelect.addEventListener("change", showLog);
  Promise.all([api.get("/v1/webhooks/endpoint"), api.get("/v1/jobs?limit=50")]).then(([ep, jobs]) => {
    if (stopped) return;
    endpoint.value = ep.url || "";
    replace(jobSelect, jobs.data.map((j) => h("option", { value: j.id }, `${jobName(j)} (${j.status})`)));
    showLog();
  }).catch((err) => replace(out, errorBox(err)));
  return () => { stopped = true; };
}
