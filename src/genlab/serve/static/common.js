// Shared helpers: JSON calls that surface the server's {"error": ...}, a reader for server-sent
// events over fetch (for POST streams), and a small line chart.

// The status line speaks for the latest action only: every action starts by clearing it (or by
// saying what it does), and switching tabs clears it too.
export function say(text, isError = false) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.style.color = isError ? "#ff8a80" : "#ffcc80";
  el.dataset.kind = text ? (isError ? "error" : "info") : "";
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
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

// POST a JSON body and call onEvent(object) for every "data: ..." event of the streamed answer.
export async function postEvents(path, json, onEvent, signal) {
  const response = await fetch(path, {
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
    const { value, done } = await reader.read();
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

// series: [{label, color, points: [[x, y], ...]}]
export function lineChart(canvas, series, title = "") {
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  const pad = { l: 48, r: 10, t: 22, b: 26 };
  ctx.clearRect(0, 0, w, h);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#222";
  ctx.fillText(title, pad.l, 14);
  const all = series.flatMap((s) => s.points.filter((p) => p[1] !== null && Number.isFinite(p[1])));
  if (all.length === 0) return;
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - ((y - y0) / (y1 - y0)) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#bbb";
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
  ctx.fillStyle = "#555";
  ctx.fillText(y1.toPrecision(3), 2, pad.t + 10);
  ctx.fillText(y0.toPrecision(3), 2, h - pad.b);
  ctx.fillText(String(x0), pad.l, h - 8);
  ctx.fillText(String(x1), w - pad.r - ctx.measureText(String(x1)).width, h - 8);
  let legend = pad.l + ctx.measureText(title).width + 16;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) { pen = false; continue; }
      if (pen) ctx.lineTo(X(x), Y(y)); else ctx.moveTo(X(x), Y(y));
      pen = true;
    }
    ctx.stroke();
    ctx.fillStyle = s.color;
    if (s.points.length <= 30) {
      for (const [x, y] of s.points) if (y !== null && Number.isFinite(y)) ctx.fillRect(X(x) - 2, Y(y) - 2, 4, 4);
    }
    ctx.fillText(s.label, legend, 14);
    legend += ctx.measureText(s.label).width + 14;
  }
}

// The runs of some families for a <select>; shows the tab's "missing" note when there are none.
export async function fillRunSelect(section, select, families, missingText) {
  const { runs } = await api("/api/runs");
  const usable = runs.filter((r) => families.includes(r.family) && r.trained);
  select.replaceChildren(...usable.map((r) => new Option(`${r.name} (${r.model}, ${r.data})`, r.name)));
  const note = section.querySelector(".missing");
  note.hidden = usable.length > 0;
  note.textContent = missingText;
  section.querySelectorAll(".needs-run").forEach((el) => { el.hidden = usable.length === 0; });
  return usable;
}
