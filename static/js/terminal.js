// A session's terminal on the run page: live output appended to its commands' blocks,
// the newest TERM_LIMIT characters kept, "follow" and "pause" controls.

import { AnsiState, appendAnsi } from "./ansi.js";

const TERM_LIMIT = 200_000; // characters a session's terminal keeps; older output is dropped
const HELD_LIMIT = 200_000; // characters of output a paused terminal holds back
const TAIL_LINES = 4; // lines of a row's live tail (its newest output, in the row itself)
const TAIL_CHARS = 4_000; // characters of output the tail is cut from
// eslint-disable-next-line no-control-regex -- terminal escape sequences are control text
const ESCAPES = /\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()][0-9A-Za-z]|\x1b.|\r(?!\n)|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]/g;

/** The newest TAIL_LINES lines of `text`, without escape sequences. */
function lastLines(text) {
  const lines = text.replace(ESCAPES, "").replace(/\n+$/, "").split("\n");
  return lines.slice(-TAIL_LINES).join("\n");
}

/** Show the row's newest output in its tail (the row's <pre class="tail">). */
function updateTail(s, added) {
  const tail = s.row.querySelector(".tail");
  if (tail === null) return;
  s.tailText = ((s.tailText ?? "") + added).slice(-TAIL_CHARS);
  tail.textContent = lastLines(s.tailText);
  tail.hidden = tail.textContent === "";
}

/** Fill the tails of the rows in `table` from the output the page was rendered with. */
export function fillTails(table, sessionOfRow) {
  for (const tail of table.querySelectorAll(".tail")) {
    const row = tail.closest("tr");
    const outputs = row.querySelectorAll(".term-out");
    if (!outputs.length) continue;
    const text = [...outputs].map((pre) => pre.textContent).join("").slice(-TAIL_CHARS);
    if (text) updateTail(sessionOfRow(row), text);
  }
}

/** Write output pieces (command_seq, stream, data, omitted) into session `s`'s terminal,
 * or hold them back while it is paused. `s` keeps the terminal's state: ansi, paused, held,
 * termSize. */
export function showOutput(s, pieces) {
  if (s.paused) {
    s.held.push(...pieces);
    let size = s.held.reduce((n, p) => n + p.data.length, 0);
    while (size > HELD_LIMIT && s.held.length > 1) size -= s.held.shift().data.length;
    return;
  }
  writeOutput(s, pieces);
}

function writeOutput(s, pieces) {
  let added = "";
  for (const piece of pieces) {
    added += piece.data;
    const block = document.getElementById(`t-${s.id}-${piece.command_seq}`);
    if (block === null) continue;
    const pre = block.querySelector(".term-out");
    if (piece.omitted) {
      const note = document.createElement("span");
      note.className = "term-omitted";
      note.textContent = "… earlier output not shown (see stdout / stderr)\n";
      pre.append(note);
    }
    const key = `${piece.command_seq}:${piece.stream}`;
    let state = s.ansi.get(key);
    if (!state) s.ansi.set(key, (state = new AnsiState()));
    const span = document.createElement("span");
    span.className = `term-${piece.stream}`;
    appendAnsi(span, piece.data, state);
    pre.append(span);
    s.termSize = (s.termSize || 0) + piece.data.length;
  }
  if (added) updateTail(s, added);
  const body = s.row.querySelector(".term-body");
  if (body === null) return;
  while (s.termSize > TERM_LIMIT) { // keep the newest output: drop the oldest spans
    const oldest = body.querySelector(".term-out > span");
    if (!oldest) break;
    s.termSize -= oldest.textContent.length;
    oldest.remove();
  }
  const details = s.row.querySelector("details.term");
  if (details.open && details.querySelector(".term-follow")?.checked !== false) {
    body.scrollTop = body.scrollHeight;
  }
}

/** Follow and pause controls of every terminal in `table`; `sessionOfRow(row)` gives the
 * state of a row's session. */
export function setUpTerminals(table, controlsTemplate, sessionOfRow) {
  table.addEventListener("toggle", (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) return;
    if (!details.querySelector(".term-controls")) {
      details.querySelector("summary").after(controlsTemplate.cloneNode(true));
    }
    const body = details.querySelector(".term-body");
    body.scrollTop = body.scrollHeight;
  }, true);

  table.addEventListener("click", (event) => {
    const button = event.target.closest(".term-pause");
    if (!button) return;
    const s = sessionOfRow(button.closest("tr"));
    s.paused = !s.paused;
    button.setAttribute("aria-pressed", String(s.paused));
    button.textContent = s.paused ? "Resume" : "Pause";
    button.parentElement.querySelector(".term-paused").hidden = !s.paused;
    if (!s.paused && s.held.length) {
      const held = s.held;
      s.held = [];
      writeOutput(s, held);
    }
  });
}
