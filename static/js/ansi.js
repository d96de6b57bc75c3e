// Remote output as DOM nodes: text only (never parsed as HTML), ANSI colours (SGR) as
// spans with the classes webapp/runs/ansi.py uses; every other escape is dropped.

const ESCAPE = /\x1b(?:\[([0-9;:?]*)([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)/g;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;
// an escape cut off at the end of a piece: kept for the next piece of the stream
const PARTIAL = /\x1b(\[[0-9;:?]*|\][^\x07\x1b]*)?$/;
const FLAG_ON = { 1: "bold", 2: "dim", 3: "italic", 4: "underline", 7: "inverse" };
const FLAG_OFF = { 22: ["bold", "dim"], 23: ["italic"], 24: ["underline"], 27: ["inverse"] };

// The palette's 6×6×6 colour cube (entries 16-231) and grey ramp (232-255), as
// webapp/runs/ansi.py: every colour is a class (static/css/ansi-256.css), since the
// Content-Security-Policy allows no inline styles.
const STEPS = [0, 95, 135, 175, 215, 255];

function paletteRgb(n) {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return [level, level, level];
  }
  n -= 16;
  return [STEPS[Math.floor(n / 36)], STEPS[Math.floor(n / 6) % 6], STEPS[n % 6]];
}

/** The palette entry (16-255) nearest to a 24-bit colour. */
function nearestPaletteIndex(rgb) {
  const cube = rgb.map((c) => STEPS.reduce((best, step, i) =>
    (Math.abs(step - c) < Math.abs(STEPS[best] - c) ? i : best), 0));
  const cubeIndex = 16 + 36 * cube[0] + 6 * cube[1] + cube[2];
  const mean = (rgb[0] + rgb[1] + rgb[2]) / 3;
  const greyIndex = 232 + Math.min(23, Math.max(0, Math.round((mean - 8) / 10)));
  const distance = (n) => paletteRgb(n).reduce((sum, x, i) => sum + (x - rgb[i]) ** 2, 0);
  return distance(greyIndex) < distance(cubeIndex) ? greyIndex : cubeIndex;
}

/** The graphic rendition in force, carried from one piece of a stream to the next. */
export class AnsiState {
  constructor() {
    this.fg = null; // "fg-N": the class ansi-fg-N, N from 0 to 255
    this.bg = null;
    this.flags = new Set();
    this.pending = ""; // an unfinished escape sequence
  }

  apply(params) {
    const codes = params.replace(/:/g, ";").split(";").map((p) => (/^\d+$/.test(p) ? Number(p) : 0));
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) {
        this.fg = this.bg = null;
        this.flags.clear();
      } else if (FLAG_ON[code]) {
        this.flags.add(FLAG_ON[code]);
      } else if (FLAG_OFF[code]) {
        for (const flag of FLAG_OFF[code]) this.flags.delete(flag);
      } else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
        this.fg = `fg-${code < 90 ? code - 30 : code - 82}`;
      } else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) {
        this.bg = `bg-${code < 100 ? code - 40 : code - 92}`;
      } else if (code === 39) {
        this.fg = null;
      } else if (code === 49) {
        this.bg = null;
      } else if (code === 38 || code === 48) {
        const kind = code === 38 ? "fg" : "bg";
        let colour = null;
        if (codes[i + 1] === 5 && i + 2 < codes.length) {
          colour = `${kind}-${Math.min(codes[i + 2], 255)}`;
          i += 2;
        } else if (codes[i + 1] === 2 && i + 4 < codes.length) {
          const rgb = codes.slice(i + 2, i + 5).map((c) => Math.min(255, c));
          colour = `${kind}-${nearestPaletteIndex(rgb)}`;
          i += 4;
        } else {
          i = codes.length;
        }
        if (colour !== null) this[kind] = colour;
      }
    }
  }

  isPlain() {
    return this.fg === null && this.bg === null && this.flags.size === 0;
  }

  /** A span styled like this state. */
  span() {
    const span = document.createElement("span");
    for (const flag of this.flags) span.classList.add(`ansi-${flag}`);
    for (const value of [this.fg, this.bg]) {
      if (value !== null) span.classList.add(`ansi-${value}`);
    }
    return span;
  }
}

function emit(parent, text, state) {
  text = text.replace(CONTROL, "");
  if (!text) return;
  if (state.isPlain()) {
    parent.append(text);
  } else {
    const span = state.span();
    span.textContent = text;
    parent.append(span);
  }
}

/** Append `text` to `parent` as text nodes and spans; `state` carries over between calls. */
export function appendAnsi(parent, text, state) {
  text = state.pending + text;
  state.pending = "";
  const partial = PARTIAL.exec(text);
  if (partial) {
    state.pending = partial[0];
    text = text.slice(0, partial.index);
  }
  let position = 0;
  ESCAPE.lastIndex = 0;
  for (let match = ESCAPE.exec(text); match !== null; match = ESCAPE.exec(text)) {
    emit(parent, text.slice(position, match.index), state);
    if (match[2] === "m") state.apply(match[1] || "0");
    position = match.index + match[0].length;
  }
  emit(parent, text.slice(position), state);
}
