// Wiring: loads the state, keeps the picture (original or rendered by the engine) in step with
// the masks, and runs the toolbar, the keyboard, the files and the import/export dialog.

import { download, getJson, image, postJson, postText } from "./api.js";
import { Canvas } from "./canvas.js";
import { Model } from "./model.js";
import { Panel } from "./panel.js";

const GRID_CHOICES = [8, 10, 12, 16, 20, 24, 32, 40, 48, 64];
const $ = (id) => document.getElementById(id);

let state = null;
let model = null;
let canvas = null;
let time = null;          // seconds into the video, as the server is asked for it
let frames = new Map();   // time -> object URL of the unmasked picture
let serial = 0;           // the newest picture request; older answers are dropped
let currentHash = null;
let savedHash = null;
let checkTimer = null;
let pictureTimer = null;
let ioMode = "import";
let exported = null;

// An error stays on show until the action that raised it succeeds: `source` names that action
// ("check" for the background validity check, which must not clear a failed save's message when
// its answer arrives late).
function status(text, error = false, source = "") {
  $("status").textContent = text;
  $("status").dataset.state = error ? "error" : "ok";
  $("status").dataset.source = error ? source : "";
}

function fail(e, source = "") {
  status(e.message || String(e), true, source);
}

// --- the picture -------------------------------------------------------------------------------

function query() {
  return time === null || time === undefined ? "" : `t=${encodeURIComponent(time)}`;
}

async function frameUrl(refresh = false) {
  const key = String(time);
  if (!refresh && frames.has(key)) return frames.get(key);
  const got = await image(`api/frame?${query()}${refresh ? "&refresh=1" : ""}`);
  if (refresh) {
    for (const old of frames.values()) URL.revokeObjectURL(old.url);
    frames = new Map();
  }
  frames.set(key, got);
  if (frames.size > 24) {
    const [first] = frames.keys();
    URL.revokeObjectURL(frames.get(first).url);
    frames.delete(first);
  }
  return got;
}

async function showPicture({ refresh = false } = {}) {
  const mine = ++serial;
  const view = canvas.view;
  try {
    let got;
    if (view === "preview" || view === "lifted") {
      const which = view === "lifted" ? "lifted" : "masked";
      got = await image(`api/preview?view=${which}&${query()}`, model.doc());
      if (got.skipped) status(`${got.skipped} scene-locked masks need a camera pose: not shown`);
    } else {
      got = await frameUrl(refresh);
    }
    if (mine !== serial) return;
    const img = $("picture");
    const old = img.src;
    await new Promise((resolve) => {
      img.onload = resolve;
      img.onerror = resolve;
      img.src = got.url;
    });
    if (old && old.startsWith("blob:") && ![...frames.values()].some((f) => f.url === old)) {
      URL.revokeObjectURL(old);
    }
    img.dataset.view = view;
    img.dataset.hash = got.hash || "";
    img.dataset.serial = String(mine);
    showTime(got);
  } catch (e) {
    if (mine === serial) fail(e);
  }
}

function showTime(got) {
  const src = state.source;
  if (src.kind === "video" && got.time !== null) {
    const rec = got.recorded ? `, recorded ${got.recorded}` : "";
    $("time-label").textContent = `${Number(got.time).toFixed(3)} s of ${src.duration.toFixed(3)} s${rec}`;
  } else if (src.kind === "live" && got.recorded) {
    $("time-label").textContent = `captured ${got.recorded}`;
  }
}

function schedulePicture() {
  clearTimeout(pictureTimer);
  pictureTimer = setTimeout(() => showPicture(), 150);
}

// --- checking and the file panel ---------------------------------------------------------------

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(check, 120);
}

async function check() {
  try {
    const r = await postJson("api/check", model.doc());
    currentHash = r.content_hash;
    const shown = $("status").dataset;
    if (shown.state === "error" && shown.source === "check") status("ok");
  } catch (e) {
    currentHash = null;
    fail(e, "check");
  }
  showHashes();
}

function showHashes() {
  $("hash").textContent = currentHash ? currentHash.slice(0, 16) : "(invalid)";
  $("hash").dataset.full = currentHash || "";
  $("saved-hash").textContent = savedHash ? savedHash.slice(0, 16) : "(not saved)";
  const dirty = currentHash !== savedHash;
  $("dirty").textContent = dirty ? "unsaved changes" : "";
  document.body.dataset.dirty = dirty ? "1" : "";
}

function showFile() {
  const f = state.file;
  if (!f) {
    $("file-name").textContent = "no mask file";
    $("file-note").textContent = "started without --masks FILE: Download saves a copy";
    $("file-save").disabled = true;
    $("file-reopen").disabled = true;
    return;
  }
  $("file-name").textContent = f.name;
  let note = {
    new: "a new file: Save creates it as a mask set",
    maskset: "a mask set: Save replaces it (atomically)",
  }[f.kind] || "";
  if (f.kind === "timeline") {
    note = `a timeline: showing version ${f.version + 1} of ${f.versions} (since ${f.since}), `
      + `${f.note}. Save appends a new version in force from the time below; `
      + "earlier versions stay as they were.";
    if (!$("since").value || $("since").dataset.auto === "1") {
      $("since").value = defaultSince(f.newest_since);
      $("since").dataset.auto = "1";
    }
  }
  $("file-note").textContent = note;
  $("since-row").hidden = f.kind !== "timeline";
}

function defaultSince(newest) {
  // now, to the second; never at or before the newest version
  let t = Math.floor(Date.now() / 1000) * 1000;
  if (newest) t = Math.max(t, Math.floor(Date.parse(newest) / 1000) * 1000 + 1000);
  return new Date(t).toISOString().replace(".000Z", "Z");
}

// --- files -------------------------------------------------------------------------------------

async function addGridMasks() {
  if (!model.cells.size) return;
  const n = model.gridSize;
  const cells = [...model.cells].map((k) => k.split(",").map(Number));
  const template = { name: "", style: model.style, liftable: false };
  const r = await postJson("api/grid", { cells, grid: [n, n], template });
  model.change((m) => {
    for (const mask of r.masks.masks) {
      mask.name = m.nextName().replace("mask", "grid");
      m.masks.push(mask);
    }
    m.cells.clear();
    m.selected = m.masks.length - 1;
    m.vertex = -1;
  });
  status(`${r.masks.masks.length} masks from ${cells.length} grid cells (${n} x ${n})`);
}

async function save() {
  if (!state.file) {
    status("started without --masks FILE: use Download", true);
    return;
  }
  try {
    if (model.cells.size) await addGridMasks();
    const body = { masks: model.doc() };
    if (state.file.kind === "timeline") body.since = $("since").value.trim();
    const r = await postJson("api/save", body);
    savedHash = r.content_hash;
    currentHash = r.content_hash;
    state.file = r.file;
    $("since").dataset.auto = "1";
    showFile();
    showHashes();
    const version = r.version === null ? "" : ` as version ${r.version + 1} (since ${r.since})`;
    status(`saved ${state.file.name}${version}: content hash ${r.content_hash.slice(0, 16)}, `
      + `file SHA-256 ${r.file_sha256.slice(0, 16)}`);
    document.body.dataset.saved = r.content_hash;
  } catch (e) {
    fail(e);
  }
}

async function reopen() {
  if (currentHash !== savedHash && !window.confirm("Discard the unsaved changes?")) return;
  try {
    state = { ...state, ...(await postJson("api/reopen", {})) };
    model.load(state.masks.masks);
    savedHash = state.file && state.file.kind !== "new" ? state.file.content_hash : null;
    showFile();
    status(`reopened ${state.file.name}`);
  } catch (e) {
    fail(e);
  }
}

async function openLocal(file) {
  try {
    let doc = JSON.parse(await file.text());
    let note = "";
    if (doc && Array.isArray(doc.timeline) && doc.timeline.length) {
      const newest = doc.timeline[doc.timeline.length - 1];
      doc = { privmask: doc.privmask, masks: newest.masks };
      note = ` (the newest timeline version, since ${newest.since})`;
    }
    const r = await postJson("api/check", doc);
    model.load(r.masks.masks);
    const target = state.file ? `Save writes them to ${state.file.name}` : "Download saves them";
    status(`opened ${file.name}${note}: ${r.masks.masks.length} masks; ${target}`);
  } catch (e) {
    fail(e);
  }
}

// --- import / export ---------------------------------------------------------------------------

function openDialog(mode) {
  ioMode = mode;
  $("io-title").textContent = mode === "import" ? "Import masks" : "Export masks";
  $("io-text").readOnly = mode === "export";
  $("io-text").value = "";
  $("io-notes").textContent = "";
  for (const id of ["io-load", "io-append", "io-replace"]) $(id).hidden = mode !== "import";
  $("io-download").hidden = mode !== "export";
  $("io").showModal();
  if (mode === "export") refreshExport();
}

async function refreshExport() {
  try {
    exported = await postJson(`api/export/${$("io-format").value}`, model.doc());
    $("io-text").value = exported.text;
    $("io-notes").textContent = exported.notes.join(" ");
  } catch (e) {
    exported = null;
    $("io-text").value = "";
    $("io-notes").textContent = e.message;
  }
}

async function importText(replace) {
  try {
    const r = await postText(`api/import/${$("io-format").value}`, $("io-text").value);
    if (replace) model.load(r.masks.masks);
    else model.append(r.masks.masks);
    $("io").close();
    status(`imported ${r.masks.masks.length} masks`);
  } catch (e) {
    $("io-notes").textContent = e.message;
  }
}

// --- controls ----------------------------------------------------------------------------------

function setTool(tool) {
  canvas.setTool(tool);
  for (const b of document.querySelectorAll("[data-tool]")) {
    b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
  }
  $("grid-panel").hidden = tool !== "grid" && !model.cells.size;
}

function setView(view) {
  canvas.setView(view);
  for (const b of document.querySelectorAll("[data-view]")) {
    b.setAttribute("aria-pressed", String(b.dataset.view === view));
  }
  showPicture();
}

function showGrid() {
  $("grid-size").value = String(model.gridSize);
  const n = model.cells.size;
  $("grid-count").textContent = `${n} cell${n === 1 ? "" : "s"} painted`;
  $("grid-add").disabled = n === 0;
  $("grid-panel").hidden = canvas.tool !== "grid" && n === 0;
}

function bindControls() {
  for (const b of document.querySelectorAll("[data-tool]")) {
    b.addEventListener("click", () => setTool(b.dataset.tool));
  }
  for (const b of document.querySelectorAll("[data-view]")) {
    b.addEventListener("click", () => setView(b.dataset.view));
  }
  $("undo").addEventListener("click", () => model.undo());
  $("redo").addEventListener("click", () => model.redo());
  $("zoom-in").addEventListener("click", () => canvas.step(1));
  $("zoom-out").addEventListener("click", () => canvas.step(-1));
  $("zoom-fit").addEventListener("click", () => canvas.setZoom(canvas.fitZoom()));
  $("zoom-1").addEventListener("click", () => canvas.setZoom(1));
  $("file-save").addEventListener("click", save);
  $("file-reopen").addEventListener("click", reopen);
  $("file-open").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (e) => {
    if (e.target.files.length) openLocal(e.target.files[0]);
    e.target.value = "";
  });
  $("file-download").addEventListener("click", () => {
    const name = state.file ? state.file.name : `${state.source.name.replace(/\.[^.]*$/, "")}-masks.json`;
    download(name, `${JSON.stringify(model.doc(), null, 2)}\n`, "application/json");
  });
  $("import").addEventListener("click", () => openDialog("import"));
  $("export").addEventListener("click", () => openDialog("export"));
  $("io-format").addEventListener("change", () => { if (ioMode === "export") refreshExport(); });
  $("io-load").addEventListener("click", () => $("io-file").click());
  $("io-file").addEventListener("change", async (e) => {
    if (e.target.files.length) $("io-text").value = await e.target.files[0].text();
    e.target.value = "";
  });
  $("io-append").addEventListener("click", () => importText(false));
  $("io-replace").addEventListener("click", () => importText(true));
  $("io-download").addEventListener("click", () => {
    if (exported) download(exported.filename, exported.text, "text/plain");
  });
  $("io-close").addEventListener("click", () => $("io").close());
  $("grid-size").addEventListener("change", (e) => {
    const n = Number(e.target.value);
    model.change((m) => { m.gridSize = n; m.cells.clear(); });
  });
  $("grid-add").addEventListener("click", () => addGridMasks().catch(fail));
  $("grid-clear").addEventListener("click", () => model.change((m) => m.cells.clear()));
  $("since").addEventListener("input", () => { $("since").dataset.auto = ""; });
  const slider = $("time");
  let seekTimer = null;
  slider.addEventListener("input", () => {
    clearTimeout(seekTimer);
    seekTimer = setTimeout(() => {
      time = Number(slider.value);
      showPicture();
    }, 100);
  });
  $("refresh").addEventListener("click", () => showPicture({ refresh: true }));
  document.addEventListener("keydown", keydown);
  window.addEventListener("beforeunload", (e) => {
    if (currentHash !== savedHash && state.file) e.preventDefault();
  });
}

function keydown(e) {
  const typing = e.target.closest("input, textarea, select, dialog");
  const ctrl = e.ctrlKey || e.metaKey;
  const key = e.key.toLowerCase();
  if (ctrl && key === "s") {
    e.preventDefault();
    save();
    return;
  }
  if (typing) return;
  if (ctrl && key === "z") {
    e.preventDefault();
    if (e.shiftKey) model.redo();
    else model.undo();
  } else if (ctrl && key === "y") {
    e.preventDefault();
    model.redo();
  } else if (ctrl) {
    return;
  } else if (key === "escape") {
    if (!canvas.cancel()) model.select(-1);
  } else if (key === "enter") {
    canvas.closePolygon();
  } else if (key === "delete" || key === "backspace") {
    e.preventDefault();
    if (canvas.tool === "polygon" && canvas.draft && canvas.draft.length) {
      canvas.draft.pop();
      canvas.render();
    } else if (model.vertex >= 0) {
      if (!model.removeVertex(model.selected, model.vertex)) {
        status("a polygon keeps at least 3 vertices that span an area", true);
      }
    } else if (model.selected >= 0) {
      model.removeMask(model.selected);
    }
  } else {
    const tools = { v: "select", p: "polygon", r: "rect", g: "grid" };
    const views = { e: "edit", o: "original", m: "preview", l: "lifted" };
    if (tools[key]) setTool(tools[key]);
    else if (views[key]) setView(views[key]);
    else if (key === "+" || key === "=") canvas.step(1);
    else if (key === "-") canvas.step(-1);
    else if (key === "0") canvas.setZoom(canvas.fitZoom());
    else if (key === "1") canvas.setZoom(1);
  }
}

// --- start -------------------------------------------------------------------------------------

async function start() {
  state = await getJson("api/state");
  const src = state.source;
  model = new Model();
  canvas = new Canvas(model, {
    stage: $("stage"), canvas: $("canvas"), picture: $("picture"), overlay: $("overlay"),
  }, src.width, src.height);
  canvas.onStatus = status;
  new Panel(model, src.height, status);
  model.on((kind) => {
    showGrid();
    $("undo").disabled = !model.undoStack.length;
    $("redo").disabled = !model.redoStack.length;
    if (kind === "change") {
      scheduleCheck();
      if (canvas.view === "preview" || canvas.view === "lifted") schedulePicture();
    }
  });
  const [lo, hi] = state.grid_sizes;
  for (const n of GRID_CHOICES.filter((k) => k >= lo && k <= hi)) {
    $("grid-size").append(new Option(`${n} \u00d7 ${n}`, String(n)));
  }
  document.title = `${src.name} \u2014 privmask edit`;
  $("source-info").textContent = `${src.name}: ${src.kind}, ${src.width} \u00d7 ${src.height} `
    + `${src.format}${src.frame_rate ? `, ${src.frame_rate.toFixed(3)} fps` : ""}`;
  time = state.time;
  if (src.kind === "video") {
    $("seek").hidden = false;
    $("time").max = String(src.duration || 0);
    $("time").step = src.frame_rate ? String(1 / src.frame_rate) : "any";
    $("time").value = String(time || 0);
  }
  $("live").hidden = src.kind !== "live";
  bindControls();
  savedHash = state.file && state.file.kind !== "new" ? state.file.content_hash : null;
  model.load(state.masks.masks, { history: false });
  showFile();
  setTool("select");
  canvas.setZoom(Math.min(1, canvas.fitZoom()));
  setView("edit");
  await check();
  status(`${src.name}: draw with Polygon, Rectangle or Grid; Preview shows what privmask burns in`);
  document.body.dataset.ready = "1";
}

start().catch(fail);
