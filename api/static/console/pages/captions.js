// WebVTT as the farm writes it (core/render/captions.py): cues with optional inline word times
// (<00:00:01.234>word).  Parsed here into {start, end, text, words: [{start, end, word}]}.

function time(stamp) {
  const parts = stamp.trim().split(":").map(parseFloat);
  return parts.reduce((acc, part) => acc * 60 + part, 0);
}

const INLINE = /<(\d{2}:\d{2}:\d{2}\.\d{3}|\d{2}:\d{2}\.\d{3})>/g;

export function parseVtt(source) {
  const cues = [];
  for (const block of source.replace(/\r/g, "").split(/\n\n+/)) {
    const lines = block.split("\n");
    const at = lines.findIndex((line) => line.includes("-->"));
    if (at < 0) continue;
    const [from, rest] = lines[at].split("-->");
    const start = time(from);
    const end = time(rest.trim().split(/\s+/)[0]);
    const body = lines.slice(at + 1).join(" ");
    const words = [];
    let last = start;
    const pieces = body.split(INLINE);  // text, stamp, text, stamp, ...
    for (let i = 0; i < pieces.length; i += 1) {
      if (i % 2 === 1) { last = time(pieces[i]); continue; }
      for (const word of pieces[i].replace(/<[^>]*>/g, "").split(/\s+/).filter(Boolean)) {
        words.push({ start: last, end, word });
      }
    }
    for (let i = 0; i + 1 < words.length; i += 1) words[i].end = Math.max(words[i].start, words[i + 1].start);
    const timed = pieces.length > 1;
    cues.push({ start, end, text: words.map((w) => w.word).join(" "), words: timed ? words : [] });
  }
  return cues;
}

// words.json (read-back jobs): [{word, start, end, ...}] placed into the cues they fall in
export function attachWords(cues, words) {
  for (const cue of cues) {
    if (cue.words.length) continue;
    cue.words = words.filter((w) => w.start >= cue.start && w.start < cue.end)
      .map((w) => ({ start: w.start, end: w.end, word: w.word }));
  }
  return cues;
}

export function chaptersVtt(chapters) {
  const stamp = (s) => new Date(Math.max(0, s) * 1000).toISOString().slice(11, 23);
  return ["WEBVTT", ...chapters.map((c, i) => `${i + 1}\n${stamp(c.start_s)} --> ${stamp(c.end_s)}\n${c.title.replace(/-->/g, "->")}`)]
    .join("\n\n");
}
