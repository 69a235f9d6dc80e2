// New job: text, Markdown or an EPUB; engine, voice and params from GET /v1/engines (with their
// ranges); format or preset; per-chapter files; a one-paragraph preview through POST /v1/audio/speech.
import * as api from "../api.js";
import { announce, errorBox, field, h, replace } from "../ui.js";

const PREVIEW_CHARS = 400;

function paramControl(param) {
  const attrs = { name: param.name, "data-type": param.type };
  if (param.type === "int" || param.type === "float") {
    Object.assign(attrs, { type: "number", step: param.type === "int" ? "1" : "any" });
    if (param.minimum !== undefined && param.minimum !== null) attrs.min = String(param.minimum);
    if (param.maximum !== undefined && param.maximum !== null) attrs.max = String(param.maximum);
  } else if (param.type === "bool") {
    return h("select", attrs, h("option", { value: "" }, "default"), h("option", { value: "true" }, "yes"),
      h("option", { value: "false" }, "no"));
  } else {
    attrs.type = "text";
    if (param.pattern) attrs.pattern = param.pattern;
  }
  if (param.default !== null && param.default !== undefined) attrs.placeholder = String(param.default);
  return h("input", attrs);
}

function range(param) {
  const parts = [];
  if (param.minimum !== undefined && param.minimum !== null) parts.push(`from ${param.minimum}`);
  if (param.maximum !== undefined && param.maximum !== null) parts.push(`to ${param.maximum}`);
  if (param.default !== null && param.default !== undefined) parts.push(`default ${param.default}`);
  return [param.description, parts.join(", ")].filter(Boolean).join("; ");
}

function readParams(box) {
  const params = {};
  for (const el of box.querySelectorAll("[data-type]")) {
    if (el.value === "") continue;
    const type = el.dataset.type;
    params[el.name] = type === "int" ? parseInt(el.value, 10) : type === "float" ? parseFloat(el.value)
      : type === "bool" ? el.value === "true" : el.value;
  }
  return params;
}

function firstParagraph(textValue) {
  const paragraphs = textValue.split(/\n\s*\n/).map((p) => p.replace(/^#+\s.*$/gm, "").trim()).filter(Boolean);
  return (paragraphs[0] || "").slice(0, PREVIEW_CHARS);
}

export function render(page) {
  const out = h("div", { class: "result" });
  const form = h("form", { class: "stack", novalidate: false });
  replace(page, h("h1", {}, "New job"), form, out);
  let engines = [];
  let voices = [];
  let previewUrl = null;
  let stopped = false;

  const title = h("input", { name: "title", maxlength: "500" });
  const author = h("input", { name: "author", maxlength: "500" });
  const kind = h("select", { name: "kind" }, h("option", { value: "markdown" }, "Markdown (# headings start chapters)"),
    h("option", { value: "plain" }, "Plain text"), h("option", { value: "epub" }, "EPUB file"));
  const text = h("textarea", { name: "text", rows: "10" });
  const file = h("input", { type: "file", name: "document", accept: ".epub,application/epub+zip" });
  const textField = field("Text", text);
  const fileField = field("EPUB file", file);
  fileField.hidden = true;
  const engine = h("select", { name: "engine" });
  const voice = h("select", { name: "voice" });
  const paramsBox = h("fieldset", { class: "params" }, h("legend", {}, "Engine parameters"));
  const format = h("select", { name: "format" });
  const preset = h("select", { name: "preset" }, h("option", { value: "" }, "none"));
  const perChapter = h("input", { type: "checkbox", name: "per_chapter", id: "per-chapter" });
  const player = h("audio", { controls: true, hidden: true, "aria-label": "Preview" });
  const previewButton = h("button", { type: "button", class: "secondary" }, "Preview the first paragraph");

  form.append(
    field("Title", title), field("Author", author), field("Source", kind), textField, fileField,
    field("Engine", engine), field("Voice", voice), paramsBox,
    h("fieldset", {}, h("legend", {}, "Output"), field("Format", format),
      field("Preset", preset, "A preset sets the format"),
      h("div", { class: "check" }, perChapter, h("label", { for: "per-chapter" }, "Also store one file per chapter"))),
    h("div", { class: "actions" }, previewButton, h("button", { type: "submit" }, "Render")), player);

  kind.addEventListener("change", () => {
    textField.hidden = kind.value === "epub";
    fileField.hidden = kind.value !== "epub";
  });

  function fillEngine() {
    const spec = engines.find((e) => e.name === engine.value);
    if (!spec) return;
    const options = [h("option", { value: "" }, "engine default")];
    for (const name of spec.voices || []) options.push(h("option", { value: name }, name));
    if (spec.clones_voices) for (const v of voices) options.push(h("option", { value: `id:${v.id}` }, `${v.name} (your voice)`));
    replace(voice, options);
    replace(paramsBox, h("legend", {}, `${spec.name} parameters`),
      spec.params.filter((p) => p.name !== "voice").map((p) => field(p.name, paramControl(p), range(p))));
  }
  engine.addEventListener("change", fillEngine);

  function request() {
    const spec = engines.find((e) => e.name === engine.value);
    const job = { engine: engine.value, params: readParams(paramsBox),
                  output: { per_chapter: perChapter.checked } };
    if (preset.value) job.output.preset = preset.value; else job.output.format = format.value;
    if (title.value.trim()) job.title = title.value.trim();
    if (author.value.trim()) job.author = author.value.trim();
    if (voice.value.startsWith("id:")) job.voice_id = voice.value.slice(3);
    else if (voice.value && spec && spec.voices) job.voice = voice.value;
    if (kind.value !== "epub") {
      job.text = text.value;
      job.text_format = kind.value;
    }
    return job;
  }

  previewButton.addEventListener("click", async () => {
    replace(out);
    const input = firstParagraph(text.value);
    if (!input) { replace(out, h("p", { class: "error", role: "alert" }, "Write some text to preview first.")); return; }
    const chosen = voice.value.startsWith("id:") ? voice.value.slice(3) : voice.value;
    previewButton.disabled = true;
    try {
      const resp = await api.call("POST", "/v1/audio/speech", { json: {
        model: engine.value, input, voice: chosen || "alloy", response_format: "wav" } });
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(await resp.blob());
      player.src = previewUrl;
      player.hidden = false;
      announce("Preview ready");
      await player.play().catch(() => {});
    } catch (err) {
      replace(out, errorBox(err));
    } finally {
      previewButton.disabled = false;
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(out);
    const job = request();
    try {
      let created;
      if (kind.value === "epub") {
        if (!file.files.length) throw new Error("choose an EPUB file");
        const data = new FormData();
        data.append("document", file.files[0]);
        data.append("job", JSON.stringify(job));
        created = await api.send("POST", "/v1/jobs/upload", { form: data });
      } else {
        created = await api.send("POST", "/v1/jobs", { json: job });
      }
      announce("Job submitted");
      window.location.hash = `#/jobs/${created.id}`;
    } catch (err) {
      replace(out, errorBox(err));
    }
  });

  Promise.all([api.get("/v1/engines"), api.get("/v1/formats"), api.get("/v1/voices?limit=100")])
    .then(([engineList, formatList, voiceList]) => {
      if (stopped) return;
      engines = engineList.data;
      voices = voiceList.data;
      replace(engine, engines.map((e) => h("option", { value: e.name }, `${e.name} (${e.live_workers} live)`)));
      const usable = formatList.data.filter((f) => f.available);
      replace(format, usable.filter((f) => f.kind === "format").map((f) => h("option", { value: f.name }, f.name)));
      preset.append(...usable.filter((f) => f.kind === "preset").map((f) => h("option", { value: f.name }, f.name)));
      fillEngine();
    })
    .catch((err) => replace(out, errorBox(err)));

  return () => {
    stopped = true;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
  };
}
