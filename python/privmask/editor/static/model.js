// The edited state: the mask list (mask objects exactly as in the JSON file), the selection,
// the painted grid cells, and the undo/redo history of all of it.

const HISTORY = 200;

export const DEFAULT_STYLE = { type: "solid", color: "#000000" };

export function polygonArea(points) {
  let twice = 0;
  for (let i = 0; i < points.length; i++) {
    const [x0, y0] = points[i];
    const [x1, y1] = points[(i + 1) % points.length];
    twice += x0 * y1 - x1 * y0;
  }
  return Math.abs(twice) / 2;
}

export class Model {
  constructor() {
    this.masks = [];
    this.selected = -1;  // index into masks
    this.vertex = -1;    // selected vertex of the selected mask
    this.cells = new Set();  // "col,row"
    this.gridSize = 16;
    this.style = { ...DEFAULT_STYLE };  // the style new masks get
    this.undoStack = [];
    this.redoStack = [];
    this.listeners = [];
    this.pending = null;  // snapshot taken when a drag began
  }

  on(fn) {
    this.listeners.push(fn);
  }

  emit(kind) {
    for (const fn of this.listeners) fn(kind);
  }

  snapshot() {
    return JSON.stringify({
      masks: this.masks,
      selected: this.selected,
      vertex: this.vertex,
      cells: [...this.cells],
      gridSize: this.gridSize,
    });
  }

  restore(text) {
    const s = JSON.parse(text);
    this.masks = s.masks;
    this.selected = s.selected;
    this.vertex = s.vertex;
    this.cells = new Set(s.cells);
    this.gridSize = s.gridSize;
  }

  remember(snapshot) {
    this.undoStack.push(snapshot);
    if (this.undoStack.length > HISTORY) this.undoStack.shift();
    this.redoStack = [];
  }

  // One undoable step: fn mutates the model.
  change(fn) {
    const before = this.snapshot();
    fn(this);
    if (this.snapshot() !== before) {
      this.remember(before);
      this.emit("change");
    } else {
      this.emit("select");
    }
  }

  // A drag: begin() before the first move, live() on every move (redraw only), end() after.
  begin() {
    this.pending = this.snapshot();
  }

  live() {
    this.emit("draw");
  }

  end() {
    if (this.pending === null) return;
    const before = this.pending;
    this.pending = null;
    if (this.snapshot() !== before) {
      this.remember(before);
      this.emit("change");
    }
  }

  undo() {
    if (!this.undoStack.length) return;
    this.redoStack.push(this.snapshot());
    this.restore(this.undoStack.pop());
    this.emit("change");
  }

  redo() {
    if (!this.redoStack.length) return;
    this.undoStack.push(this.snapshot());
    this.restore(this.redoStack.pop());
    this.emit("change");
  }

  select(index, vertex = -1) {
    this.selected = index;
    this.vertex = vertex;
    this.emit("select");
  }

  current() {
    return this.selected >= 0 ? this.masks[this.selected] : null;
  }

  // The mask set as the file holds it.
  doc() {
    return { privmask: 1, masks: JSON.parse(JSON.stringify(this.masks)) };
  }

  // Replaces the masks (e.g. a file was opened); undoable unless it is the first load.
  load(masks, { history = true } = {}) {
    const apply = (m) => {
      m.masks = JSON.parse(JSON.stringify(masks));
      m.selected = -1;
      m.vertex = -1;
    };
    if (history) {
      this.change(apply);
    } else {
      apply(this);
      this.undoStack = [];
      this.redoStack = [];
      this.emit("change");
    }
  }

  nextName() {
    const used = new Set(this.masks.map((m) => m.name));
    let n = this.masks.length + 1;
    while (used.has(`mask ${n}`)) n++;
    return `mask ${n}`;
  }

  // Adds a polygon (normalised [x, y] vertices) with the current new-mask style; selects it.
  addPolygon(points) {
    this.change((m) => {
      m.masks.push({
        name: m.nextName(),
        polygon: points,
        style: JSON.parse(JSON.stringify(m.style)),
        liftable: false,
      });
      m.selected = m.masks.length - 1;
      m.vertex = -1;
    });
  }

  append(masks) {
    this.change((m) => {
      for (const mask of masks) m.masks.push(mask);
      m.selected = m.masks.length - 1;
      m.vertex = -1;
    });
  }

  removeMask(index) {
    this.change((m) => {
      m.masks.splice(index, 1);
      m.selected = Math.min(index, m.masks.length - 1);
      m.vertex = -1;
    });
  }

  move(index, delta) {
    const to = index + delta;
    if (to < 0 || to >= this.masks.length) return;
    this.change((m) => {
      const [mask] = m.masks.splice(index, 1);
      m.masks.splice(to, 0, mask);
      m.selected = to;
      m.vertex = -1;
    });
  }

  removeVertex(index, vertex) {
    const mask = this.masks[index];
    if (!mask || !mask.polygon || mask.polygon.length <= 3) return false;
    const rest = mask.polygon.filter((_, i) => i !== vertex);
    if (polygonArea(rest) === 0) return false;
    this.change((m) => {
      m.masks[index].polygon = rest;
      m.vertex = -1;
    });
    return true;
  }

  insertVertex(index, after, point) {
    this.change((m) => {
      m.masks[index].polygon.splice(after + 1, 0, point);
      m.vertex = after + 1;
    });
  }

  // Edits the selected mask's fields; the style also becomes the style of new masks.
  edit(fn) {
    const mask = this.current();
    if (!mask) return;
    this.change((m) => {
      fn(m.masks[m.selected]);
      m.style = JSON.parse(JSON.stringify(m.masks[m.selected].style));
    });
  }
}
