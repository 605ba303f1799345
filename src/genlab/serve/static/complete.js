// The Complete tab: pick or upload an image, brush a mask, stream completions row by row.
import { aborted, api, brush, fillRunSelect, image, latest, postEvents, readNumber, say, speaker } from "./common.js";
import { resetSlowMotion, setupSlowMotion } from "./slowmo.js";

const $ = (id) => document.getElementById(id);
let runs = [];
let shape = null; // [C, H, W]
let pixels = null; // the chosen image, (C, H, W) flattened
let mask = null; // (H, W) flattened, 1 = hidden
let inverted = null; // the upload turned light-for-dark, offered when it looks inverted
const completions = latest(); // the completion being streamed: a new image stops it (here and on the server)
const uploads = latest(); // the latest upload: a pick meanwhile wins over its late reply

function currentRun() { return runs.find((r) => r.name === $("complete-run").value); }

function drawCanvas() {
  const canvas = $("complete-canvas");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!pixels) return;
  const [c, h, w] = shape;
  const small = new ImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const rgb = c === 1 ? [pixels[i], pixels[i], pixels[i]] : [pixels[i], pixels[h * w + i], pixels[2 * h * w + i]];
    const hidden = mask[i] ? 0.6 : 0; // the brushed pixels are tinted orange
    small.data.set([...rgb.map((v, k) => Math.round(v * (1 - hidden) + [230, 85, 13][k] * hidden)), 255], 4 * i);
  }
  const layer = new OffscreenCanvas(w, h);
  layer.getContext("2d").putImageData(small, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(layer, 0, 0, canvas.width, canvas.height);
}

function paint(fx, fy) {
  if (!pixels) return;
  const [, h, w] = shape;
  const x = Math.floor(fx * w);
  const y = Math.floor(fy * h);
  const reach = Math.max(0, Math.round(w / 24));
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) {
      const [px, py] = [x + dx, y + dy];
      if (px >= 0 && px < w && py >= 0 && py < h) mask[py * w + px] = 1;
    }
  }
  drawCanvas();
}

// A new image: whatever was shown or is still being drawn for the old one goes.
function choose(values, picked) {
  completions.cancel(); // the server stops the completion at its next row
  resetSlowMotion();
  $("complete-progress").textContent = "";
  $("complete-results").dataset.done = "";
  pixels = values;
  if (picked !== undefined) { inverted = null; $("complete-inverted").hidden = true; }
  const [, h, w] = shape;
  mask = new Array(h * w).fill(0);
  document.querySelectorAll("#complete-examples img").forEach((img) => img.classList.toggle("picked", img === picked));
  $("complete-results").replaceChildren();
  drawCanvas();
}

async function loadRun() {
  const run = currentRun();
  if (!run) return;
  const { examples } = await api(`/api/runs/examples?run=${encodeURIComponent(run.name)}&count=12`);
  if (run !== currentRun()) return; // another run was picked meanwhile
  shape = run.item_shape;
  $("complete-examples").replaceChildren(...examples.map((ex) => {
    const img = image(ex.png, `test image ${ex.index}`);
    img.dataset.index = ex.index;
    img.addEventListener("click", () => { uploads.cancel(); choose(ex.pixels, img); });
    return img;
  }));
  const first = $("complete-examples").querySelector("img");
  choose(examples[0].pixels, first);
}

async function upload() {
  const file = $("complete-upload").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  const { signal, current } = uploads.begin();
  const tell = speaker();
  try {
    tell(`uploading ${file.name}…`);
    const answer = await api(`/api/runs/upload?run=${encodeURIComponent(currentRun().name)}`, { method: "POST", body: form, signal });
    if (!current()) return;
    choose(answer.pixels, null);
    inverted = answer.inverted;
    $("complete-inverted").hidden = !inverted;
    tell(`uploaded ${file.name}: resized to the run's ${shape[2]}x${shape[1]} and shown in its colours`);
  } catch (err) { if (!aborted(err)) tell(err.message, true); }
  $("complete-upload").value = ""; // the same file can be picked again
}

async function complete() {
  if (!pixels) return;
  if (!mask.some((m) => m)) { say("brush over the part to hide first", true); return; }
  let n, temperature;
  try {
    n = readNumber($("complete-n"), "completions", { min: 1, max: 8 });
    temperature = readNumber($("complete-temperature"), "temperature", { min: 0.1, max: 10, integer: false });
  } catch (err) { say(err.message, true); return; }
  say("");
  const { signal, current } = completions.begin();
  $("complete-progress").textContent = "";
  const results = $("complete-results");
  results.dataset.done = "";
  const slots = Array.from({ length: n }, (_, i) => image("", `completion ${i + 1}`));
  results.replaceChildren(...slots);
  const started = performance.now();
  try {
    await postEvents("/api/complete", {
      run: currentRun().name, pixels, mask, n, seed: Math.floor(Math.random() * 1e6),
      temperature,
    }, (ev) => {
      if (!current()) return;
      if (ev.error) throw new Error(ev.error);
      if (ev.start) slots.forEach((img) => { img.src = ev.occluded; });
      if (ev.images) ev.images.forEach((src, i) => { slots[i].src = src; });
      if (ev.row !== undefined) $("complete-progress").textContent = `row ${ev.row + 1} of ${ev.rows}`;
      if (ev.done) {
        $("complete-progress").textContent = `${n} completions in ${((performance.now() - started) / 1000).toFixed(1)} s`;
        results.dataset.done = "1";
      }
    }, signal);
  } catch (err) {
    if (!aborted(err) && current()) say(err.message, true);
  }
}

export async function setupComplete() {
  runs = await fillRunSelect($("tab-complete"), $("complete-run"), ["complete"],
    "No PixelRNN run on images under --runs. Train one, e.g. `genlab train pixelrnn --data digits --arch pixelcnn --epochs 5 --out RUNS/pixelcnn`, and reload.");
  $("complete-run").addEventListener("change", loadRun);
  $("complete-upload").addEventListener("change", upload);
  $("complete-go").addEventListener("click", complete);
  $("complete-clear").addEventListener("click", () => { if (mask) { mask.fill(0); drawCanvas(); } });
  $("complete-bottom").addEventListener("click", () => {
    if (!mask) return;
    const [, h, w] = shape;
    mask = mask.map((_, i) => (Math.floor(i / w) >= Math.floor(h / 2) ? 1 : 0));
    drawCanvas();
  });
  $("complete-invert").addEventListener("click", () => {
    if (!inverted) return;
    choose(inverted.pixels, null);
    inverted = null;
    $("complete-inverted").hidden = true;
    say("inverted: light and dark swapped, as in the training images");
  });
  brush($("complete-canvas"), paint);
  setupSlowMotion(() => (pixels ? { run: currentRun().name, pixels, mask, shape } : null));
  if (runs.length) await loadRun();
}
