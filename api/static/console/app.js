// The console: sign in, then a page per hash route (#/jobs, #/jobs/<id>, ...), rendered into
// <div id="page"> without reloading.  Each page returns a cleanup function (timers, object URLs).
import * as api from "./api.js";
import { errorText, h, replace } from "./ui.js";
import * as batches from "./pages/batches.js";
import * as job from "./pages/job.js";
import * as jobs from "./pages/jobs.js";
import * as newJob from "./pages/new.js";
import * as usage from "./pages/usage.js";
import * as voices from "./pages/voices.js";
import * as webhooks from "./pages/webhooks.js";

const ROUTES = [
  [/^#\/new$/, newJob.render],
  [/^#\/jobs$/, jobs.render],
  [/^#\/jobs\/(job_[0-9A-Z]{26})$/, job.render],
  [/^#\/voices$/, voices.render],
  [/^#\/batches$/, batches.render],
  [/^#\/batches\/(bat_[0-9A-Z]{26})$/, batches.render],
  [/^#\/webhooks$/, webhooks.render],
  [/^#\/usage$/, usage.render],
];

let cleanup = null;

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const page = document.getElementById("page");
  if (!api.signedIn()) return;
  const hash = window.location.hash || "#/jobs";
  for (const [pattern, render] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      for (const a of document.querySelectorAll("#nav a")) {
        const here = hash === a.getAttribute("href") || hash.startsWith(`${a.getAttribute("href")}/`);
        if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
      }
      replace(page);
      cleanup = render(page, match[1] || null) || null;
      const heading = page.querySelector("h1");
      if (heading) { heading.tabIndex = -1; heading.focus(); }
      return;
    }
  }
  replace(page, h("h1", {}, "Not found"), h("p", {}, "No such page. ", h("a", { href: "#/jobs" }, "Your jobs")));
}

function showSignedIn(on) {
  document.getElementById("sign-in").hidden = on;
  document.getElementById("nav").hidden = !on;
  if (!on) replace(document.getElementById("page"));
}

async function signIn(event) {
  event.preventDefault();
  const input = document.getElementById("api-key");
  const error = document.getElementById("sign-in-error");
  error.textContent = "";
  api.signIn(input.value.trim());
  input.value = "";
  try {
    await api.get("/v1/engines");  // any authenticated call: a wrong key is a 401 here
  } catch (err) {
    api.signOut();
    error.textContent = err.status === 401 ? "That key was refused: check it and try again." : errorText(err);
    input.focus();
    return;
  }
  showSignedIn(true);
  if (!window.location.hash) window.location.hash = "#/jobs";
  route();
}

function signOut() {
  if (cleanup) cleanup();
  cleanup = null;
  api.signOut();
  showSignedIn(false);
  document.getElementById("api-key").focus();
}

document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();  // a "#main" hash would be read as a route
  document.getElementById("main").focus();
});
document.getElementById("sign-in-form").addEventListener("submit", signIn);
document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
