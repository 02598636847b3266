// simplenet-review: the page. Plain JavaScript, no libraries; everything it reads comes from the server that served it.
"use strict";

const MAX_UPLOAD_BYTES = 20 * 1024 * 1024; // as the server's MAX_UPLOAD_BYTES
const $ = (id) => document.getElementById(id);
const state = { runIndex: 0, run: null, threshold: 0.5, order: [], cards: new Map(), detail: null };

// Counts at a threshold, as runs.py's confusion(): anomalous when the score is above the threshold, over labelled images.
function confusion(rows, threshold) {
  let tp = 0, fp = 0, fn = 0, tn = 0, flagged = 0;
  for (const row of rows) {
    const anomalous = row.score > threshold;
    if (anomalous) flagged += 1;
    if (row.gt === null) continue;
    if (anomalous) { if (row.gt) tp += 1; else fp += 1; } else { if (row.gt) fn += 1; else tn += 1; }
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, fp, fn, tn, flagged, precision, recall, f1 };
}

function outcome(row, threshold) {
  const anomalous = row.score > threshold;
  if (row.gt === null) return anomalous ? "flagged" : "passed";
  if (anomalous) return row.gt ? "tp" : "fp";
  return row.gt ? "fn" : "tn";
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function url(kind, id, size) {
  return `/api/runs/${state.runIndex}/${kind}/${id}${size ? `?size=${size}` : ""}`;
}

function hasHeat(row) {
  return row.saved_map || state.run.model;
}

function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function gtText(row) {
  return row.gt === null ? "" : row.gt ? "true: defective" : "true: good";
}

// ---- the run ---------------------------------------------------------------------------------------------------------

async function loadRuns() {
  const runs = await getJSON("/api/runs");
  $("run").innerHTML = runs
    .map((run, index) => `<option value="${index}">${escapeHTML(run.name)} (${run.images} images)</option>`)
    .join("");
  const wanted = Number(new URLSearchParams(location.search).get("run") || 0);
  state.runIndex = wanted >= 0 && wanted < runs.length ? wanted : 0;
  $("run").value = String(state.runIndex);
  await loadRun();
}

async function loadRun() {
  const started = performance.now();
  document.body.removeAttribute("data-ready");
  const run = await getJSON(`/api/runs/${state.runIndex}`);
  state.run = run;
  const labelled = run.good + run.defective;
  $("run-info").textContent =
    `${run.images} images` + (labelled ? `: ${run.good} good, ${run.defective} defective` : ", no true labels") +
    ` · ${run.source}` + (run.model ? "" : " · no exported model");
  $("notes").hidden = run.notes.length === 0;
  $("notes").textContent = run.notes.join(" ");
  $("threshold-model").textContent = `model's own (${run.model_threshold})`;
  $("threshold-save").disabled = !run.model;
  $("threshold-save").title = run.model ? `writes ${run.threshold_file}` : "this run has no exported model";
  $("upload-file").disabled = !run.model;
  $("save-status").textContent = run.saved_threshold === null ? "" : `saved earlier: ${run.saved_threshold}`;
  buildGrid();
  setThreshold(run.saved_threshold === null ? run.model_threshold : run.saved_threshold);
  document.body.dataset.ready = "1";
  window.reviewTimings = { render_ms: performance.now() - started };
}

function buildGrid() {
  const rows = state.run.rows;
  const html = rows.map((row) => {
    const heat = hasHeat(row)
      ? `<img class="heat" loading="lazy" decoding="async" alt="" src="${url("heatmap", row.id)}">` : "";
    return `<figure class="card" data-id="${row.id}" tabindex="0">` +
      `<div class="pic"><img class="img" loading="lazy" decoding="async" alt="${escapeHTML(row.name)}" src="${url("image", row.id)}">${heat}</div>` +
      `<figcaption><span class="score">${row.score.toFixed(3)}</span> <span class="pred"></span> <span class="badge"></span>` +
      `<br><span class="gt">${gtText(row)}</span></figcaption></figure>`;
  });
  $("grid").innerHTML = html.join("");
  state.cards = new Map();
  for (const card of $("grid").children) state.cards.set(Number(card.dataset.id), card);
  sortGrid();
}

function sortGrid() {
  const direction = $("sort").value === "asc" ? 1 : -1;
  state.order = [...state.run.rows].sort((a, b) => direction * (a.score - b.score) || a.id - b.id);
  const fragment = document.createDocumentFragment();
  for (const row of state.order) fragment.appendChild(state.cards.get(row.id));
  $("grid").appendChild(fragment);
  applyFilter();
}

// ---- the threshold ---------------------------------------------------------------------------------------------------

function setThreshold(value) {
  const threshold = Math.min(1, Math.max(0, Number(value)));
  if (Number.isNaN(threshold)) return;
  state.threshold = threshold;
  $("threshold-slider").value = String(threshold);
  if (Number($("threshold-number").value) !== threshold) $("threshold-number").value = String(threshold);
  const figures = confusion(state.run.rows, threshold);
  for (const key of ["tp", "fp", "fn", "tn"]) {
    $(`count-${key}`).textContent = `${key.toUpperCase()} ${figures[key]}`;
    $(`count-${key}`).dataset.value = String(figures[key]);
  }
  for (const key of ["precision", "recall", "f1"]) {
    $(key).textContent = figures[key].toFixed(3);
    $(key).dataset.value = String(figures[key]);
  }
  $("flagged").textContent = `${figures.flagged} of ${state.run.rows.length}`;
  $("flagged").dataset.value = String(figures.flagged);
  document.body.dataset.threshold = String(threshold);
  for (const row of state.run.rows) {
    const card = state.cards.get(row.id);
    const kind = outcome(row, threshold);
    card.className = `card ${kind}`;
    card.dataset.outcome = kind;
    const anomalous = row.score > threshold;
    const pred = card.querySelector(".pred");
    pred.textContent = anomalous ? "ANOMALOUS" : "normal";
    pred.className = `pred ${anomalous ? "anomalous" : "normal"}`;
    const badge = card.querySelector(".badge");
    badge.textContent = kind === "fp" || kind === "fn" ? kind.toUpperCase() : "";
    badge.className = `badge ${kind}`;
  }
  drawHistogram();
  applyFilter();
  if (state.detail !== null) showDetail(state.detail);
  updateUploadCaption();
}

function drawHistogram() {
  const bins = 50, width = 400, height = 120;
  const counts = { good: new Array(bins).fill(0), defective: new Array(bins).fill(0), unknown: new Array(bins).fill(0) };
  for (const row of state.run.rows) {
    const bin = Math.min(bins - 1, Math.max(0, Math.floor(row.score * bins)));
    counts[row.gt === null ? "unknown" : row.gt ? "defective" : "good"][bin] += 1;
  }
  const top = Math.max(1, ...counts.good, ...counts.defective, ...counts.unknown);
  const bar = width / bins;
  const colours = { unknown: "#9e9e9e", good: "#1b8a3a", defective: "#c62828" };
  let svg = "";
  for (const [kind, values] of Object.entries(counts)) {
    values.forEach((count, bin) => {
      if (!count) return;
      const h = (count / top) * (height - 10);
      svg += `<rect class="${kind}" x="${bin * bar + 0.5}" y="${height - h}" width="${bar - 1}" height="${h}" fill="${colours[kind]}" fill-opacity="0.55"/>`;
    });
  }
  const model = state.run.model_threshold * width;
  svg += `<line x1="${model}" x2="${model}" y1="0" y2="${height}" stroke="#555" stroke-dasharray="4 3"/>`;
  const chosen = state.threshold * width;
  svg += `<line id="histogram-threshold" x1="${chosen}" x2="${chosen}" y1="0" y2="${height}" stroke="#000" stroke-width="2"/>`;
  $("histogram").innerHTML = svg;
}

async function saveThreshold() {
  $("save-status").textContent = "saving ...";
  try {
    const saved = await getJSON(`/api/runs/${state.runIndex}/threshold`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ threshold: state.threshold }),
    });
    $("save-status").textContent = `saved ${saved.threshold} to ${saved.saved}`;
  } catch (error) {
    $("save-status").textContent = `not saved: ${error.message}`;
  }
}

// ---- filters and heat maps -------------------------------------------------------------------------------------------

function visible(row) {
  const filter = $("filter").value;
  const kind = outcome(row, state.threshold);
  if (filter === "all") return true;
  if (filter === "good") return row.gt === false;
  if (filter === "defective") return row.gt === true;
  if (filter === "flagged") return row.score > state.threshold;
  if (filter === "passed") return row.score <= state.threshold;
  return kind === filter;
}

function applyFilter() {
  let shown = 0;
  for (const row of state.run.rows) {
    const show = visible(row);
    state.cards.get(row.id).hidden = !show;
    shown += show;
  }
  $("shown").textContent = `${shown} of ${state.run.rows.length} shown`;
  $("shown").dataset.value = String(shown);
}

function shownOrder() {
  return state.order.filter(visible);
}

// ---- one image in detail ---------------------------------------------------------------------------------------------

function showDetail(id) {
  const row = state.run.rows[id];
  state.detail = id;
  const anomalous = row.score > state.threshold;
  $("detail-title").textContent = row.name;
  $("detail-image").src = url("image", id, "detail");
  const heat = hasHeat(row);
  $("detail-heat").src = heat ? url("heatmap", id, "detail") : "";
  $("detail-heat").hidden = !heat || !$("layer-heat").checked;
  $("detail-outline").src = heat ? url("outline", id, "detail") : "";
  $("detail-outline").hidden = !heat || !$("layer-outline").checked;
  $("detail-mask").src = row.mask ? url("mask", id, "detail") : "";
  $("detail-mask").hidden = !row.mask || !$("layer-mask").checked;
  $("detail-info").innerHTML =
    `score <b>${row.score.toFixed(4)}</b> · <span class="pred ${anomalous ? "anomalous" : "normal"}">` +
    `${anomalous ? "ANOMALOUS" : "normal"}</span> at ${state.threshold}` + (row.gt === null ? "" : ` · ${gtText(row)}`) +
    (row.mask ? "" : " · no true mask");
  $("detail-path").textContent = row.path;
  $("detail").dataset.id = String(id);
  if (!$("detail").open) $("detail").showModal();
}

function step(offset) {
  const order = shownOrder();
  const at = order.findIndex((row) => row.id === state.detail);
  const next = order[at + offset];
  if (next) showDetail(next.id);
}

// ---- a new part ------------------------------------------------------------------------------------------------------

let lastUpload = null;

function updateUploadCaption() {
  if (lastUpload === null) return;
  const anomalous = lastUpload.score > state.threshold;
  $("upload-caption").innerHTML =
    `<span class="score">${lastUpload.score.toFixed(4)}</span> <span class="pred ${anomalous ? "anomalous" : "normal"}">` +
    `${anomalous ? "ANOMALOUS" : "normal"}</span><br>${escapeHTML(lastUpload.name)} · scored in ${lastUpload.seconds.toFixed(2)} s`;
  $("upload-result").dataset.score = String(lastUpload.score);
  $("upload-result").dataset.seconds = String(lastUpload.seconds);
  $("upload-result").dataset.label = anomalous ? "anomalous" : "normal";
}

async function scoreFile(file) {
  $("upload-error").textContent = "";
  if (!file) return;
  if (file.size > MAX_UPLOAD_BYTES) {
    $("upload-error").textContent = `not scored: ${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; the limit is 20 MB.`;
    return;
  }
  const started = performance.now();
  try {
    const result = await getJSON(`/api/runs/${state.runIndex}/score`, {
      method: "POST",
      headers: { "Content-Type": file.type || "application/octet-stream" },
      body: file,
    });
    lastUpload = { ...result, name: file.name, seconds: (performance.now() - started) / 1000 };
    $("upload-image").src = result.image;
    $("upload-heat").src = result.heatmap;
    $("upload-result").hidden = false;
    updateUploadCaption();
  } catch (error) {
    $("upload-result").hidden = true;
    lastUpload = null;
    $("upload-error").textContent = `${file.name}: ${error.message}`;
  }
}

// ---- wiring ----------------------------------------------------------------------------------------------------------

function wire() {
  $("run").addEventListener("change", () => { state.runIndex = Number($("run").value); state.detail = null; loadRun(); });
  $("threshold-slider").addEventListener("input", (event) => setThreshold(event.target.value));
  $("threshold-number").addEventListener("input", (event) => { if (event.target.value !== "") setThreshold(event.target.value); });
  $("threshold-model").addEventListener("click", () => setThreshold(state.run.model_threshold));
  $("threshold-save").addEventListener("click", saveThreshold);
  $("sort").addEventListener("change", sortGrid);
  $("filter").addEventListener("change", applyFilter);
  $("heat-toggle").addEventListener("change", (event) => $("grid").classList.toggle("no-heat", !event.target.checked));
  $("opacity").addEventListener("input", (event) => document.documentElement.style.setProperty("--heat-opacity", event.target.value));
  $("grid").addEventListener("click", (event) => {
    const card = event.target.closest(".card");
    if (card) showDetail(Number(card.dataset.id));
  });
  $("grid").addEventListener("keydown", (event) => {
    const card = event.target.closest(".card");
    if (card && event.key === "Enter") showDetail(Number(card.dataset.id));
  });
  $("detail-prev").addEventListener("click", () => step(-1));
  $("detail-next").addEventListener("click", () => step(1));
  $("detail-close").addEventListener("click", () => $("detail").close());
  $("detail").addEventListener("close", () => { state.detail = null; });
  for (const layer of ["heat", "mask", "outline"]) {
    $(`layer-${layer}`).addEventListener("change", () => { if (state.detail !== null) showDetail(state.detail); });
  }
  document.addEventListener("keydown", (event) => {
    if (!$("detail").open) return;
    if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
    if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
  });
  $("upload-file").addEventListener("change", (event) => {
    scoreFile(event.target.files[0]);
    event.target.value = ""; // the same file chosen again is scored again
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (state.run.model) scoreFile(event.dataTransfer.files[0]);
  });
}

wire();
loadRuns().catch((error) => {
  $("notes").hidden = false;
  $("notes").textContent = `could not load the runs: ${error.message}`;
});
