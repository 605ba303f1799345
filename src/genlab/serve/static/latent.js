// The Latent tab: click a 2-D latent map or move sliders to decode a code; interpolate between ends.
import { aborted, api, classPicker, fillRunSelect, image, latest, pickedClass, readNumber, say, speaker } from "./common.js";

const $ = (id) => document.getElementById(id);
const LABEL_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
let runs = [];
let info = null; // /api/latent answer
let z = [];
let ends = []; // picked test-image indices for the interpolation: [start, end], never the same image twice
let pending = null;
let post = null; // q(z|x) of the last test image clicked: {m, std, codes, ...}
let path = null; // the codes of the last interpolation
let loaded = null; // the run picked last (a "change" to the same run reloads nothing)
let shown = null; // the run whose answer is in `info` and whose code is `z`: what decodes and walks ask
// each field's latest request: an older reply that comes late is dropped
const decodes = latest();
const posteriors = latest();
const walks = latest();
// the map's plot inside its canvas (the margins hold the z1 and z2 axes): left, top, side in pixels
const PLOT = { left: 36, top: 8, side: 356 };

function run() { return $("latent-run").value; }
// The class a class-conditional run is asked to draw ({} for any other run, or "every class in turn").
function asking() { return pickedClass($("latent-class")); }

async function decode() {
  const { signal, current } = decodes.begin();
  const asked = z.slice();
  try {
    const { png } = await api("/api/decode", { json: { run: shown, z: asked, ...asking() }, signal });
    if (!current()) return;
    $("latent-decoded").src = png;
    $("latent-z").textContent = `z = (${asked.slice(0, 6).map((v) => v.toFixed(2)).join(", ")}${asked.length > 6 ? ", …" : ""})`;
    if (info.latent === 2) drawMap();
  } catch (err) { if (!aborted(err)) say(err.message, true); }
}

function decodeSoon() {
  clearTimeout(pending);
  pending = setTimeout(decode, 60);
}

// The z1 (across) and z2 (up) axes in the map's margins, with a tick at every whole number.
function drawAxes(ctx, canvas) {
  const e = info.extent;
  const { left, top, side } = PLOT;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#444";
  ctx.fillStyle = "#333";
  ctx.lineWidth = 1;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (let v = -Math.floor(e); v <= e; v++) {
    const x = left + ((v + e) / (2 * e)) * side;
    const y = top + ((e - v) / (2 * e)) * side;
    ctx.beginPath();
    ctx.moveTo(x, top + side);
    ctx.lineTo(x, top + side + 4);
    ctx.moveTo(left - 4, y);
    ctx.lineTo(left, y);
    ctx.stroke();
    ctx.fillText(String(v), x, top + side + 15);
    ctx.fillText(String(v), left - 14, y + 4);
  }
  ctx.font = "italic 12px system-ui, sans-serif";
  ctx.fillText("z1", left + side / 2, canvas.height - 3);
  ctx.save();
  ctx.translate(10, top + side / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText("z2", 0, 0);
  ctx.restore();
  ctx.textAlign = "left";
}

// A class-conditional run's 2-D map shows one class: the picked one (class 0 for "every class in turn").
async function redrawMapForClass() {
  if (!info || info.latent !== 2 || !info.classes.length) return;
  const name = run();
  const { label = 0 } = asking();
  const answer = await api(`/api/latent?run=${encodeURIComponent(name)}&label=${label}`);
  if (name !== run()) return;
  info.mapImages = await loadImages(answer.map);
  info.map_class = answer.map_class;
  showLegend();
  drawMap();
}

function loadImages(urls) {
  return Promise.all(urls.map((src) => new Promise((ok) => { const img = new Image(); img.onload = () => ok(img); img.src = src; })));
}

function drawMap() {
  const canvas = $("latent-map");
  const ctx = canvas.getContext("2d");
  drawAxes(ctx, canvas);
  const side = info.map_side;
  const { left, top } = PLOT;
  const cell = PLOT.side / side;
  ctx.imageSmoothingEnabled = false;
  info.mapImages.forEach((img, i) => ctx.drawImage(img, left + (i % side) * cell, top + Math.floor(i / side) * cell, cell, cell));
  const e = info.extent;
  const at = ([a, b]) => [left + ((a + e) / (2 * e)) * PLOT.side, top + ((e - b) / (2 * e)) * PLOT.side];
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, PLOT.side, PLOT.side);
  ctx.clip(); // codes outside [-e, e]² stay off the axes
  for (const [a, b, label] of info.codes || []) {
    const [x, y] = at([a, b]);
    ctx.fillStyle = LABEL_COLORS[label % LABEL_COLORS.length];
    ctx.fillRect(x - 2, y - 2, 4, 4);
  }
  const scale = PLOT.side / (2 * e);
  if (post) { // the encoder's m and spread: the draws, then ellipses at 1 and 2 standard deviations on top
    const [mx, my] = at(post.m);
    ctx.fillStyle = "#ff1493";
    for (const c of post.codes) { const [cx, cy] = at(c); ctx.fillRect(cx - 1.5, cy - 1.5, 3, 3); }
    for (const [color, width] of [["#fff", 4], ["#ff1493", 2]]) { // a white halo keeps a small ellipse visible
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      for (const k of [1, 2]) {
        ctx.beginPath();
        ctx.ellipse(mx, my, Math.max(1, k * post.std[0] * scale), Math.max(1, k * post.std[1] * scale), 0, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
  }
  if (path) { // the interpolation's walk through the code space
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 2;
    ctx.beginPath();
    path.forEach((c, i) => { const [px, py] = at(c); if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py); });
    ctx.stroke();
    ctx.fillStyle = "#111";
    for (const c of path) { const [px, py] = at(c); ctx.fillRect(px - 2.5, py - 2.5, 5, 5); }
  }
  const [x, y] = at(z);
  ctx.strokeStyle = "#e6550d";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(x, y, 7, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.restore();
}

function buildSliders() {
  const box = $("latent-sliders");
  box.replaceChildren();
  for (let i = 0; i < info.sliders; i++) {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), { type: "range", min: -3, max: 3, step: 0.05, value: z[i] });
    const shown = Object.assign(document.createElement("output"), { value: z[i].toFixed(2) });
    input.addEventListener("input", () => { z[i] = parseFloat(input.value); shown.value = z[i].toFixed(2); decodeSoon(); });
    label.append(`z${i + 1}`, input, shown);
    box.append(label);
  }
  if (info.latent > info.sliders) box.append(`(the other ${info.latent - info.sliders} coordinates stay as drawn)`);
}

async function drawCode() {
  // a code drawn the way the run samples: a VAE's mixture fitted to its training codes, a GAN's prior
  const seed = Math.floor(Math.random() * 2147483647);
  const { label } = asking();
  return (await api(`/api/latent/draw?run=${encodeURIComponent(run())}&seed=${seed}${label === undefined ? "" : `&label=${label}`}`)).z;
}

async function randomCode() {
  const name = run();
  try {
    const drawn = await drawCode();
    if (name !== run()) return; // another run was picked meanwhile
    z = drawn;
    buildSliders();
    decode();
  } catch (err) { say(err.message, true); }
}

async function loadRun() {
  const name = run();
  if (!name || name === loaded) return;
  loaded = name;
  $("latent-class").replaceChildren(); // the previous run's classes are no choice while this one loads
  let answer;
  try { answer = await api(`/api/latent?run=${encodeURIComponent(name)}`); } catch (err) { loaded = null; throw err; }
  if (name !== run()) return; // another run was picked meanwhile
  // a VAE starts at the prior's centre; a GAN's z = 0 is often no picture at all, so it starts from a draw
  const start = answer.encoder ? new Array(answer.latent).fill(0) : await drawCode();
  if (name !== run()) return;
  [info, shown, z] = [answer, name, start]; // together: a decode never pairs one run's code with another run
  const picker = classPicker(info.classes, () => { decode(); redrawMapForClass(); $("latent-walk").replaceChildren(); });
  $("latent-class").replaceChildren(...(picker ? [picker] : []));
  $("latent-map").hidden = info.latent !== 2;
  $("latent-no-map").hidden = info.latent === 2;
  $("latent-no-map").textContent = `This run's code has ${info.latent} numbers: the map (and the encoder's ellipses on it) `
    + "needs a 2-D code. Train a small one in about a minute, e.g. `genlab train vae --data mnist5k --latent 2 "
    + "--minutes 1 --out RUNS/vae2d`, and reload.";
  showLegend();
  if (info.latent === 2) {
    info.mapImages = await loadImages(info.map);
  }
  buildSliders();
  ends = [];
  post = null;
  path = null;
  $("latent-posterior").replaceChildren();
  $("latent-ends-images").hidden = !info.encoder;
  $("latent-ends-seeds").hidden = info.encoder;
  $("latent-walk").replaceChildren();
  if (info.encoder) {
    const { examples } = await api(`/api/runs/examples?run=${encodeURIComponent(name)}&count=12`);
    if (name !== run()) return;
    $("latent-examples").replaceChildren(...examples.map((ex) => {
      const img = image(ex.png, `test image ${ex.index}`);
      img.dataset.index = ex.index;
      img.addEventListener("click", () => { pickEnd(ex.index); showPosterior(ex.index); });
      return img;
    }));
  }
  await decode();
}

// The first click picks the start, the second the end, a third starts over; clicking a picked
// image again unpicks it.
function pickEnd(index) {
  if (ends.includes(index)) ends = ends.filter((i) => i !== index);
  else ends = ends.length >= 2 ? [index] : [...ends, index];
  document.querySelectorAll("#latent-examples img").forEach((el) => {
    const i = Number(el.dataset.index);
    el.classList.toggle("start", ends[0] === i);
    el.classList.toggle("end", ends[1] === i);
  });
  say(ends.length === 2 ? "press Interpolate" : ends.length === 1 ? "now click the end image" : "");
}

// q(z|x) of a test image: its reconstruction beside decodes of codes drawn from it (and, on a 2-D
// map, its mean and spread as ellipses).
async function showPosterior(index) {
  const name = run();
  const { signal, current } = posteriors.begin();
  try {
    const answer = await api(`/api/latent/posterior?run=${encodeURIComponent(name)}&index=${index}&seed=${index}`, { signal });
    if (name !== run() || !current()) return;
    post = answer;
    const caption = Object.assign(document.createElement("p"), { className: "hint",
      textContent: `test image ${index}: m = (${post.m.slice(0, 4).map((v) => v.toFixed(2)).join(", ")}${post.m.length > 4 ? ", …" : ""}), `
        + `spread exp(σ/2) = (${post.std.slice(0, 4).map((v) => v.toFixed(2)).join(", ")}${post.std.length > 4 ? ", …" : ""}); `
        + "its reconstruction (decoded from m), then decodes of codes drawn from N(m, exp(σ)):" });
    const recon = image(post.reconstruction, "reconstruction from m");
    recon.className = "recon";
    $("latent-posterior").replaceChildren(caption, recon, ...post.draws.map((src, i) => image(src, `draw ${i + 1}`)));
    if (info.latent === 2) drawMap();
  } catch (err) { if (!aborted(err)) say(err.message, true); }
}

// The map's dots are test images' codes, coloured by class; the legend names the colours.
function showLegend() {
  const labels = [...new Set((info.codes || []).map((c) => c[2]))].sort((a, b) => a - b);
  $("latent-legend").replaceChildren(...(labels.length > 1 ? ["codes of test images, by class:"] : []),
    ...(labels.length > 1 ? labels : []).map((label) => {
      const span = Object.assign(document.createElement("span"), { className: "dot", title: `class ${label}` });
      span.style.background = LABEL_COLORS[label % LABEL_COLORS.length];
      const item = document.createElement("span");
      item.append(span, String(label));
      return item;
    }));
  if (info.classes && info.classes.length && info.map_class !== undefined) { // a class-conditional run
    $("latent-legend").append(` (the map draws every code as class ${info.classes[info.map_class]})`);
  }
}

async function interpolate() {
  let a, b, steps;
  try {
    steps = readNumber($("latent-steps"), "steps", { min: 2, max: 16 });
    if (info.encoder) {
      if (ends.length < 2) throw new Error("click two different test images: the start and the end");
      [a, b] = ends.map((index) => ({ index }));
    } else {
      [a, b] = [["latent-seed-a", "start seed"], ["latent-seed-b", "end seed"]].map(([id, name]) => ({ seed: readNumber($(id), name, { min: 0, max: 2147483647 }) }));
      if (a.seed === b.seed) {
        $("latent-seed-b").setAttribute("aria-invalid", "true");
        throw new Error(`the start and end seeds are both ${a.seed}: the walk would show one image ${steps} times; pick two different seeds`);
      }
    }
  } catch (err) { say(err.message, true); return; }
  const tell = speaker();
  tell("");
  const { signal, current } = walks.begin();
  try {
    const { images, codes } = await api("/api/interpolate", { json: { run: shown, a, b, steps, path: $("latent-path").value, ...asking() }, signal });
    if (!current()) return;
    $("latent-walk").replaceChildren(...images.map((src, i) => image(src, `step ${i + 1}`)));
    path = codes;
    if (info.latent === 2) drawMap();
  } catch (err) { if (!aborted(err)) tell(err.message, true); }
}

export async function setupLatent() {
  // the tab opens on a run with an encoder (its notes speak of the encoder's ellipses), a 2-D one first
  runs = await fillRunSelect($("tab-latent"), $("latent-run"), ["latent"],
    "No VAE or GAN run on images under --runs. Train one, e.g. `genlab train vae --data digits --latent 2 --epochs 5 --out RUNS/vae`, and reload.",
    (r) => 2 * r.encoder + (r.latent === 2));
  $("latent-run").addEventListener("change", loadRun);
  $("latent-random").addEventListener("click", randomCode);
  $("latent-go").addEventListener("click", interpolate);
  $("latent-map").dataset.plot = `${PLOT.left},${PLOT.top},${PLOT.side}`;
  $("latent-map").addEventListener("click", (e) => {
    const canvas = e.target;
    const r = canvas.getBoundingClientRect();
    const k = canvas.width / r.width; // CSS pixels -> canvas pixels (the canvas shrinks on a phone)
    const [fx, fy] = [((e.clientX - r.left) * k - PLOT.left) / PLOT.side, ((e.clientY - r.top) * k - PLOT.top) / PLOT.side];
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return; // a click on the axes
    const ext = info.extent;
    z = [-ext + fx * 2 * ext, ext - fy * 2 * ext];
    buildSliders();
    decode();
  });
  if (runs.length) await loadRun();
}
