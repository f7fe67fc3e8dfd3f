// The dashboard page: fetches /state once, then follows the server-sent events at /events.
// Charts are SVG drawn here; layer cards are created once and updated in place.
"use strict";

const state = { run: {}, progress: {}, train: [], val: [], layers: [], samples: [], misclassified: [], confusion: null };
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits === undefined ? 4 : digits);
}

function duration(s) {
  if (!isFinite(s) || s <= 0) return "–";
  const m = Math.floor(s / 60), sec = Math.round(s % 60);
  return m > 0 ? `${m} min ${sec} s` : `${sec} s`;
}

// One chart: series of [x, y] points; log scales the y axis.
function chart(svg, series, opts) {
  const W = 480, H = 220, L = 46, R = 8, T = 8, B = 22;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const pts = series.flatMap(s => s.points).filter(p => isFinite(p[1]) && (!opts.log || p[1] > 0));
  const ty = v => (opts.log ? Math.log10(v) : v);
  let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
  let y0 = opts.min !== undefined ? opts.min : Math.min(...pts.map(p => ty(p[1])));
  let y1 = opts.max !== undefined ? opts.max : Math.max(...pts.map(p => ty(p[1])));
  if (!pts.length) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const Y = y => T + (y1 - ty(y)) / (y1 - y0) * (H - T - B);
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("class", "axis");
  axis.setAttribute("d", `M${L},${T} V${H - B} H${W - R}`);
  svg.appendChild(axis);
  const label = (x, y, s, anchor) => {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("text-anchor", anchor || "end");
    t.textContent = s; svg.appendChild(t);
  };
  // Three significant digits, more when that cannot tell the two ends apart.
  const ylab = (v, p) => (opts.log ? Math.pow(10, v).toPrecision(p) : fmt(v, opts.digits === undefined ? 2 : opts.digits));
  let digits = 3;
  while (digits < 8 && ylab(y1, digits) === ylab(y0, digits)) digits++;
  label(L - 4, T + 8, ylab(y1, digits)); label(L - 4, H - B, ylab(y0, digits));
  const xlab = v => (opts.xlog ? Math.pow(10, v).toExponential(0) : String(Math.round(v)));
  label(L, H - 6, xlab(x0), "start"); label(W - R, H - 6, xlab(x1));
  for (const m of opts.marks || []) {
    if (!isFinite(m.x) || m.x < x0 || m.x > x1) continue;
    const line = document.createElementNS(SVG, "path");
    line.setAttribute("class", "mark " + m.cls);
    line.setAttribute("d", `M${X(m.x).toFixed(1)},${T} V${H - B}`);
    svg.appendChild(line);
    label(X(m.x) + 3, T + 10 + 12 * (m.row || 0), m.label, "start");
  }
  for (const s of series) {
    const usable = s.points.filter(p => isFinite(p[1]) && (!opts.log || p[1] > 0));
    if (!usable.length) continue;
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("class", s.cls);
    line.setAttribute("points", usable.map(p => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" "));
    svg.appendChild(line);
    if (s.dots) for (const p of usable) {
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("class", s.cls + "-dot"); c.setAttribute("cx", X(p[0])); c.setAttribute("cy", Y(p[1])); c.setAttribute("r", 3);
      svg.appendChild(c);
    }
  }
}

// At most 600 points per line (more than the chart has pixels): every k-th, keeping the last.
function thin(points) {
  const k = Math.ceil(points.length / 600);
  if (k <= 1) return points;
  return points.filter((_, i) => i % k === 0 || i === points.length - 1);
}

function drawCharts() {
  const train = thin(state.train);
  const loss = document.getElementById("loss-chart");
  chart(loss, [
    { cls: "train", points: train.map(p => [p.step, p.loss]) },
    { cls: "smooth", points: train.map(p => [p.step, p.smoothed]) },
    { cls: "val", dots: true, points: state.val.map(v => [v.step, v.loss]) },
  ], { log: true });
  loss.setAttribute("data-points", String(state.train.length));
  chart(document.getElementById("acc-chart"), [
    { cls: "smooth", points: train.map(p => [p.step, 100 * p.accuracy]) },
    { cls: "val", dots: true, points: state.val.map(v => [v.step, 100 * v.accuracy]) },
  ], { min: 0, max: 100, digits: 0 });
  chart(document.getElementById("lr-chart"), [
    { cls: "smooth", points: train.map(p => [p.step, p.lr]) },
  ], { log: true });
}

function drawLrFind() {
  const f = state.lr_find;
  const fig = document.getElementById("lr-find");
  if (!f || !f.points.length) { fig.hidden = true; return; }
  fig.hidden = false;
  const lg = Math.log10;
  chart(document.getElementById("lr-find-chart"), [
    { cls: "smooth", points: f.points.map(p => [lg(p[0]), p[1]]) },
  ], {
    xlog: true,
    marks: [
      { x: lg(f.too_small_below), cls: "small", label: "too small below", row: 0 },
      { x: lg(f.steepest), cls: "good", label: "good " + f.steepest.toExponential(1), row: 1 },
      { x: lg(f.minimum), cls: "large", label: "too large above", row: 2 },
    ],
  });
}

const COLOURS = ["#e41a1c", "#ff7f00", "#c8b400", "#4daf4a", "#00b4b4", "#984ea3", "#377eb8", "#f781bf"];

function drawRace() {
  const box = document.getElementById("race");
  box.textContent = "";
  for (const r of state.race || []) {
    const S = 320, [x0, x1, y0, y1] = r.view;
    const X = x => (x - x0) / (x1 - x0) * S, Y = y => (y1 - y) / (y1 - y0) * S;
    const fig = el("figure");
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "race"); svg.setAttribute("viewBox", `0 0 ${S} ${S}`);
    svg.setAttribute("data-surface", r.surface);
    r.tracks.forEach((t, k) => {
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", "track");
      line.setAttribute("stroke", COLOURS[k % COLOURS.length]);
      line.setAttribute("points", t.points.filter(p => isFinite(p[0]) && isFinite(p[1]))
        .map(p => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" "));
      svg.appendChild(line);
      const key = document.createElementNS(SVG, "text");
      key.setAttribute("x", 6); key.setAttribute("y", 12 + 12 * k);
      key.setAttribute("fill", COLOURS[k % COLOURS.length]);
      key.textContent = t.label + (t.escaped ? " (left the plot)" : "");
      svg.appendChild(key);
    });
    if (r.minimum) {
      const m = document.createElementNS(SVG, "text");
      m.setAttribute("x", X(r.minimum[0]) - 4); m.setAttribute("y", Y(r.minimum[1]) + 4);
      m.textContent = "+"; svg.appendChild(m);
    }
    fig.appendChild(svg);
    fig.appendChild(el("figcaption", {}, r.surface));
    box.appendChild(fig);
  }
}

function drawProgress() {
  const p = state.progress, r = state.run;
  document.getElementById("run-title").textContent = r.model ? `${r.model} on ${r.dataset}` : "";
  const status = p.finished ? "finished" : `epoch ${p.epoch || 0}/${p.epochs || 0}, batch ${p.batch || 0}/${p.batches_per_epoch || 0}`;
  document.getElementById("progress").textContent =
    `${status} · step ${p.step || 0} · ${fmt(p.images_per_second, 0)} img/s · ETA ${duration(p.eta_seconds)} · elapsed ${duration(p.elapsed_seconds)}`;
}

function statsRow(table, name, s) {
  const tr = el("tr");
  tr.appendChild(el("td", {}, name));
  tr.appendChild(el("td", {}, s ? `min ${fmt(s.min)}  max ${fmt(s.max)}  mean ${fmt(s.mean)}  std ${fmt(s.std)}` : "–"));
  table.appendChild(tr);
}

function setImage(holder, cls, caption, url) {
  let img = holder.querySelector("img." + cls);
  if (!url) return;
  if (!img) {
    const f = el("figure");
    img = el("img", { class: cls, alt: caption });
    f.appendChild(img);
    f.appendChild(el("figcaption", {}, caption));
    holder.appendChild(f);
  }
  if (img.getAttribute("src") !== url) img.setAttribute("src", url);
}

function drawLayers() {
  const box = document.getElementById("layers");
  for (const layer of state.layers) {
    let card = box.querySelector(`.card[data-layer="${CSS.escape(layer.name)}"]`);
    if (!card) {
      card = el("div", { class: "card", "data-layer": layer.name });
      const info = el("div", { class: "info" });
      const title = el("div", { class: "title" }, layer.name);
      title.appendChild(el("span", { class: "kind" }, layer.kind));
      info.appendChild(title);
      info.appendChild(el("div", { class: "shape" }, layer.output_shape));
      if (layer.arithmetic) info.appendChild(el("div", { class: "arith" }, "size: " + layer.arithmetic));
      info.appendChild(el("div", { class: "params" }, "parameters: " + (layer.params_formula || String(layer.params))));
      info.appendChild(el("table", { class: "stats" }));
      card.appendChild(info);
      card.appendChild(el("div", { class: "pics" }));
      box.appendChild(card);
    }
    const live = layer.live;
    if (live) {
      const t = card.querySelector("table.stats");
      t.textContent = "";
      statsRow(t, "activation", live.activation);
      statsRow(t, "gradient", live.gradient);
      const tr = el("tr");
      tr.appendChild(el("td", {}, "zeros"));
      let extra = `${(100 * live.zero_fraction).toFixed(1)} %`;
      if (live.update_ratio !== null && live.update_ratio !== undefined) extra += `  ·  update/weight ${fmt(live.update_ratio)}`;
      extra += `  ·  at step ${live.step}`;
      tr.appendChild(el("td", {}, extra));
      t.appendChild(tr);
    }
    const pics = card.querySelector(".pics");
    setImage(pics, "activation", "activations of sample 0", layer.activation_image);
    setImage(pics, "filters", "filters", layer.filter_image);
    setImage(pics, "filter-grads", "filter gradients", layer.filter_grad_image);
  }
}

function className(i) {
  const c = state.run.classes || [];
  return c[i] !== undefined ? c[i] : String(i);
}

function drawStrip(id, samples, wrongClass) {
  const box = document.getElementById(id);
  box.textContent = "";
  for (const s of samples) {
    const wrong = s.predicted !== s.label;
    const d = el("div", { class: "sample" + (wrong && wrongClass ? " wrong" : "") });
    d.appendChild(el("img", { src: s.image, alt: `label ${className(s.label)}` }));
    d.appendChild(el("div", {}, `${className(s.predicted)} ${(100 * s.probability).toFixed(0)} %`));
    d.appendChild(el("div", {}, `true ${className(s.label)}`));
    box.appendChild(d);
  }
}

function drawConfusion() {
  const box = document.getElementById("confusion");
  box.textContent = "";
  const m = state.confusion;
  if (!m) return;
  const table = el("table");
  const head = el("tr");
  head.appendChild(el("th"));
  m.forEach((_, j) => head.appendChild(el("th", {}, className(j))));
  table.appendChild(head);
  m.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const tr = el("tr");
    tr.appendChild(el("th", {}, className(i)));
    row.forEach((n, j) => {
      const f = n / total;
      const colour = i === j ? `rgba(31,119,180,${f})` : `rgba(214,39,40,${Math.min(1, 3 * f)})`;
      const td = el("td", { style: `background:${colour}`, title: `${n} of ${total}` }, String(n));
      tr.appendChild(td);
    });
    table.appendChild(tr);
  });
  box.appendChild(table);
}

function drawAll() {
  drawProgress(); drawCharts(); drawLrFind(); drawRace(); drawLayers();
  drawStrip("samples", state.samples, true);
  drawStrip("misclassified", state.misclassified, true);
  drawConfusion();
}

let redraw = null;
function later() {
  // Once a second at most: the page shares the machine with the training it shows.
  if (redraw === null) redraw = setTimeout(() => { redraw = null; drawProgress(); drawCharts(); }, 1000);
}

async function load() {
  const r = await fetch("/state", { cache: "no-store" });
  Object.assign(state, await r.json());
  drawAll();
}

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("step", e => {
    const d = JSON.parse(e.data);
    const last = state.train.length ? state.train[state.train.length - 1].step : 0;
    if (d.points.length && d.points[0].step > last + 1) { load(); return; } // dropped events
    for (const p of d.points) if (p.step > last) state.train.push(p);
    state.progress = d.progress;
    later();
  });
  es.addEventListener("epoch", e => {
    const d = JSON.parse(e.data);
    state.val = d.val; state.confusion = d.confusion;
    drawCharts(); drawConfusion();
  });
  es.addEventListener("layers", e => {
    const d = JSON.parse(e.data);
    state.layers = d.layers; state.samples = d.samples;
    drawLayers(); drawStrip("samples", state.samples, true);
  });
  es.addEventListener("misclassified", e => {
    state.misclassified = JSON.parse(e.data).misclassified;
    drawStrip("misclassified", state.misclassified, true);
  });
}

if (window.CONVNET_STATIC) {
  Object.assign(state, window.CONVNET_STATIC);
  drawAll();
} else {
  load().then(connect);
}
