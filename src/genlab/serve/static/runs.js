// The Runs tab: every run under --runs, its last test figures, curves, pictures and fresh samples.
import { aborted, api, classPicker, figure, image, latest, lineChart, pickedClass, say } from "./common.js";

const $ = (id) => document.getElementById(id);
const FIRST = "bits_per_dim"; // the one figure every likelihood family reports on the same footing
const SAMPLES = { complete: true, latent: true, sample: true }; // families /api/sample draws from
const details = latest(); // the run whose details are being fetched: a later click wins
const firstFirst = ([a], [b]) => (b === FIRST) - (a === FIRST);

// Each figure's last test value with its unit, bits/dim first.
function figures({ last, units }) {
  return Object.entries(last || {}).sort(firstFirst)
    .map(([k, v]) => `${k} ${figure(v)}${units && units[k] ? ` ${units[k]}` : ""}`).join(", ");
}

// A picture with its file name as caption (a click opens it full size), or a sound to play.
function picture(name, path) {
  const url = `/api/runs/picture?run=${encodeURIComponent(name)}&path=${encodeURIComponent(path)}`;
  const figure = document.createElement("figure");
  if (path.endsWith(".wav")) {
    figure.append(Object.assign(document.createElement("audio"), { src: url, controls: true, preload: "none" }));
  } else {
    const link = Object.assign(document.createElement("a"), { href: url, target: "_blank", title: `${path} (full size)` });
    link.append(image(url, path));
    figure.append(link);
  }
  figure.append(Object.assign(document.createElement("figcaption"), { textContent: path }));
  return figure;
}

async function showRun(name) {
  const detail = $("run-detail");
  detail.replaceChildren("loading…");
  const { signal, current } = details.begin();
  try {
    const run = await api(`/api/runs/info?run=${encodeURIComponent(name)}`, { signal });
    if (!current()) return;
    const parts = [Object.assign(document.createElement("h2"), { textContent: `${run.name}: ${run.model} on ${run.data}` })];
    for (const [key, splits] of Object.entries(run.curves).sort(firstFirst)) { // every curve (a VAE's FID is its 7th)
      const canvas = Object.assign(document.createElement("canvas"), { width: 320, height: 180 });
      canvas.dataset.figure = key;
      lineChart(canvas, [{ label: "train", color: "#2166ac", points: splits.train },
        { label: "test", color: "#e6550d", points: splits.test }], run.units[key] ? `${key} (${run.units[key]})` : key);
      parts.push(canvas);
    }
    const shown = run.pictures.filter((p) => !p.startsWith("samples/") && !p.startsWith("frames/") && !p.startsWith("mixture/"));
    const latest = (prefix) => [".png", ".gif", ".wav"].flatMap((type) => run.pictures.filter((p) => p.startsWith(prefix) && p.endsWith(type)).slice(-1));
    for (const path of [...shown, ...latest("samples/"), ...latest("frames/"), ...latest("mixture/")]) {
      parts.push(picture(name, path));
    }
    if (SAMPLES[run.family]) {
      const button = Object.assign(document.createElement("button"), { textContent: "Draw 16 new samples" });
      const box = Object.assign(document.createElement("div"), { className: "gallery" });
      const picker = classPicker(run.classes); // a class-conditional run: "draw me a 7"
      button.addEventListener("click", async () => {
        box.replaceChildren("sampling…");
        say("");
        try {
          const asked = { run: name, n: 16, seed: Math.floor(Math.random() * 1e6), ...pickedClass(picker) };
          const { images } = await api("/api/sample", { json: asked });
          box.replaceChildren(...images.map((src) => image(src)));
        } catch (err) { say(err.message, true); }
      });
      parts.push(document.createElement("div"), ...(picker ? [picker] : []), button, box);
    }
    detail.replaceChildren(...parts);
  } catch (err) { if (!aborted(err) && current()) { detail.replaceChildren(); say(err.message, true); } }
}

export async function setupRuns() {
  const { root, runs } = await api("/api/runs");
  const note = $("tab-runs").querySelector(".missing");
  note.hidden = runs.length > 0;
  note.textContent = root === null ? "No --runs folder was given: start the page with `genlab serve --runs RUNS`."
    : `No runs under ${root}/ yet: train one with \`genlab train ... --out ${root}/NAME\`.`;
  $("runs-table").hidden = runs.length === 0;
  const rows = await Promise.all(runs.map(async (r) => {
    const tr = document.createElement("tr");
    let last = "";
    if (r.family !== "broken") last = figures(await api(`/api/runs/info?run=${encodeURIComponent(r.name)}`));
    for (const text of [r.name, r.model || "damaged", r.data || r.error, last]) tr.append(Object.assign(document.createElement("td"), { textContent: text }));
    tr.addEventListener("click", () => showRun(r.name));
    return tr;
  }));
  $("runs-table").querySelector("tbody").replaceChildren(...rows);
  if (runs.length) await showRun(runs[0].name);
}
