// PixelRNN one pixel at a time: one completion of the brushed image, replayed pixel by pixel with
// the model's probability for each palette colour (a bar each) and the colour drawn from them.
import { aborted, latest, postEvents, readNumber, say, speaker } from "./common.js";

const $ = (id) => document.getElementById(id);
let film = null; // {shape, start: pixels, mask, steps: [{i, j, probs, drawn}], palette}
let shown = 0; // steps replayed so far
let timer = null;
const filming = latest(); // the slow-motion request: a new image stops it and drops its reply

// A probability as read on the bars: two decimals, or one significant digit below 0.01 (0.003, not 0.00).
export function probability(p) {
  return p >= 0.01 || p === 0 ? p.toFixed(2) : p.toPrecision(1);
}

// A plain name for a palette colour: greys by lightness, other colours by hue.
export function colourName(rgb) {
  const [r, g, b] = rgb.length === 1 ? [rgb[0], rgb[0], rgb[0]] : rgb;
  const [hi, lo] = [Math.max(r, g, b), Math.min(r, g, b)];
  const light = (hi + lo) / 2;
  if (hi - lo < 32) return light < 40 ? "black" : light < 100 ? "dark grey" : light < 160 ? "grey" : light < 220 ? "light grey" : "white";
  const d = hi - lo;
  let hue = hi === r ? ((g - b) / d) % 6 : hi === g ? (b - r) / d + 2 : (r - g) / d + 4;
  hue = (hue * 60 + 360) % 360;
  const names = [[20, "red"], [45, "orange"], [70, "yellow"], [160, "green"], [200, "cyan"], [260, "blue"], [300, "purple"], [340, "pink"], [360, "red"]];
  const name = names.find(([top]) => hue < top)[1];
  return light < 80 ? `dark ${name}` : light > 190 ? `light ${name}` : name;
}

const rgbOf = (colour) => (colour.length === 1 ? [colour[0], colour[0], colour[0]] : colour);

// The Complete tab picked another image (or run): the old film goes, and its request stops.
export function resetSlowMotion() {
  filming.cancel();
  pause();
  film = null;
  shown = 0;
  $("slow-step").disabled = true;
  $("slow-play").disabled = true;
  for (const id of ["slow-image", "slow-bars"]) { const c = $(id); c.getContext("2d").clearRect(0, 0, c.width, c.height); }
  $("slow-caption").textContent = "";
  $("slow-bars").dataset.step = "";
}

// The pixel the bars are about: the one just drawn, or the first before any is drawn.
function focus() { return Math.max(0, shown - 1); }

function imageAt(k) {
  const [c, h, w] = film.shape;
  const out = film.start.slice();
  for (let s = 0; s < k; s++) {
    const { i, j, drawn } = film.steps[s];
    for (let ch = 0; ch < c; ch++) out[ch * h * w + i * w + j] = film.palette[drawn][ch];
  }
  return out;
}

function drawImage() {
  const canvas = $("slow-image");
  const ctx = canvas.getContext("2d");
  const [c, h, w] = film.shape;
  const pixels = imageAt(shown);
  const cell = canvas.width / w;
  const open = new Set(film.steps.slice(shown).map(({ i, j }) => i * w + j));
  for (let p = 0; p < h * w; p++) {
    const [y, x] = [Math.floor(p / w), p % w];
    const rgb = c === 1 ? [pixels[p], pixels[p], pixels[p]] : [pixels[p], pixels[h * w + p], pixels[2 * h * w + p]];
    ctx.fillStyle = open.has(p) ? ((x + y) % 2 ? "#a0a0a0" : "#606060") : `rgb(${rgb.join(",")})`; // not drawn yet: checkered
    ctx.fillRect(x * cell, y * cell, cell, cell);
  }
  // the marker rings the cell from outside, so the colour just drawn shows whole
  const step = film.steps[focus()];
  ctx.strokeStyle = "#e6550d";
  ctx.lineWidth = 2;
  ctx.strokeRect(step.j * cell - 1, step.i * cell - 1, cell + 2, cell + 2);
}

function drawBars() {
  const canvas = $("slow-bars");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#dde3ea"; // not white: a white colour's bar must show
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const k = focus();
  const { i, j, probs, drawn } = film.steps[k];
  const pad = { l: 34, b: 34, t: 8 };
  const barW = (canvas.width - pad.l - 4) / probs.length;
  const height = canvas.height - pad.b - pad.t;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#555";
  ctx.fillText("1", 4, pad.t + 8);
  ctx.fillText("0", 4, pad.t + height);
  probs.forEach((p, q) => {
    const x = pad.l + q * barW;
    ctx.fillStyle = `rgb(${rgbOf(film.palette[q]).join(",")})`;
    ctx.fillRect(x + 2, pad.t + height * (1 - p), barW - 4, height * p);
    ctx.strokeStyle = q === drawn && shown > k ? "#e6550d" : "#999";
    ctx.lineWidth = q === drawn && shown > k ? 3 : 1;
    ctx.strokeRect(x + 2, pad.t, barW - 4, height);
    if (probs.length <= 16) { // each bar's probability, and its colour's name where it fits (its number where not)
      ctx.fillStyle = "#333";
      ctx.fillText(probability(p), x + 2, pad.t + height + 13);
      const name = colourName(film.palette[q]);
      ctx.fillText(ctx.measureText(name).width <= barW - 2 ? name : String(q), x + 2, pad.t + height + 27);
    }
  });
  const drew = shown > k ? `; drew colour ${drawn}, ${colourName(film.palette[drawn])} (p = ${probability(probs[drawn])})` : "; press Next pixel to draw one";
  $("slow-caption").textContent = `pixel ${k + 1} of ${film.steps.length}, row ${i + 1}, column ${j + 1} (counted from the top left): `
    + `the model's probability for each colour${drew}`;
  $("slow-bars").dataset.step = String(shown);
}

function show() { drawImage(); drawBars(); }

function step() {
  if (!film || shown >= film.steps.length) { pause(); return; }
  shown += 1;
  show();
}

function pause() {
  clearInterval(timer);
  timer = null;
  $("slow-play").textContent = "Play";
}

function play() {
  if (timer) { pause(); return; }
  let rate;
  try { rate = readNumber($("slow-speed"), "pixels per second", { min: 0.5, max: 60, integer: false }); } catch (err) { say(err.message, true); return; }
  if (film && shown >= film.steps.length) shown = 0;
  timer = setInterval(step, 1000 / rate);
  $("slow-play").textContent = "Pause";
}

// input() -> {run, pixels, mask, shape} of the Complete tab, or null
export function setupSlowMotion(input) {
  $("slow-go").addEventListener("click", async () => {
    const given = input();
    if (!given) return;
    if (!given.mask.some((m) => m)) { say("brush over the part to hide first", true); return; }
    let temperature;
    try { temperature = readNumber($("complete-temperature"), "temperature", { min: 0.1, max: 10, integer: false }); } catch (err) { say(err.message, true); return; }
    resetSlowMotion();
    const tell = speaker();
    tell("");
    const { signal, current } = filming.begin();
    const steps = [];
    let palette = null;
    try {
      await postEvents("/api/complete/steps", { run: given.run, pixels: given.pixels, mask: given.mask, n: 1,
        seed: Math.floor(Math.random() * 1e6), temperature }, (ev) => {
        if (ev.error) throw new Error(ev.error);
        if (ev.probs) steps.push(ev);
        if (ev.done) palette = ev.palette;
      }, signal);
    } catch (err) { if (!aborted(err) && current()) tell(err.message, true); return; }
    if (!current() || !palette) return;
    film = { shape: given.shape, start: given.pixels.slice(), mask: given.mask, steps, palette };
    shown = 0;
    $("slow-step").disabled = false;
    $("slow-play").disabled = false;
    show();
  });
  $("slow-step").addEventListener("click", () => { pause(); step(); });
  $("slow-play").addEventListener("click", play);
}
