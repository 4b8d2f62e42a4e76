// The picture and the SVG overlay drawn on it: masks, handles, the shape being drawn, grid cells.
// The overlay's user units are picture pixels (viewBox 0 0 W H); vertices snap to pixel corners
// and are stored normalised (x / W, y / H), as in the mask file.

import { polygonArea } from "./model.js";

const SVG = "http://www.w3.org/2000/svg";
const HANDLE_PX = 6;   // handle radius on screen
const CLOSE_PX = 9;    // a click this close to the first vertex closes a polygon
const ZOOMS = [0.0625, 0.125, 0.25, 1 / 3, 0.5, 2 / 3, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32];

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

function segmentDistance(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
  const q = [a[0] + t * dx, a[1] + t * dy];
  return Math.hypot(p[0] - q[0], p[1] - q[1]);
}

function inside(p, pts) {
  // nonzero winding, as privmask fills polygons
  let winding = 0;
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i];
    const b = pts[(i + 1) % pts.length];
    const cross = (b[0] - a[0]) * (p[1] - a[1]) - (p[0] - a[0]) * (b[1] - a[1]);
    if (a[1] <= p[1]) {
      if (b[1] > p[1] && cross > 0) winding++;
    } else if (b[1] <= p[1] && cross < 0) {
      winding--;
    }
  }
  return winding !== 0;
}

export function swatch(style) {
  if (style.type === "solid") {
    return style.color && typeof style.color === "string" ? style.color : "#808080";
  }
  return { mosaic: "#c084fc", blur: "#60a5fa", fill: "#34d399" }[style.type] || "#888";
}

export class Canvas {
  constructor(model, { stage, canvas, picture, overlay }, width, height) {
    this.model = model;
    this.stage = stage;
    this.canvas = canvas;
    this.picture = picture;
    this.svg = overlay;
    this.W = width;
    this.H = height;
    this.zoom = 1;
    this.tool = "select";
    this.view = "edit";
    this.draft = null;  // polygon: [[px, py], ...]; rect: {x0, y0, x1, y1}
    this.hover = null;
    this.drag = null;
    this.lastDown = null;  // the previous press, to tell double clicks (the overlay is redrawn
    // between the two presses, so the browser's own dblclick would not reach it)
    this.onStatus = () => {};
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.layers = {
      grid: el("g", { id: "layer-grid" }, this.svg),
      masks: el("g", { id: "layer-masks" }, this.svg),
      draft: el("g", { id: "layer-draft" }, this.svg),
      handles: el("g", { id: "layer-handles" }, this.svg),
    };
    this.svg.addEventListener("pointerdown", (e) => this.down(e));
    this.svg.addEventListener("pointermove", (e) => this.moveTo(e));
    this.svg.addEventListener("pointerup", (e) => this.up(e));
    this.stage.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    model.on(() => this.render());
  }

  // --- zoom ----------------------------------------------------------------------------------

  setZoom(z, anchor = null) {
    const old = this.zoom;
    this.zoom = Math.max(ZOOMS[0], Math.min(ZOOMS[ZOOMS.length - 1], z));
    const w = Math.round(this.W * this.zoom);
    const h = Math.round(this.H * this.zoom);
    for (const node of [this.canvas, this.picture, this.svg]) {
      node.style.width = `${w}px`;
      node.style.height = `${h}px`;
    }
    this.svg.setAttribute("width", w);
    this.svg.setAttribute("height", h);
    this.canvas.classList.toggle("pixelated", this.zoom > 1);
    if (anchor) {
      // keep the picture point under the cursor where it was
      const [sx, sy, px, py] = anchor;
      this.stage.scrollLeft = px * this.zoom + 16 - sx;
      this.stage.scrollTop = py * this.zoom + 16 - sy;
    }
    document.getElementById("zoom-label").textContent = `${Math.round(this.zoom * 100)}%`;
    if (old !== this.zoom) this.render();
  }

  fitZoom() {
    const w = this.stage.clientWidth - 32;
    const h = this.stage.clientHeight - 32;
    return Math.max(ZOOMS[0], Math.min(w / this.W, h / this.H));
  }

  step(direction) {
    const next = direction > 0
      ? ZOOMS.find((z) => z > this.zoom + 1e-9)
      : [...ZOOMS].reverse().find((z) => z < this.zoom - 1e-9);
    if (next) this.setZoom(next);
  }

  wheel(e) {
    if (!e.ctrlKey) return;
    e.preventDefault();
    const rect = this.stage.getBoundingClientRect();
    const sx = e.clientX - rect.left;
    const sy = e.clientY - rect.top;
    const p = this.point(e, false);
    const next = e.deltaY < 0
      ? ZOOMS.find((z) => z > this.zoom + 1e-9)
      : [...ZOOMS].reverse().find((z) => z < this.zoom - 1e-9);
    if (next) this.setZoom(next, [sx, sy, p[0], p[1]]);
  }

  // --- coordinates ---------------------------------------------------------------------------

  // The pointer in picture pixels; snapped to the nearest pixel corner inside the picture.
  point(e, snap = true) {
    // measured on the element: its size is the picture's times the zoom, rounded to whole pixels
    const rect = this.svg.getBoundingClientRect();
    const x = ((e.clientX - rect.left) * this.W) / rect.width;
    const y = ((e.clientY - rect.top) * this.H) / rect.height;
    if (!snap) return [x, y];
    return [
      Math.max(0, Math.min(this.W, Math.round(x))),
      Math.max(0, Math.min(this.H, Math.round(y))),
    ];
  }

  toPixels(poly) {
    return poly.map(([x, y]) => [x * this.W, y * this.H]);
  }

  toNormal(pts) {
    return pts.map(([x, y]) => [x / this.W, y / this.H]);
  }

  // --- tools ---------------------------------------------------------------------------------

  setTool(tool) {
    this.tool = tool;
    this.draft = null;
    this.svg.setAttribute("class", `tool-${tool}${this.view === "original" ? " hidden" : ""}`);
    this.render();
  }

  setView(view) {
    this.view = view;
    this.setTool(this.tool);
  }

  cancel() {
    if (this.draft) {
      this.draft = null;
      this.render();
      return true;
    }
    return false;
  }

  closePolygon() {
    if (this.tool !== "polygon" || !this.draft || this.draft.length < 3) return false;
    const pts = this.draft;
    this.draft = null;
    if (polygonArea(pts) === 0) {
      this.onStatus("a polygon needs an area: its vertices must not all lie on one line", true);
      this.render();
      return true;
    }
    this.model.addPolygon(this.toNormal(pts));
    return true;
  }

  cellAt([x, y]) {
    const n = this.model.gridSize;
    const c = Math.min(n - 1, Math.max(0, Math.floor((x / this.W) * n)));
    const r = Math.min(n - 1, Math.max(0, Math.floor((y / this.H) * n)));
    return [c, r];
  }

  paintCells(from, to, on) {
    // every cell on the straight line between two pointer positions (fast strokes skip none)
    const steps = Math.max(Math.abs(to[0] - from[0]), Math.abs(to[1] - from[1]), 1);
    for (let i = 0; i <= steps; i++) {
      const c = Math.round(from[0] + ((to[0] - from[0]) * i) / steps);
      const r = Math.round(from[1] + ((to[1] - from[1]) * i) / steps);
      const key = `${c},${r}`;
      if (on) this.model.cells.add(key);
      else this.model.cells.delete(key);
    }
  }

  handleAt(px) {
    const mask = this.model.current();
    if (!mask || !mask.polygon) return -1;
    const pts = this.toPixels(mask.polygon);
    const r = (HANDLE_PX + 2) / this.zoom;
    for (let i = pts.length - 1; i >= 0; i--) {
      if (Math.hypot(pts[i][0] - px[0], pts[i][1] - px[1]) <= r) return i;
    }
    return -1;
  }

  // The edge of the selected mask under the pointer (index of its first vertex), or -1.
  edgeAt(px) {
    const mask = this.model.current();
    if (!mask || !mask.polygon) return -1;
    const pts = this.toPixels(mask.polygon);
    let best = -1;
    let bestDistance = (HANDLE_PX + 2) / this.zoom;
    for (let i = 0; i < pts.length; i++) {
      const d = segmentDistance(px, pts[i], pts[(i + 1) % pts.length]);
      if (d <= bestDistance) {
        best = i;
        bestDistance = d;
      }
    }
    return best;
  }

  maskAt(px) {
    for (let i = this.model.masks.length - 1; i >= 0; i--) {
      const m = this.model.masks[i];
      if (m.polygon && inside(px, this.toPixels(m.polygon))) return i;
    }
    return -1;
  }

  down(e) {
    if (e.button !== 0 || this.view === "original") return;
    e.preventDefault();
    const now = performance.now();
    const last = this.lastDown;
    const double = last && now - last.t < 400 && Math.hypot(e.clientX - last.x, e.clientY - last.y) < 5;
    this.lastDown = double ? null : { t: now, x: e.clientX, y: e.clientY };
    if (double && (this.tool === "select" || this.tool === "polygon")) {
      this.doubleClick(e);
      return;
    }
    this.svg.setPointerCapture(e.pointerId);
    const p = this.point(e);
    const raw = this.point(e, false);
    const m = this.model;
    if (this.tool === "polygon") {
      if (!this.draft) this.draft = [];
      const first = this.draft[0];
      const last = this.draft[this.draft.length - 1];
      if (first && this.draft.length >= 3
          && Math.hypot(first[0] - raw[0], first[1] - raw[1]) * this.zoom <= CLOSE_PX) {
        this.closePolygon();
        return;
      }
      if (!last || last[0] !== p[0] || last[1] !== p[1]) this.draft.push(p);
      this.render();
    } else if (this.tool === "rect") {
      this.draft = { x0: p[0], y0: p[1], x1: p[0], y1: p[1] };
      this.render();
    } else if (this.tool === "grid") {
      const cell = this.cellAt(raw);
      const on = !m.cells.has(`${cell[0]},${cell[1]}`);
      m.begin();
      this.drag = { kind: "paint", on, last: cell };
      this.paintCells(cell, cell, on);
      m.live();
    } else {
      const h = this.handleAt(raw);
      if (h >= 0 && e.altKey) {
        if (!m.removeVertex(m.selected, h)) this.onStatus("a polygon keeps at least 3 vertices", true);
        return;
      }
      if (h >= 0) {
        m.vertex = h;
        m.begin();
        this.drag = { kind: "vertex", index: m.selected, vertex: h };
        m.live();
        return;
      }
      // on the selected mask's outline counts as on the mask (double-clicks there add vertices)
      const hit = this.edgeAt(raw) >= 0 ? m.selected : this.maskAt(raw);
      if (hit < 0) {
        m.select(-1);
        return;
      }
      m.select(hit);
      m.begin();
      this.drag = {
        kind: "body", index: hit, start: p, original: this.toPixels(m.masks[hit].polygon),
      };
    }
  }

  moveTo(e) {
    if (this.view === "original") return;
    const p = this.point(e);
    const m = this.model;
    if (this.tool === "polygon" && this.draft) {
      this.hover = p;
      this.render();
    } else if (this.tool === "rect" && this.draft) {
      this.draft.x1 = p[0];
      this.draft.y1 = p[1];
      this.render();
    } else if (this.drag && this.drag.kind === "paint") {
      const cell = this.cellAt(this.point(e, false));
      this.paintCells(this.drag.last, cell, this.drag.on);
      this.drag.last = cell;
      m.live();
    } else if (this.drag && this.drag.kind === "vertex") {
      m.masks[this.drag.index].polygon[this.drag.vertex] = [p[0] / this.W, p[1] / this.H];
      m.live();
    } else if (this.drag && this.drag.kind === "body") {
      const dx = p[0] - this.drag.start[0];
      const dy = p[1] - this.drag.start[1];
      const moved = this.drag.original.map(([x, y]) => [(x + dx) / this.W, (y + dy) / this.H]);
      m.masks[this.drag.index].polygon = moved;
      m.live();
    }
  }

  up(e) {
    if (this.svg.hasPointerCapture(e.pointerId)) this.svg.releasePointerCapture(e.pointerId);
    if (this.tool === "rect" && this.draft) {
      const { x0, y0, x1, y1 } = this.draft;
      this.draft = null;
      const [l, r] = [Math.min(x0, x1), Math.max(x0, x1)];
      const [t, b] = [Math.min(y0, y1), Math.max(y0, y1)];
      if (r > l && b > t) {
        this.model.addPolygon(this.toNormal([[l, t], [r, t], [r, b], [l, b]]));
      } else {
        this.render();
      }
      return;
    }
    if (this.drag) {
      this.drag = null;
      this.model.end();
    }
  }

  doubleClick(e) {
    if (this.tool === "polygon") {
      this.closePolygon();
      return;
    }
    if (this.tool !== "select") return;
    const m = this.model;
    const mask = m.current();
    if (!mask || !mask.polygon) return;
    const raw = this.point(e, false);
    const best = this.edgeAt(raw);
    if (best >= 0 && this.handleAt(raw) < 0) {
      const p = this.point(e);
      m.insertVertex(m.selected, best, [p[0] / this.W, p[1] / this.H]);
    }
  }

  // --- drawing -------------------------------------------------------------------------------

  render() {
    const { grid, masks, draft, handles } = this.layers;
    for (const layer of [grid, masks, draft, handles]) layer.replaceChildren();
    if (this.view === "original") return;
    const rendered = this.view === "preview" || this.view === "lifted";
    this.model.masks.forEach((mask, i) => {
      if (!mask.polygon) return;  // scene-locked (PTZ) masks have no place on this picture
      const pts = this.toPixels(mask.polygon);
      const shape = el("polygon", {
        points: pts.map((p) => p.join(",")).join(" "),
        class: `mask${i === this.model.selected ? " selected" : ""}${rendered ? " outline-only" : ""}`,
        "data-index": i,
      }, masks);
      shape.style.fill = swatch(mask.style);
      shape.style.fillOpacity = mask.style.type === "solid" ? "0.7" : "0.45";
      if (mask.liftable) shape.setAttribute("stroke-dasharray", "6 4");
      const label = el("text", {
        x: pts[0][0] + 4 / this.zoom, y: pts[0][1] + 14 / this.zoom, class: "mask-number",
        "font-size": 13 / this.zoom,
      }, masks);
      label.textContent = String(i + 1);
    });
    const mask = this.model.current();
    if (mask && mask.polygon) {
      this.toPixels(mask.polygon).forEach(([x, y], i) => {
        el("circle", {
          cx: x, cy: y, r: HANDLE_PX / this.zoom,
          class: `handle${i === this.model.vertex ? " active" : ""}`,
        }, handles);
      });
    }
    if (this.tool === "polygon" && this.draft) {
      const pts = this.hover ? [...this.draft, this.hover] : this.draft;
      el("polyline", { points: pts.map((p) => p.join(",")).join(" "), class: "draft" }, draft);
      this.draft.forEach(([x, y]) => el("circle", {
        cx: x, cy: y, r: HANDLE_PX / this.zoom, class: "handle",
      }, draft));
    } else if (this.tool === "rect" && this.draft) {
      const { x0, y0, x1, y1 } = this.draft;
      el("rect", {
        x: Math.min(x0, x1), y: Math.min(y0, y1),
        width: Math.abs(x1 - x0), height: Math.abs(y1 - y0), class: "draft",
      }, draft);
    }
    if (this.tool === "grid" || this.model.cells.size) this.renderGrid(grid);
  }

  renderGrid(layer) {
    const n = this.model.gridSize;
    const cw = this.W / n;
    const ch = this.H / n;
    for (const key of this.model.cells) {
      const [c, r] = key.split(",").map(Number);
      el("rect", { x: c * cw, y: r * ch, width: cw, height: ch, class: "grid-cell" }, layer);
    }
    if (this.tool !== "grid") return;
    let d = "";
    for (let i = 1; i < n; i++) {
      d += `M${i * cw},0V${this.H}M0,${i * ch}H${this.W}`;
    }
    el("path", { d, class: "grid-line" }, layer);
  }
}
