// The side panel: the ordered mask list and the selected mask's name, style and liftability.

import { swatch } from "./canvas.js";

const DEFAULTS = {
  solid: { type: "solid", color: "#000000" },
  mosaic: { type: "mosaic", block: 0.02 },
  blur: { type: "blur", sigma: 0.01 },
  fill: { type: "fill" },
};

// The relative and pixel field of each style with a strength, and their lower bounds.
const STRENGTH = {
  mosaic: { name: "Block", rel: "block", px: "block_px", minPx: 2 },
  blur: { name: "Sigma", rel: "sigma", px: "sigma_px", minPx: 1 },
};

const GRADES = {
  solid: "anonymising: the output does not depend on what was there",
  fill: "anonymising: filled from the visible surroundings only",
  mosaic: "bounded: one value per block survives (pseudonymisation, not anonymisation)",
  blur: "bounded: one value per cell survives (pseudonymisation, not anonymisation)",
};

function hex(color) {
  if (typeof color === "string") return color.toLowerCase();
  if (Array.isArray(color)) return `#${color.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
  return "#000000";
}

function $(id) {
  return document.getElementById(id);
}

function styleText(style) {
  const s = STRENGTH[style.type];
  if (!s) return style.type;
  return style[s.px] !== undefined && style[s.px] !== null
    ? `${style.type} ${style[s.px]} px`
    : `${style.type} ${style[s.rel]}`;
}

export class Panel {
  constructor(model, height, onStatus) {
    this.model = model;
    this.H = height;
    this.onStatus = onStatus;
    model.on(() => this.render());
    this.bind();
  }

  bind() {
    const m = this.model;
    $("mask-list").addEventListener("click", (e) => {
      const li = e.target.closest("li");
      if (!li) return;
      const i = Number(li.dataset.index);
      const action = e.target.dataset && e.target.dataset.action;
      if (action === "up") m.move(i, -1);
      else if (action === "down") m.move(i, 1);
      else if (action === "delete") m.removeMask(i);
      else m.select(i);
    });
    $("p-name").addEventListener("change", (e) => m.edit((mask) => { mask.name = e.target.value; }));
    $("p-style").addEventListener("change", (e) => {
      m.edit((mask) => { mask.style = { ...DEFAULTS[e.target.value] }; });
    });
    $("p-color").addEventListener("change", (e) => {
      m.edit((mask) => { mask.style = { type: "solid", color: e.target.value }; });
    });
    $("p-yuv-on").addEventListener("change", (e) => {
      m.edit((mask) => {
        mask.style = e.target.checked
          ? { type: "solid", yuv: [16, 128, 128] }
          : { type: "solid", color: "#000000" };
      });
    });
    for (const id of ["p-y", "p-u", "p-v"]) {
      $(id).addEventListener("change", () => {
        const yuv = ["p-y", "p-u", "p-v"].map((k) => Math.round(Number($(k).value)));
        m.edit((mask) => { mask.style = { type: "solid", yuv }; });
      });
    }
    $("p-amount").addEventListener("change", () => this.strengthChanged());
    $("p-unit").addEventListener("change", () => this.unitChanged());
    $("p-outline-on").addEventListener("change", (e) => {
      m.edit((mask) => {
        mask.style = e.target.checked ? { type: "fill", outline: $("p-outline").value } : { type: "fill" };
      });
    });
    $("p-outline").addEventListener("change", (e) => {
      if ($("p-outline-on").checked) {
        m.edit((mask) => { mask.style = { type: "fill", outline: e.target.value }; });
      }
    });
    $("p-liftable").addEventListener("change", (e) => {
      m.edit((mask) => { mask.liftable = e.target.checked; });
    });
    $("p-delete").addEventListener("click", () => {
      if (m.selected >= 0) m.removeMask(m.selected);
    });
    $("p-delete-vertex").addEventListener("click", () => this.deleteVertex());
  }

  deleteVertex() {
    const m = this.model;
    if (m.selected < 0 || m.vertex < 0) return false;
    if (!m.removeVertex(m.selected, m.vertex)) {
      this.onStatus("a polygon keeps at least 3 vertices that span an area", true);
    }
    return true;
  }

  strengthChanged() {
    const mask = this.model.current();
    const s = mask && STRENGTH[mask.style.type];
    if (!s) return;
    const value = Number($("p-amount").value);
    if (!Number.isFinite(value) || value <= 0) {
      this.onStatus(`${s.name.toLowerCase()} must be a positive number`, true);
      this.render();
      return;
    }
    const field = $("p-unit").value === "px" ? s.px : s.rel;
    this.model.edit((mk) => { mk.style = { type: mk.style.type, [field]: value }; });
  }

  unitChanged() {
    // the same strength on this picture, expressed in the other unit
    const mask = this.model.current();
    const s = mask && STRENGTH[mask.style.type];
    if (!s) return;
    const toPx = $("p-unit").value === "px";
    const style = mask.style;
    const rel = style[s.rel] ?? (style[s.px] ?? 0) / this.H;
    const value = toPx
      ? Math.max(s.minPx, Math.round(rel * this.H * 100) / 100)
      : Math.min(1, Number(((style[s.px] ?? 0) / this.H).toPrecision(4)));
    this.model.edit((mk) => {
      mk.style = { type: mk.style.type, [toPx ? s.px : s.rel]: value };
    });
  }

  render() {
    this.renderList();
    this.renderProps();
  }

  renderList() {
    const list = $("mask-list");
    list.replaceChildren();
    this.model.masks.forEach((mask, i) => {
      const li = document.createElement("li");
      li.dataset.index = i;
      if (i === this.model.selected) li.className = "selected";
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = swatch(mask.style);
      const label = document.createElement("span");
      label.className = "label";
      const where = mask.polygon ? "" : " (scene-locked: not drawn here)";
      label.textContent = `${i + 1}. ${mask.name || "(unnamed)"}: ${styleText(mask.style)}`
        + `${mask.liftable ? ", liftable" : ""}${where}`;
      li.append(sw, label);
      for (const [action, text, title] of [
        ["up", "\u2191", "apply earlier"], ["down", "\u2193", "apply later"], ["delete", "\u2715", "delete"],
      ]) {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.action = action;
        b.textContent = text;
        b.title = title;
        li.append(b);
      }
      list.append(li);
    });
    $("list-empty").hidden = this.model.masks.length > 0;
  }

  renderProps() {
    const mask = this.model.current();
    $("props").hidden = !mask;
    if (!mask) return;
    const style = mask.style;
    $("p-index").textContent = String(this.model.selected + 1);
    if (document.activeElement !== $("p-name")) $("p-name").value = mask.name || "";
    $("p-style").value = style.type;
    $("p-solid").hidden = style.type !== "solid";
    $("p-fill").hidden = style.type !== "fill";
    const s = STRENGTH[style.type];
    $("p-strength").hidden = !s;
    if (style.type === "solid") {
      const raw = Array.isArray(style.yuv);
      $("p-yuv-on").checked = raw;
      $("p-yuv").hidden = !raw;
      $("p-color").disabled = raw;
      if (raw) [$("p-y").value, $("p-u").value, $("p-v").value] = style.yuv;
      else $("p-color").value = hex(style.color);
    }
    if (s) {
      const px = style[s.px] !== undefined && style[s.px] !== null;
      $("p-amount-name").textContent = s.name;
      $("p-unit").value = px ? "px" : "rel";
      $("p-amount").value = px ? style[s.px] : style[s.rel];
      $("p-equiv").textContent = px
        ? `= ${(style[s.px] / this.H).toPrecision(3)} \u00d7 the height of this ${this.H}-row picture`
        : `= ${(style[s.rel] * this.H).toFixed(1)} px on this ${this.H}-row picture; `
          + "the same strength on every stream of the camera";
    }
    if (style.type === "fill") {
      $("p-outline-on").checked = style.outline !== undefined && style.outline !== null;
      if ($("p-outline-on").checked) $("p-outline").value = hex(style.outline);
    }
    $("p-liftable").checked = Boolean(mask.liftable);
    $("p-grade").textContent = GRADES[style.type] || "";
    $("p-delete-vertex").disabled = this.model.vertex < 0 || !mask.polygon || mask.polygon.length <= 3;
  }
}
