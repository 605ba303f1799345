// Shared helpers: JSON calls that surface the server's {"error": ...} (and say when the server is
// gone), a reader for server-sent events over fetch (for POST streams), a guard that drops the
// replies of superseded requests, and a small line chart.

// The status line speaks for the latest action only: every action starts by clearing it (or by
// saying what it does), and switching tabs clears it too. An action that waits for the server
// takes a `speaker()` first: what it says after the wait is dropped once a newer action has spoken.
let speaking = 0;
function write(text, isError) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.style.color = isError ? "#ff8a80" : "#ffcc80";
  el.dataset.kind = text ? (isError ? "error" : "info") : "";
}
export function say(text, isError = false) { speaking += 1; write(text, isError); }
export function speaker() {
  const mine = ++speaking;
  return (text, isError = false) => { if (mine === speaking) write(text, isError); };
}

// One field's requests (a decode, a completion, a run's details): begin() aborts the previous one
// and returns {signal, current}; a reply whose current() is false was superseded and must not
// touch the page.
export function latest() {
  let controller = null;
  return {
    begin() {
      if (controller) controller.abort();
      const mine = new AbortController();
      controller = mine;
      return { signal: mine.signal, current: () => controller === mine };
    },
    cancel() { if (controller) controller.abort(); controller = null; },
  };
}
export const aborted = (err) => err && err.name === "AbortError";

// The server is gone (Ctrl-C, a crash): every later request fails at the network level. The page
// says so once, in a banner that stays, with the command that starts the server again.
let restart = "genlab serve --runs RUNS";
let gone = false;
let unloading = false; // a page being left (a link, Back, a reload) sees its requests fail: the server is fine
window.addEventListener("pagehide", () => { unloading = true; });
window.addEventListener("pageshow", () => { unloading = false; });
export function rememberRestart(command) { if (command) restart = command; }
export function serverGone() {
  const text = `The server stopped (nothing answers at ${location.host}). Start it again with \`${restart}\`, then reload this page.`;
  if (!gone) {
    gone = true;
    const banner = document.getElementById("server-gone");
    banner.textContent = text;
    banner.hidden = false;
    document.dispatchEvent(new Event("server-gone"));
  }
  return new Error(text);
}
// fetch rejects only when no answer came at all: the server is gone if it does not answer /api/health either
async function reach(path, init) {
  try { return await fetch(path, init); } catch (err) {
    if (aborted(err) || await serverAnswers()) throw err;
    throw serverGone();
  }
}
// Whether the server still answers (a stream's error may be the server gone or just a hiccup).
export async function serverAnswers() {
  if (unloading) return true;
  try { await fetch("/api/health", { cache: "no-store" }); return true; } catch {
    if (unloading) return true;
    serverGone();
    return false;
  }
}

// A number field read against the server's limits: a clear Error (for `say`) instead of parseInt's
// silent "1e9" -> 1, "2.5" -> 2. The field is marked invalid until it is fixed.
export function readNumber(input, name, { min, max, integer = true }) {
  const text = input.value.trim();
  const value = Number(text);
  const ok = text !== "" && Number.isFinite(value) && (!integer || Number.isInteger(value)) && value >= min && value <= max;
  input.setAttribute("aria-invalid", ok ? "false" : "true");
  if (!ok) throw new Error(`${name} must be ${integer ? "a whole number" : "a number"} from ${min} to ${max} (got "${text}")`);
  return value;
}

// Brush strokes by mouse, pen or finger (pointer events; the canvas has touch-action: none so a
// finger paints instead of scrolling). onPoint(x, y) gets canvas-fraction coordinates in [0, 1]
// for every pointer position and for points in between, `spacing` apart, so fast strokes leave no gaps.
export function brush(canvas, onPoint, spacing = 0.02) {
  let lastPoint = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    lastPoint = at(e);
    onPoint(...lastPoint);
    e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!lastPoint) return;
    const [x, y] = at(e);
    const steps = Math.max(1, Math.ceil(Math.hypot(x - lastPoint[0], y - lastPoint[1]) / spacing));
    for (let k = 1; k <= steps; k++) onPoint(lastPoint[0] + ((x - lastPoint[0]) * k) / steps, lastPoint[1] + ((y - lastPoint[1]) * k) / steps);
    lastPoint = [x, y];
  });
  const end = () => { lastPoint = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

export async function api(path, options = {}) {
  const init = { ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(options.json);
  }
  const response = await reach(path, init);
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

// POST a JSON body and call onEvent(object) for every "data: ..." event of the streamed answer.
export async function postEvents(path, json, onEvent, signal) {
  const response = await reach(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(json), signal,
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || `${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    let part;
    try { part = await reader.read(); } catch (err) {
      if (aborted(err) || await serverAnswers()) throw err;
      throw serverGone();
    }
    const { value, done } = part;
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (chunk.startsWith("data: ")) onEvent(JSON.parse(chunk.slice(6)));
    }
  }
}

export function image(src, title = "") {
  const img = document.createElement("img");
  img.src = src;
  img.alt = title;
  img.title = title;
  return img;
}

// A number for an axis or a table: three significant digits, exponents only where they are short.
export function figure(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(1).replace("e+", "e") : String(Number(v.toPrecision(3)));
}

// The y range that shows most points: all of them, unless a few outliers (a loss spike) would
// flatten the rest; then the 2nd..98th percentiles, widened a little.
function robustRange(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  let [lo, hi] = [sorted[0], sorted[sorted.length - 1]];
  if (sorted.length >= 20) {
    const [qlo, qhi] = [at(0.02), at(0.98)];
    const spread = Math.max(qhi - qlo, 1e-12);
    if (hi - lo > 3 * spread) [lo, hi] = [Math.max(lo, qlo - 0.25 * spread), Math.min(hi, qhi + 0.25 * spread)];
  }
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

// series: [{label, color, points: [[x, y], ...], dash: [4, 3]?}]; options.y: a fixed [lo, hi]
// range (charts to be compared by eye keep one). Points outside the range are drawn on its edge as
// triangles pointing their way, and the title counts them.
export function lineChart(canvas, series, title = "", { y: fixed = null } = {}) {
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "12px system-ui, sans-serif";
  const finite = (p) => p[1] !== null && Number.isFinite(p[1]);
  const all = series.flatMap((s) => s.points.filter(finite));
  let [x0, x1] = all.length ? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))] : [0, 1];
  const [y0, y1] = fixed || (all.length ? robustRange(all.map((p) => p[1])) : [0, 1]);
  if (x1 === x0) x1 = x0 + 1;
  const ticks = [y1, (y0 + y1) / 2, y0].map(figure);
  const pad = { l: 10 + Math.max(...ticks.map((t) => ctx.measureText(t).width)), r: 10, t: 22, b: 26 };
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - ((Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0)) * (h - pad.t - pad.b);
  const off = all.filter((p) => p[1] < y0 || p[1] > y1).length;
  ctx.fillStyle = "#222";
  const heading = off ? `${title} (${off} off the scale: ▲ on its edge)` : title;
  ctx.fillText(heading, pad.l, 14);
  ctx.strokeStyle = "#bbb";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
  ctx.fillStyle = "#555";
  ctx.textAlign = "right";
  [y1, (y0 + y1) / 2, y0].forEach((v, i) => ctx.fillText(ticks[i], pad.l - 4, Y(v) + 4));
  ctx.textAlign = "left";
  if (all.length === 0) { canvas.dataset.off = "0"; return; }
  ctx.fillText(String(x0), pad.l, h - 8);
  ctx.fillText(String(x1), w - pad.r - ctx.measureText(String(x1)).width, h - 8);
  let legend = pad.l + ctx.measureText(heading).width + 16;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let pen = false;
    for (const p of s.points) {
      if (!finite(p)) { pen = false; continue; }
      if (pen) ctx.lineTo(X(p[0]), Y(p[1])); else ctx.moveTo(X(p[0]), Y(p[1]));
      pen = true;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = s.color;
    const shown = s.points.filter(finite);
    if (shown.length <= 30) for (const [x, y] of shown) ctx.fillRect(X(x) - 2, Y(y) - 2, 4, 4);
    for (const [x, y] of shown) { // off the scale: a triangle on the edge, pointing out
      if (y >= y0 && y <= y1) continue;
      const [px, py, d] = [X(x), Y(y), y > y1 ? -1 : 1];
      ctx.beginPath();
      ctx.moveTo(px, py + 6 * d);
      ctx.lineTo(px - 4, py);
      ctx.lineTo(px + 4, py);
      ctx.fill();
    }
    if (s.label) {
      ctx.fillText(s.label, legend, 14);
      legend += ctx.measureText(s.label).width + 14;
    }
  }
  canvas.dataset.off = String(off);
}

// The runs of some families for a <select>; shows the tab's "missing" note when there are none.
// `rank(run)`: the run ranked highest (the first of them) is selected.
export async function fillRunSelect(section, select, families, missingText, rank = () => 0) {
  const { runs } = await api("/api/runs");
  const usable = runs.filter((r) => families.includes(r.family) && r.trained);
  select.replaceChildren(...usable.map((r) => new Option(`${r.name} (${r.model}, ${r.data})`, r.name)));
  const best = usable.reduce((top, r) => (top === null || rank(r) > rank(top) ? r : top), null);
  if (best) select.value = best.name;
  const note = section.querySelector(".missing");
  note.hidden = usable.length > 0;
  note.textContent = missingText;
  section.querySelectorAll(".needs-run").forEach((el) => { el.hidden = usable.length === 0; });
  return usable;
}

// "Draw me a 7": a class picker for a class-conditional run (`classes`: the data's names), or null.
// Its value is "" (each item its own class, i mod classes) or the class's number.
export function classPicker(classes, onChange = null) {
  if (!classes || !classes.length) return null;
  const select = document.createElement("select");
  select.className = "class-picker";
  select.append(new Option("every class in turn", ""), ...classes.map((name, k) => new Option(name, String(k))));
  if (onChange) select.addEventListener("change", onChange);
  return Object.assign(document.createElement("label"), { textContent: "class " }).appendChild(select).parentNode;
}

// The class a picker asks for: {label: K}, or {} for none.
export function pickedClass(picker) {
  const select = picker && picker.querySelector("select");
  return select && select.value !== "" ? { label: Number(select.value) } : {};
}
