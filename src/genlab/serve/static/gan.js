// The GAN game tab: start a game on the server, steer it, and draw the frames it streams.
// Several pages may show one game (a second tab, a projector): each names itself with VIEWER when
// it listens and when it leaves, and the server ends a game only when no other page watches it.
import { api, lineChart, readNumber, say, serverAnswers, speaker } from "./common.js";

const RAMP = [[175, 141, 195], [247, 247, 247], [127, 191, 123]]; // purple (generated) .. white .. green (real)
const DRAWN_BOUNDS = [-3, 3, -3, 3];
const MAX_CURVE = 4000;
const GRAD_RANGE = [-2, 2]; // log10 |grad G|: one scale for every game, so two games compare by eye
const PRESETS = { // the notes' point, that a strong D starves the minimax G, shows with these
  "strong-d": { d_steps: 5, lr_d: 0.005 },
  defaults: { layers: 2, width: 64, d_steps: 1, lr_d: 0.001, lr_g: 0.001, speed: 5 },
};
const VIEWER = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b.toString(16).padStart(2, "0")).join("");
// the server's limits on each field (app.GameBody)
const FIELDS = {
  layers: { min: 1, max: 4 }, width: { min: 4, max: 256 }, d_steps: { min: 1, max: 10 }, speed: { min: 1, max: 50 },
  lr_d: { min: 0.00001, max: 0.1, integer: false }, lr_g: { min: 0.00001, max: 0.1, integer: false },
};
const FIELD_NAMES = { layers: "layers", width: "width", d_steps: "D steps per G step", speed: "iterations per frame",
  lr_d: "learning rate D", lr_g: "learning rate G" };

let game = null; // {id, bounds, real, modes, settings}
let stream = null;
let last = null; // the latest frame
let frames = 0;
let drawn = []; // centres clicked for "draw points"
let wantPlaying = false; // what the user last asked for (Play/Pause decide from this, not from a frame)
let controls = Promise.resolve(); // control requests, sent one after another in click order
let inFlight = 0;
let acked = 0; // the server's count of controls applied, as of this page's last one: older frames don't say "playing"
let starts = 0; // Start presses: the reply to a superseded one is dropped (and its game ended)
let previous = null; // the previous game's gradient curve {label, points}, drawn under this game's
let arrivals = []; // when the latest frames came, for the real frame rate
let leaving = false; // set when the page is unloaded (Back, reload): the game is kept for a return
window.addEventListener("beforeunload", () => { leaving = true; });
window.addEventListener("pagehide", () => { leaving = true; });
window.addEventListener("pageshow", () => { leaving = false; });
const curves = { d: [], g: [], grad: [] };

const $ = (id) => document.getElementById(id);
const drawing = () => $("gan-form").elements.dataset.value === "drawn";

function toCanvas(bounds, canvas, [x, y]) {
  const [x0, x1, y0, y1] = bounds;
  return [((x - x0) / (x1 - x0)) * canvas.width, ((y1 - y) / (y1 - y0)) * canvas.height];
}

function heatColor(v) {
  const t = Math.min(Math.max(v, 0), 1) * 2;
  const [a, b, s] = t <= 1 ? [RAMP[0], RAMP[1], t] : [RAMP[1], RAMP[2], t - 1];
  return a.map((c, i) => Math.round(c + (b[i] - c) * s));
}

// Points off the plane are drawn as triangles on its edge, pointing their way, and counted.
function drawOutside(ctx, canvas, points) {
  ctx.fillStyle = "#e6550d";
  for (const [px, py] of points) {
    const x = Math.min(Math.max(px, 5), canvas.width - 5);
    const y = Math.min(Math.max(py, 5), canvas.height - 5);
    const angle = Math.atan2(py - y, px - x);
    ctx.beginPath();
    ctx.moveTo(x + 5 * Math.cos(angle), y + 5 * Math.sin(angle));
    ctx.lineTo(x + 5 * Math.cos(angle + 2.4), y + 5 * Math.sin(angle + 2.4));
    ctx.lineTo(x + 5 * Math.cos(angle - 2.4), y + 5 * Math.sin(angle - 2.4));
    ctx.fill();
  }
}

function drawPlane() {
  const canvas = $("gan-plane");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const bounds = game ? game.bounds : DRAWN_BOUNDS;
  if (last) {
    const n = last.heat_n;
    const small = new OffscreenCanvas(n, n);
    const pixels = new ImageData(n, n);
    last.heat.forEach((v, i) => { pixels.data.set([...heatColor(v), 255], 4 * i); });
    small.getContext("2d").putImageData(pixels, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  }
  const inside = ([px, py]) => px >= 0 && px <= canvas.width && py >= 0 && py <= canvas.height;
  const dots = (points, color, size) => {
    ctx.fillStyle = color;
    for (const p of points) {
      const [px, py] = toCanvas(bounds, canvas, p);
      if (inside([px, py])) ctx.fillRect(px - size / 2, py - size / 2, size, size);
    }
  };
  if (game) dots(game.real, "#1e1e1e", 3);
  if (last) {
    dots(last.fake, "#e6550d", 3);
    const off = last.fake.map((p) => toCanvas(bounds, canvas, p)).filter((p) => !inside(p));
    drawOutside(ctx, canvas, off);
    $("gan-outside").textContent = off.length ? `${off.length} of ${last.fake.length} generated points are off the plane (▲ on its edge)` : "";
    const longest = Math.max(1e-9, ...last.arrows.map(([, , dx, dy]) => Math.hypot(dx, dy)));
    const scale = (0.08 * (bounds[1] - bounds[0])) / longest;
    ctx.strokeStyle = "#2166ac";
    ctx.lineWidth = 1.2;
    for (const [x, y, dx, dy] of last.arrows) {
      const [ax, ay] = toCanvas(bounds, canvas, [x, y]);
      const [bx, by] = toCanvas(bounds, canvas, [x + dx * scale, y + dy * scale]);
      const angle = Math.atan2(by - ay, bx - ax);
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
      ctx.lineTo(bx - 5 * Math.cos(angle - 0.5), by - 5 * Math.sin(angle - 0.5));
      ctx.moveTo(bx, by);
      ctx.lineTo(bx - 5 * Math.cos(angle + 0.5), by - 5 * Math.sin(angle + 0.5));
      ctx.stroke();
    }
  } else {
    $("gan-outside").textContent = "";
  }
  if (game ? game.settings.dataset === "drawn" : drawing()) {
    ctx.strokeStyle = "#222";
    ctx.lineWidth = 1.5;
    for (const p of drawn) {
      const [px, py] = toCanvas(DRAWN_BOUNDS, canvas, p);
      ctx.beginPath();
      ctx.arc(px, py, 6, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
  $("gan-plane").dataset.drawn = String(drawn.length);
}

function drawColorBar(label) {
  const canvas = $("gan-colorbar");
  const ctx = canvas.getContext("2d");
  for (let x = 0; x < canvas.width; x++) {
    ctx.fillStyle = `rgb(${heatColor(x / (canvas.width - 1)).join(",")})`;
    ctx.fillRect(x, 0, 1, canvas.height);
  }
  $("gan-heat-label").textContent = label || "";
}

function drawLosses() {
  lineChart($("gan-losses"), [
    { label: "D loss", color: "#2166ac", points: curves.d },
    { label: "G loss", color: "#e6550d", points: curves.g },
  ], "losses per iteration");
  const mine = { label: previous ? "this game" : "", color: "#7b3294", points: curves.grad };
  lineChart($("gan-grad"), previous ? [{ label: "previous game", color: "#999", dash: [5, 3], points: previous.points }, mine] : [mine],
    "log10 size of G's gradient", { y: GRAD_RANGE });
  $("gan-previous").textContent = previous ? `dashed grey: the previous game (${previous.label})` : "";
  $("gan-losses").dataset.points = String(curves.d.length);
  $("gan-grad").dataset.points = String(curves.grad.length);
  $("gan-grad").dataset.previous = String(previous ? previous.points.length : 0);
}

const describe = (s) => `${s.loss}, ${s.d_steps} D step${s.d_steps > 1 ? "s" : ""} per G step, lr D ${s.lr_d}, lr G ${s.lr_g}`;

// Frames per second over the last two seconds (null until there are a few).
function frameRate() {
  const now = performance.now();
  arrivals = [...arrivals.filter((t) => now - t < 2000), now];
  return arrivals.length >= 5 ? (1000 * (arrivals.length - 1)) / (now - arrivals[0]) : null;
}

function onFrame(frame) {
  last = frame;
  frames += 1;
  for (const [i, d, g, grad] of frame.losses) {
    curves.d.push([i, d]);
    curves.g.push([i, g]);
    if (grad !== null && grad > 0) curves.grad.push([i, Math.log10(grad)]);
    if (d === null || g === null) say("the game diverged (a loss is not a number): press Reset, or lower the learning rates", true);
  }
  for (const key of Object.keys(curves)) if (curves[key].length > MAX_CURVE) curves[key] = curves[key].filter((_, i) => i % 2 === 0);
  $("gan-iteration").textContent = frame.iteration;
  $("gan-updates").textContent = `${frame.d_updates} / ${frame.g_updates}`;
  $("gan-frames").textContent = frames;
  const rate = frameRate();
  $("gan-rate").textContent = rate === null ? "–" : rate.toFixed(1);
  drawColorBar(frame.heat_label);
  const c = frame.coverage;
  $("gan-coverage").textContent = c ? `${c.modes_covered} of ${c.modes_total} modes, ${(100 * c.high_quality).toFixed(0)} % high quality` : "– (no known modes)";
  const [asked, done] = frame.work;
  const notes = [];
  if (frame.playing && done < asked) notes.push(`${done} of ${asked} iterations fit in a frame (the server trains at most ${game.frame_work_ms} ms per frame)`);
  if (frame.playing && rate !== null && rate < 0.8 * game.frame_rate) {
    notes.push(`${rate.toFixed(1)} frames per second, not ${game.frame_rate}: one iteration of these settings, and drawing the frame, take longer than a frame`);
  }
  $("gan-work").textContent = notes.length ? `${notes.join("; ")}: training runs slower than asked.` : "";
  // e.g. a diverged game paused itself; a frame drawn before this page's last control took effect does not count
  if (inFlight === 0 && (frame.actions ?? 0) >= acked) wantPlaying = frame.playing;
  $("gan-play").textContent = wantPlaying ? "Pause" : "Play";
  drawPlane();
  drawLosses();
}

function setButtons(enabled) {
  for (const id of ["gan-play", "gan-step-d", "gan-step-g", "gan-reset"]) $(id).disabled = !enabled;
}

// The figures beside the plane start over (a new game, a Reset, a new drawing).
function clearCurves() {
  for (const key of Object.keys(curves)) curves[key] = [];
  last = null;
  frames = 0;
  arrivals = [];
  $("gan-frames").textContent = "0";
  for (const id of ["gan-iteration", "gan-updates", "gan-coverage", "gan-rate"]) $(id).textContent = "–";
  $("gan-work").textContent = "";
  drawLosses();
}

// The URL names the game (#gan/ID), so Back, Forward or a reload come back to it.
export function ganHash() { return game ? `gan/${game.id}` : "gan"; }

function nameInUrl() {
  if (location.hash.startsWith("#gan")) history.replaceState(null, "", `#${ganHash()}`);
}

function listen() {
  stream = new EventSource(`/api/gan/${game.id}/stream?viewer=${VIEWER}`);
  const mine = stream;
  mine.onmessage = (e) => {
    const event = JSON.parse(e.data);
    if (mine !== stream) return;
    if (event.ended) { stop({ leave: false }); say(event.ended, true); return; }
    onFrame(event);
  };
  // An error while the page unloads is no end of the game (the server keeps it for a return). The
  // browser retries a broken stream by itself: if the server still answers, that is a hiccup; if
  // not, the server stopped and the page says so (serverAnswers shows how to start it again).
  mine.onerror = async () => {
    if (leaving || mine !== stream) return;
    if (mine.readyState === EventSource.CLOSED) {
      say("the game's stream closed (the game ended); press Start for a new game", true);
      stop({ leave: false });
    } else if (!(await serverAnswers()) && mine === stream) {
      stop({ leave: false });
    }
  };
  setButtons(true);
  nameInUrl();
}

// A game named in the URL that is still on the server: show its settings and watch it (again).
// Another page may be showing it (a second tab): this page joins it and sees the same frames.
async function rejoin(id) {
  acked = 0;
  try {
    game = await api(`/api/gan/${encodeURIComponent(id)}`);
  } catch (err) { game = null; nameInUrl(); say(`${err.message}`, true); return; }
  const form = $("gan-form").elements;
  for (const [key, value] of Object.entries(game.settings)) if (form[key]) form[key].value = value;
  clearCurves();
  listen();
  say(game.watchers > 0
    ? `you joined a game on ${game.settings.dataset} that another page shows: both see it and steer it; Start begins a game of your own`
    : `back to your game on ${game.settings.dataset}`);
}

// This page leaves its game: the server ends it unless another page watches it.
function leaveGame(id) {
  api(`/api/gan/${encodeURIComponent(id)}?viewer=${VIEWER}`, { method: "DELETE" }).catch(() => {});
}

// Stop showing the game; `leave`: tell the server (not when the game or the server is gone already).
function stop({ leave = true } = {}) {
  if (stream) stream.close();
  if (game && leave) leaveGame(game.id);
  stream = null;
  game = null;
  nameInUrl();
  wantPlaying = false;
  $("gan-play").textContent = "Play";
  setButtons(false);
}

function readSettings() {
  const body = { dataset: $("gan-form").elements.dataset.value, loss: $("gan-form").elements.loss.value };
  for (const [key, limits] of Object.entries(FIELDS)) body[key] = readNumber($("gan-form").elements[key], FIELD_NAMES[key], limits);
  return body;
}

async function start(event) {
  event.preventDefault();
  const mine = ++starts; // any later press, even one with a wrong field, supersedes this one
  const tell = speaker();
  let body;
  try { body = readSettings(); } catch (err) { tell(err.message, true); return; }
  if (body.dataset === "drawn") {
    if (drawn.length === 0) { tell("click the plane to place some points first", true); return; }
    body.points = drawn;
  }
  if (game && curves.grad.length) previous = { label: describe(game.settings), points: curves.grad };
  stop();
  clearCurves();
  tell("starting a game…");
  let made;
  try {
    made = await api("/api/gan", { json: body });
  } catch (err) { if (mine === starts) tell(err.message, true); return; }
  if (mine !== starts) { leaveGame(made.id); return; } // superseded: nobody will watch this game
  game = made;
  acked = 0;
  clearCurves();
  listen();
  tell(`game on ${body.dataset}: press Play, or step D and G`);
  drawPlane();
}

function act(action) {
  if (!game) return;
  if (action === "play") { wantPlaying = !wantPlaying; action = wantPlaying ? "play" : "pause"; }
  else wantPlaying = false;
  $("gan-play").textContent = wantPlaying ? "Pause" : "Play";
  if (action === "reset") clearCurves();
  const id = game.id;
  const tell = speaker();
  inFlight += 1;
  controls = controls.then(() => api(`/api/gan/${id}/control`, { json: { action } }))
    .then((reply) => { if (game && game.id === id) acked = Math.max(acked, reply.actions); tell(""); })
    .catch((err) => tell(err.message, true))
    .finally(() => { inFlight -= 1; });
}

function applyPreset() {
  const chosen = PRESETS[$("gan-preset").value];
  if (!chosen) return;
  const form = $("gan-form").elements;
  for (const [key, value] of Object.entries(chosen)) { form[key].value = value; form[key].setAttribute("aria-invalid", "false"); }
  say($("gan-preset").value === "strong-d"
    ? "strong D: press Start under minimax, then under non-saturating, and compare G's gradient with the previous game's (dashed)"
    : "the default settings");
}

function placePoint(e) {
  if (!drawing()) { say("choose “draw points” to place your own data"); return; }
  if (game) { stop(); clearCurves(); } // a new drawing: the game on the old one ends, and its figures go
  const canvas = $("gan-plane");
  const r = canvas.getBoundingClientRect();
  const [x0, x1, y0, y1] = DRAWN_BOUNDS;
  const x = x0 + ((e.clientX - r.left) / r.width) * (x1 - x0);
  const y = y1 - ((e.clientY - r.top) / r.height) * (y1 - y0);
  drawn.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
  drawPlane();
  say(`${drawn.length} point(s) drawn; press Start to train on them`);
}

export async function setupGan() {
  $("gan-form").addEventListener("submit", start);
  $("gan-play").addEventListener("click", () => act("play"));
  $("gan-step-d").addEventListener("click", () => act("step_d"));
  $("gan-step-g").addEventListener("click", () => act("step_g"));
  $("gan-reset").addEventListener("click", () => act("reset"));
  $("gan-clear").addEventListener("click", () => { drawn = []; drawPlane(); say(""); });
  $("gan-preset").addEventListener("change", applyPreset);
  $("gan-form").addEventListener("input", (e) => { if (e.target.name in FIELDS) $("gan-preset").value = ""; });
  document.addEventListener("server-gone", () => { if (game) stop({ leave: false }); });
  $("gan-form").elements.dataset.addEventListener("change", () => {
    if (drawing() && game && game.settings.dataset !== "drawn") { stop(); clearCurves(); }
    say(drawing() ? "click the plane to place points, then press Start" : "");
    drawPlane();
  });
  $("gan-plane").addEventListener("click", placePoint);
  drawColorBar("");
  drawPlane();
  drawLosses();
  const named = location.hash.match(/^#gan\/([\w-]+)$/);
  if (named) await rejoin(named[1]);
}
