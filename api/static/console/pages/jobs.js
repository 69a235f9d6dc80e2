// Jobs: the tenant's jobs, newest first, with live progress (done/total), ETA and what an
// unfinished job waits for.  Polled lightly (every 2 s while any job is live, else every 15 s);
// only the table body changes.
import * as api from "../api.js";
import { badge, errorBox, h, live, progress, replace, seconds, table, when } from "../ui.js";

export function jobName(job) {
  if (job.title) return job.title;
  return job.id;
}

function row(job) {
  const p = job.progress;
  const eta = job.status === "running" && p.eta_s !== null ? `${seconds(p.eta_s)} left` : "";
  const waiting = job.waiting_for ? job.waiting_message || `waiting for a ${job.waiting_for}` : "";
  return h("tr", { dataset: { job: job.id } },
    h("td", {}, h("a", { href: `#/jobs/${job.id}` }, jobName(job))),
    h("td", {}, badge(job.status)),
    h("td", { class: "num" }, progress(p.done, p.total, `${jobName(job)}: ${p.done} of ${p.total} chunks`),
      h("span", { class: "count" }, ` ${p.done}/${p.total}`)),
    h("td", {}, [eta, waiting].filter(Boolean).join(" · ") || "–"),
    h("td", {}, job.result ? seconds(job.result.duration_s) : "–"),
    h("td", {}, when(job.created_at)));
}

export function render(page) {
  const body = h("div", { class: "jobs" }, h("p", {}, "Loading…"));
  replace(page, h("h1", {}, "Jobs"), h("p", {}, h("a", { href: "#/new", class: "button" }, "New job")), body);
  let timer = null;
  let stopped = false;

  async function refresh() {
    try {
      const list = await api.get("/v1/jobs?limit=50");
      if (stopped) return;
      // the table is rebuilt: keep the keyboard focus on the link it was on
      const focused = body.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
      if (!list.data.length) {
        replace(body, h("p", {}, "No jobs yet. ", h("a", { href: "#/new" }, "Render your first one.")));
      } else {
        replace(body, table("Your jobs, newest first", ["Job", "Status", "Progress", "ETA / waiting for", "Length",
          "Created"], list.data.map(row)));
      }
      if (focused) body.querySelector(`a[href="${CSS.escape(focused)}"]`)?.focus();
      timer = window.setTimeout(refresh, list.data.some((j) => live(j.status)) ? 2000 : 15000);
    } catch (err) {
      if (stopped) return;
      replace(body, errorBox(err));
      timer = window.setTimeout(refresh, 15000);
    }
  }
  refresh();
  return () => { stopped = true; window.clearTimeout(timer); };
}
