// Tabs: each is set up the first time it is shown.
import { say } from "./common.js";
import { setupGan } from "./gan.js";
import { setupComplete } from "./complete.js";
import { setupLatent } from "./latent.js";
import { setupRuns } from "./runs.js";

const setups = { gan: setupGan, complete: setupComplete, latent: setupLatent, runs: setupRuns };
const started = new Set();

async function show(name) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === `tab-${name}`));
  if (!started.has(name)) {
    started.add(name);
    try { await setups[name](); } catch (err) { say(err.message, true); }
  }
  history.replaceState(null, "", `#${name}`);
}

document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
const first = location.hash.slice(1);
show(setups[first] ? first : "gan");
