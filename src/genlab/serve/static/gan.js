// The GAN game tab: start a game on the server, steer it, and draw the frames it streams.
import { api, lineChart, say } from "./common.js";

const RAMP = [[175, 141, 195], [247, 247, 247], [127, 191, 123]]; // purple (generated) .. white .. green (real)
const DRAWN_BOUNDS = [-3, 3, -3, 3];
const MAX_CURVE = 4000;

let game = null; // {id, bounds, real, modes}
let stream = null;
let last = null; // the latest frame
let frames = 0;
let drawn = []; // centres clicked for "draw points"
const curves = { d: [], g: [] };

const $ = (id) => document.getElementById(id);

function toCanvas(bounds, canvas, [x, y]) {
  const [x0, x1, y0, y1] = bounds;
  return [((x - x0) / (x1 - x0)) * canvas.width, ((y1 - y) / (y1 - y0)) * canvas.height];
}

function heatColor(v) {
  const t = Math.min(Math.max(v, 0), 1) * 2;
  const [a, b, s] = t <= 1 ? [RAMP[0], RAMP[1], t] : [RAMP[1], RAMP[2], t - 1];
  return a.map((c, i) => Math.round(c + (b[i] - c) * s));
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
  const dots = (points, color, size) => {
    ctx.fillStyle = color;
    for (const p of points) {
      const [px, py] = toCanvas(bounds, canvas, p);
      ctx.fillRect(px - size / 2, py - size / 2, size, size);
    }
  };
  if (game) dots(game.real, "#1e1e1e", 3);
  if (last) {
    dots(last.fake, "#e6550d", 3);
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
  }
  if (!game || game.settings.dataset === "drawn") {
    ctx.strokeStyle = "#222";
    for (const p of drawn) {
      const [px, py] = toCanvas(DRAWN_BOUNDS, canvas, p);
      ctx.beginPath();
      ctx.arc(px, py, 6, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
}

function drawLosses() {
  lineChart($("gan-losses"), [
    { label: "D loss", color: "#2166ac", points: curves.d },
    { label: "G loss", color: "#e6550d", points: curves.g },
  ], "losses per iteration");
  $("gan-losses").dataset.points = String(curves.d.length);
}

function onFrame(frame) {
  last = frame;
  frames += 1;
  for (const [i, d, g] of frame.losses) {
    curves.d.push([i, d]);
    curves.g.push([i, g]);
    if (d === null || g === null) say("the game diverged (a loss is not a number): press Reset, or lower the learning rates", true);
  }
  for (const key of ["d", "g"]) if (curves[key].length > MAX_CURVE) curves[key] = curves[key].filter((_, i) => i % 2 === 0);
  $("gan-iteration").textContent = frame.iteration;
  $("gan-updates").textContent = `${frame.d_updates} / ${frame.g_updates}`;
  $("gan-frames").textContent = frames;
  $("gan-heat-label").textContent = `background: ${frame.heat_label}`;
  const c = frame.coverage;
  $("gan-coverage").textContent = c ? `${c.modes_covered} of ${c.modes_total} modes, ${(100 * c.high_quality).toFixed(0)} % high quality` : "– (no known modes)";
  $("gan-play").textContent = frame.playing ? "Pause" : "Play";
  drawPlane();
  drawLosses();
}

function stop() {
  if (stream) stream.close();
  if (game) api(`/api/gan/${game.id}`, { method: "DELETE" }).catch(() => {});
  stream = null;
  game = null;
}

async function start(event) {
  event.preventDefault();
  const form = new FormData($("gan-form"));
  const body = Object.fromEntries(form.entries());
  for (const k of ["layers", "width", "d_steps", "speed"]) body[k] = parseInt(body[k], 10);
  for (const k of ["lr_d", "lr_g"]) body[k] = parseFloat(body[k]);
  if (body.dataset === "drawn") {
    if (drawn.length === 0) { say("click the plane to place some points first", true); return; }
    body.points = drawn;
  }
  stop();
  try {
    game = await api("/api/gan", { json: body });
  } catch (err) { say(err.message, true); return; }
  last = null;
  frames = 0;
  curves.d = [];
  curves.g = [];
  for (const id of ["gan-play", "gan-step-d", "gan-step-g", "gan-reset"]) $(id).disabled = false;
  stream = new EventSource(`/api/gan/${game.id}/stream`);
  stream.onmessage = (e) => onFrame(JSON.parse(e.data));
  stream.onerror = () => { say("the game's stream closed; press Start for a new game", true); stream.close(); };
  say(`game on ${body.dataset}: press Play, or step D and G`);
  drawPlane();
}

async function act(action) {
  if (!game) return;
  try {
    if (action === "play" && last && last.playing) action = "pause";
    if (action === "reset") { curves.d = []; curves.g = []; }
    await api(`/api/gan/${game.id}/control`, { json: { action } });
  } catch (err) { say(err.message, true); }
}

export async function setupGan() {
  $("gan-form").addEventListener("submit", start);
  $("gan-play").addEventListener("click", () => act("play"));
  $("gan-step-d").addEventListener("click", () => act("step_d"));
  $("gan-step-g").addEventListener("click", () => act("step_g"));
  $("gan-reset").addEventListener("click", () => act("reset"));
  $("gan-clear").addEventListener("click", () => { drawn = []; drawPlane(); });
  $("gan-plane").addEventListener("click", (e) => {
    if ($("gan-form").elements.dataset.value !== "drawn") { say("choose “draw points” to place your own data"); return; }
    const canvas = $("gan-plane");
    const r = canvas.getBoundingClientRect();
    const [x0, x1, y0, y1] = DRAWN_BOUNDS;
    const x = x0 + ((e.clientX - r.left) / r.width) * (x1 - x0);
    const y = y1 - ((e.clientY - r.top) / r.height) * (y1 - y0);
    drawn.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
    if (game && game.settings.dataset === "drawn") stop();
    drawPlane();
    say(`${drawn.length} point(s) drawn; press Start to train on them`);
  });
  drawPlane();
  drawLosses();
}
