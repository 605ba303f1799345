// Tabs: each is set up the first time it is shown. The tab lives in the URL hash and every switch is
// a history entry, so the browser's Back goes to the previous tab (the page, and a running game,
// stay) instead of leaving the app.
import { say } from "./common.js";
import { setupGan } from "./gan.js";
import { setupComplete } from "./complete.js";
import { setupLatent } from "./latent.js";
import { setupRuns } from "./runs.js";

const setups = { gan: setupGan, complete: setupComplete, latent: setupLatent, runs: setupRuns };
const started = new Set();

async function show(name) {
  say(""); // the status line belongs to the tab that made it
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === `tab-${name}`));
  if (!started.has(name)) {
    started.add(name);
    try { await setups[name](); } catch (err) { say(err.message, true); }
  }
}

const fromHash = () => { const name = location.hash.slice(1); return setups[name] ? name : "gan"; };

document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => {
  if (b.dataset.tab !== fromHash()) history.pushState(null, "", `#${b.dataset.tab}`);
  show(b.dataset.tab);
}));
window.addEventListener("popstate", () => show(fromHash()));
history.replaceState(null, "", `#${fromHash()}`);
show(fromHash());
