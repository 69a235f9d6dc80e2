// Voices: upload a prompt with its transcript, see what voice QA measured (seconds of speech, SNR)
// or why it refused the recording, play a voice, delete it.
import * as api from "../api.js";
import { announce, errorBox, field, h, replace, seconds, table, when } from "../ui.js";

// voice QA's refusals (core/voices/registry.py), in words a person recording a prompt can act on
const REFUSALS = {
  voice_silent: "No speech was found: the recording is silent. Check the microphone and record again.",
  voice_mostly_silent: "Most of the recording is silence. Trim the pauses before and after the passage.",
  voice_too_little_speech: "There is too little speech to learn the voice from. Read a longer passage.",
  voice_too_short: "The recording is too short. A prompt needs a few seconds of continuous speech.",
  voice_too_long: "The recording is too long. Trim it to one clean passage.",
  voice_clipped: "The recording is clipped (too loud). Record again a little further from the microphone.",
  invalid_audio: "The file could not be read as audio. Upload WAV, FLAC, Ogg or MP3.",
  unsupported_audio_format: "This audio format is not accepted. Upload WAV, FLAC, Ogg or MP3.",
  voice_name_taken: "You already have a voice with this name. Choose another name or delete the old voice.",
  payload_too_large: "The file is too large.",
  empty_transcript: "The transcript is empty: type exactly what the recording says.",
};

export function explain(err) {
  return REFUSALS[err.code] || (err.status === 422 ? "The recording was refused by voice QA." : null);
}

function qa(voice) {
  const snr = voice.snr_db === null ? "not measured (no pause to measure the noise in)" : `${voice.snr_db} dB`;
  return `${voice.speech_s === null ? "–" : `${voice.speech_s.toFixed(1)} s`} of speech in ${seconds(voice.duration_s)}; SNR ${snr}`;
}

export function render(page) {
  const list = h("div", {}, h("p", {}, "Loading…"));
  const out = h("div", { class: "result", "aria-live": "polite" });
  const name = h("input", { name: "name", required: true, maxlength: "200" });
  const transcript = h("textarea", { name: "transcript", rows: "3", required: true, maxlength: "2000" });
  const file = h("input", { type: "file", name: "audio_file", accept: "audio/*", required: true });
  const form = h("form", { class: "stack" }, field("Name", name), field("Transcript", transcript,
    "Exactly what the recording says"), field("Recording", file, "WAV, FLAC, Ogg or MP3, a few seconds of clean speech"),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Upload voice")));
  const audio = h("audio", { controls: true, hidden: true, "aria-label": "Voice prompt" });
  replace(page, h("h1", {}, "Voices"),
    h("section", { "aria-labelledby": "upload" }, h("h2", { id: "upload" }, "Upload a voice"), form, out),
    h("section", { "aria-labelledby": "yours" }, h("h2", { id: "yours" }, "Your voices"), audio, list));
  let playing = null;
  let stopped = false;

  async function refresh() {
    try {
      const voices = (await api.get("/v1/voices?limit=100")).data;
      if (stopped) return;
      if (!voices.length) { replace(list, h("p", {}, "No voices yet.")); return; }
      replace(list, table("Your voices", ["Name", "Voice QA", "Transcript", "Added", "Actions"], voices.map((v) => {
        const remove = h("button", { type: "button", class: "small secondary", "aria-label": `Delete ${v.name}` }, "Delete");
        remove.addEventListener("click", async () => {
          if (remove.dataset.armed !== "yes") {
            remove.dataset.armed = "yes";
            remove.textContent = "Confirm delete";
            remove.setAttribute("aria-label", `Confirm: delete ${v.name}`);
            return;
          }
          try { await api.send("DELETE", `/v1/voices/${v.id}`); announce(`Deleted ${v.name}`); refresh(); }
          catch (err) { replace(out, errorBox(err)); }
        });
        const play = h("button", { type: "button", class: "small", "aria-label": `Play ${v.name}`, onclick: async () => {
          try {
            if (playing) URL.revokeObjectURL(playing);
            playing = await api.objectUrl(`/v1/voices/${v.id}/audio`);
            audio.src = playing;
            audio.hidden = false;
            await audio.play().catch(() => {});
          } catch (err) { replace(out, errorBox(err)); }
        } }, "Play");
        return h("tr", { dataset: { voice: v.id } }, h("td", {}, v.name), h("td", {}, qa(v)),
          h("td", { class: "text" }, v.transcript), h("td", {}, when(v.created_at)), h("td", {}, play, " ", remove));
      })));
    } catch (err) {
      if (!stopped) replace(list, errorBox(err));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(out);
    const data = new FormData();
    data.append("name", name.value);
    data.append("transcript", transcript.value);
    if (file.files.length) data.append("audio_file", file.files[0]);
    try {
      const voice = await api.send("POST", "/v1/voices", { form: data });
      replace(out, h("p", { class: "ok" }, `Voice “${voice.name}” accepted: ${qa(voice)}.`));
      form.reset();
      refresh();
    } catch (err) {
      replace(out, h("div", { class: "error refusal", role: "alert" }, h("p", {}, h("strong", {}, "Refused: "),
        err.message), explain(err) ? h("p", {}, explain(err)) : null, h("p", { class: "hint" }, `code: ${err.code}`)));
    }
  });
  refresh();
  return () => { stopped = true; if (playing) URL.revokeObjectURL(playing); };
}
