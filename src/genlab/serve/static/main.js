// Tabs: each is set up the first time it is shown. The tab lives in the URL hash and every switch is
// a history entry, so the browser's Back goes to the previous tab (the page, and a running game,
// stay) instead of leaving the app.
import { rememberRestart, say } from "./common.js";
import { ganHash, setupGan } from "./gan.js";
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

// "#complete", or "#gan/GAME" while a game runs
const fromHash = () => { const name = location.hash.slice(1).split("/")[0]; return setups[name] ? name : "gan"; };
const hashOf = (name) => (name === "gan" && started.has("gan") ? ganHash() : name);

document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => {
  if (b.dataset.tab !== fromHash()) history.pushState(null, "", `#${hashOf(b.dataset.tab)}`);
  show(b.dataset.tab);
}));
window.addEventListener("popstate", () => show(fromHash()));
// the command that starts this server again, for the page to name if the server stops
fetch("/api/health").then((r) => r.json()).then((h) => rememberRestart(h.restart)).catch(() => {});
if (!location.hash.startsWith("#gan/")) history.replaceState(null, "", `#${fromHash()}`);
show(fromHash());
