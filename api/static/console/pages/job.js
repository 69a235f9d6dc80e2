// One job: progress while it renders; then a player with its chapters (a list and marks on a
// timeline), captions and word timings highlighted as it plays (where the job has captions.vtt or
// words.json), its chunks with their quality, speaker and read-back flags, re-rendering a chunk or
// a chapter with a new seed (a new job that re-stitches), and every result file to download.
import * as api from "../api.js";
import { announce, badge, errorBox, h, live, progress, replace, save, seconds, table } from "../ui.js";
import { attachWords, chaptersVtt, parseVtt } from "./captions.js";
import { jobName } from "./jobs.js";

const MAX_CHUNKS = 1000;

function summary(job) {
  const p = job.progress;
  const bits = [`${p.done} of ${p.total} chunks`];
  if (p.cache_hits) bits.push(`${p.cache_hits} from the cache`);
  if (job.status === "running" && p.eta_s !== null) bits.push(`about ${seconds(p.eta_s)} left`);
  if (job.waiting_for) bits.push(job.waiting_message || `waiting for a ${job.waiting_for}`);
  return h("div", { class: "summary" },
    h("p", {}, badge(job.status), " ", job.engine, job.result ? ` · ${seconds(job.result.duration_s)}` : ""),
    h("p", {}, progress(p.done, p.total, "Chunks rendered"), " ", bits.join(" · ")),
    job.error ? h("p", { class: "error", role: "alert" }, `${job.error.message} (${job.error.code})`) : null);
}

async function rerender(jobId, body, out) {
  try {
    const created = await api.send("POST", `/v1/jobs/${jobId}/rerender`, { json: body });
    announce("Re-render submitted");
    window.location.hash = `#/jobs/${created.id}`;
  } catch (err) {
    replace(out, errorBox(err));
  }
}

function chunkRows(job, chunks, out) {
  return chunks.map((c) => {
    const quality = [c.quality_retries ? `${c.quality_retries} retr${c.quality_retries === 1 ? "y" : "ies"}` : "first take",
      c.take_seed !== null && c.take_seed !== c.seed ? `kept seed ${c.take_seed}` : `seed ${c.seed}`,
      c.cache_hit ? "cached" : ""].filter(Boolean).join(", ");
    const speaker = c.speaker_similarity === null ? "–"
      : `${c.speaker_similarity.toFixed(2)}${c.speaker_flagged ? " ⚑ flagged" : ""}`;
    const heard = c.readback ? [c.readback, c.readback_wer !== null ? `WER ${c.readback_wer.toFixed(2)}` : "",
      c.readback_reason || ""].filter(Boolean).join(", ") : "–";
    const flagged = c.speaker_flagged || c.readback_flagged;
    return h("tr", { class: flagged ? "flagged" : null, dataset: { chunk: String(c.index) } },
      h("td", { class: "num" }, String(c.index)),
      h("td", { class: "num" }, String(c.chapter + 1)),
      h("td", { class: "text" }, c.text.length > 160 ? `${c.text.slice(0, 160)}…` : c.text),
      h("td", {}, badge(c.status)),
      h("td", {}, seconds(c.duration_s)),
      h("td", {}, quality),
      h("td", {}, speaker),
      h("td", {}, heard),
      h("td", {}, job.status === "succeeded" ? h("button", { type: "button", class: "small",
        "aria-label": `Re-render chunk ${c.index} with a new seed`,
        onclick: () => rerender(job.id, { chunk: c.index }, out) }, "Re-render") : "–"));
  });
}

async function allChunks(jobId) {
  let cursor = null;
  let plan = null;
  const chunks = [];
  do {
    const page = await api.get(`/v1/jobs/${jobId}/chunks?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    plan = plan || page;
    chunks.push(...page.chunks);
    cursor = page.next_cursor;
  } while (cursor && chunks.length < MAX_CHUNKS);
  return { chapters: plan.chapters, chunks };
}

function player(job, urls, out) {
  const duration = job.result.duration_s || 0;
  const chapters = job.result.chapters || [];
  const audio = h("audio", { controls: true, preload: "metadata", id: "player", "aria-label": `${jobName(job)}: audio` });
  const list = h("ol", { class: "chapters", "aria-label": "Chapters" });
  const marks = h("div", { class: "marks", role: "group", "aria-label": "Chapter marks" });
  const chapterItems = chapters.map((c, i) => {
    const go = () => { audio.currentTime = c.start_s; audio.play().catch(() => {}); };
    const item = h("li", { dataset: { chapter: String(i) } },
      h("button", { type: "button", class: "link", onclick: go }, c.title), " ",
      h("span", { class: "time" }, seconds(c.start_s)), " ",
      h("button", { type: "button", class: "small secondary", "aria-label": `Re-render chapter ${i + 1}, ${c.title}`,
        onclick: () => rerender(job.id, { chapter: i }, out) }, "Re-render chapter"));
    const mark = h("button", { type: "button", class: "mark", title: c.title, "aria-label": `Go to ${c.title}`,
      onclick: go });
    mark.style.left = `${duration ? (100 * c.start_s) / duration : 0}%`;
    list.append(item);
    marks.append(mark);
    return item;
  });
  const transcript = h("div", { class: "transcript", role: "region", "aria-label": "Captions", tabindex: "0" },
    h("p", { class: "hint" }, "Loading captions…"));
  let cues = [];
  let wordEls = [];
  let cueEls = [];

  audio.addEventListener("timeupdate", () => {
    const t = audio.currentTime;
    chapterItems.forEach((item, i) => {
      const now = t >= chapters[i].start_s && t < chapters[i].end_s;
      item.classList.toggle("now", now);
      if (now) item.setAttribute("aria-current", "true"); else item.removeAttribute("aria-current");
    });
    cues.forEach((cue, i) => {
      const now = t >= cue.start && t < cue.end;
      if (now !== cueEls[i].classList.contains("now")) {
        cueEls[i].classList.toggle("now", now);
        if (now) cueEls[i].scrollIntoView({ block: "nearest" });
      }
    });
    for (const [el, w] of wordEls) el.classList.toggle("now", t >= w.start && t < w.end);
  });

  audio.src = urls.audio;
  if (chapters.length) {
    audio.append(h("track", { kind: "chapters", label: "Chapters", srclang: "en",
      src: urls.keep(URL.createObjectURL(new Blob([chaptersVtt(chapters)], { type: "text/vtt" }))) }));
  }

  (async () => {
    const files = job.result.files || {};
    if (!files["captions.vtt"]) {
      replace(transcript, h("p", { class: "hint" }, "This job has no captions (no captions.vtt among its files)."));
      return;
    }
    const vtt = await api.text(files["captions.vtt"]);
    cues = parseVtt(vtt);
    if (files["words.json"] && !cues.some((c) => c.words.length)) {
      attachWords(cues, JSON.parse(await api.text(files["words.json"])));
    }
    audio.append(h("track", { kind: "captions", label: "Captions", srclang: "en",
      src: urls.keep(URL.createObjectURL(new Blob([vtt], { type: "text/vtt" }))) }));
    wordEls = [];
    cueEls = cues.map((cue) => {
      const seek = () => { audio.currentTime = cue.start; };
      const body = cue.words.length ? cue.words.map((w) => {
        const span = h("span", { class: "word" }, w.word);
        wordEls.push([span, w]);
        return [span, " "];
      }) : cue.text;
      return h("p", { class: "cue", dataset: { start: String(cue.start) } },
        h("button", { type: "button", class: "link time", "aria-label": `Play from ${seconds(cue.start)}`,
          onclick: seek }, seconds(cue.start)), " ", body);
    });
    replace(transcript, cueEls.length ? cueEls : h("p", { class: "hint" }, "The captions are empty."));
  })().catch((err) => replace(transcript, errorBox(err)));

  return h("section", { "aria-labelledby": "listen" }, h("h2", { id: "listen" }, "Listen"), audio,
    chapters.length ? [marks, h("h3", {}, "Chapters"), list] : null,
    h("h3", {}, "Captions"), transcript);
}

function downloads(job, urls) {
  const files = [[`${job.id}.${job.result.format}`, job.result.url],
    ...Object.entries(job.result.files || {})];
  return h("section", { "aria-labelledby": "files" }, h("h2", { id: "files" }, "Files"),
    h("ul", { class: "files" }, files.map(([name, url]) => h("li", {},
      h("button", { type: "button", class: "link", onclick: async () => {
        save(urls.keep(await api.objectUrl(url)), name);
      } }, `Download ${name}`)))));
}

export function render(page, jobId) {
  const head = h("div", {}, h("p", {}, "Loading…"));
  const out = h("div", { class: "result" });
  const body = h("div");
  const title = h("h1", {}, "Job");
  replace(page, h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")), title, head, out, body);
  const objectUrls = [];
  const urls = { keep: (url) => { if (url.startsWith("blob:")) objectUrls.push(url); return url; } };
  let timer = null;
  let stopped = false;
  let shown = null;

  async function full(job) {
    const parts = [];
    if (job.status === "succeeded") {
      urls.audio = urls.keep(await api.objectUrl(job.result.url));
      if (stopped) return;
      parts.push(player(job, urls, out));
    }
    const plan = await allChunks(job.id);
    if (stopped) return;
    parts.push(h("section", { "aria-labelledby": "chunks" }, h("h2", { id: "chunks" }, "Chunks"),
      table(`${plan.chunks.length} chunks in ${plan.chapters.length || 1} chapter(s)`,
        ["#", "Chapter", "Text", "Status", "Length", "Quality", "Speaker", "Read-back", "Re-render"],
        chunkRows(job, plan.chunks, out))));
    if (job.status === "succeeded") parts.push(downloads(job, urls));
    replace(body, parts);
  }

  async function refresh() {
    try {
      const job = await api.get(`/v1/jobs/${jobId}`);
      if (stopped) return;
      replace(title, jobName(job));
      const actions = live(job.status) ? h("p", {}, h("button", { type: "button", class: "secondary", onclick: async () => {
        try { await api.send("POST", `/v1/jobs/${job.id}/cancel`); announce("Job canceled"); refresh(); }
        catch (err) { replace(out, errorBox(err)); }
      } }, "Cancel job")) : null;
      replace(head, summary(job), actions);
      if (shown !== job.status && (!live(job.status) || shown === null)) {
        shown = job.status;
        await full(job);
        if (!live(job.status)) announce(`Job ${job.status}`);
      }
      if (live(job.status)) timer = window.setTimeout(refresh, 1500);
    } catch (err) {
      if (!stopped) replace(head, errorBox(err));
    }
  }
  refresh();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    objectUrls.forEach((url) => URL.revokeObjectURL(url));
  };
}
