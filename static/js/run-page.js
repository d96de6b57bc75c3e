// The run page, live: applies the run's events in sequence order per session, catches up
// over HTTP after a gap or a reconnect, and batches DOM changes per animation frame.
//
// Every event carries its session's sequence number `seq` (output events the range
// first_seq..seq). A session's row knows the highest number it shows (`data-seq`).
// - an event at or below it is shown already: dropped;
// - status events change the badge at once; output next in sequence is appended;
// - messages and commands, a gap in the numbers, or output overlapping what is shown
//   make the page fetch the session's changes (runs.events), rendered by the same macros
//   as the page. Events that arrived before that request was sent are in its answer; the
//   later ones are applied after it. So nothing is lost and nothing shown twice.

import { AnsiState, appendAnsi } from "./ansi.js";
import { connectRun, showState } from "./live.js";
import { setUpStopButtons } from "./stop.js";

const root = document.getElementById("run");
const runId = Number(root.dataset.run);
const eventsUrl = root.dataset.eventsUrl;
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const table = document.getElementById("results");
const liveState = document.getElementById("live-state");
const badgeTemplates = document.getElementById("tpl-badges").content;
const controlsTemplate = document.getElementById("tpl-term-controls").content;
const resultsTemplate = document.getElementById("tpl-results").content;

const CELL = { status: 2, proc: 3, duration: 4, results: 5 }; // the row macro's cells
const FINAL = new Set(["completed", "stopped", "canceled", "failed"]);
const TERM_LIMIT = 200_000; // characters a session's terminal keeps; older output is dropped
const HELD_LIMIT = 200_000; // characters of output a paused terminal holds back

const sessions = new Map(); // session id → state, made from its row on first use
const needsCatchUp = new Set(); // session ids to fetch changes of
let incoming = []; // received events not yet handled
let answers = []; // catch-up answers not yet applied
let requestsSent = 0;
let inFlight = false;
let retryDelay = 0;
let framePending = false;
let runFinished = root.dataset.finished === "1";
const pendingOutput = new Map(); // session state → pieces to write this frame
const stats = { events: 0, batches: 0, catchUps: 0, answered: 0, dropped: 0 };

// -- session state ----------------------------------------------------------------------

function session(id) {
  let s = sessions.get(id);
  if (s === undefined) {
    const row = document.getElementById(`s-${id}`);
    if (row === null) return null;
    s = {
      id, row,
      seq: Number(row.dataset.seq),
      status: row.dataset.status,
      proc: row.dataset.proc,
      needs: false,
      requested: 0, // the catch-up request it waits for
      buffer: [], // events held while it waits
      statusSeq: 0,
      statusRecv: -1, // when its last status event arrived (in requests sent)
      ansi: new Map(),
      paused: false,
      held: [],
    };
    sessions.set(id, s);
  }
  return s;
}

function markNeeds(s) {
  s.needs = true;
  needsCatchUp.add(s.id);
}

// -- counts, progress, ETA, durations -----------------------------------------------------

const counts = {};
for (const el of document.querySelectorAll("[data-count]")) {
  counts[el.dataset.count] = parseInt(el.textContent, 10) || 0;
}
const total = table.tBodies[0].rows.length;
const OPEN = ["queued", "running", "stopping"];
const doneAtLoad = total - OPEN.reduce((n, key) => n + (counts[key] || 0), 0);
const loadedAt = performance.now();
let countsDirty = true;

function countChange(from, to) {
  if (from === to) return;
  if (from) counts[from] = (counts[from] || 0) - 1;
  counts[to] = (counts[to] || 0) + 1;
  countsDirty = true;
}

function badge(key) {
  const template = badgeTemplates.querySelector(`[data-status="${key}"]`);
  return template ? template.cloneNode(true) : document.createTextNode(key);
}

function renderProgress() {
  if (!countsDirty) return;
  countsDirty = false;
  let done = total;
  for (const key of OPEN) done -= counts[key] || 0;
  document.getElementById("run-progress").value = done;
  document.getElementById("count-done").textContent = String(done);
  for (const el of document.querySelectorAll("[data-count]")) {
    const n = counts[el.dataset.count] || 0;
    el.hidden = n === 0;
    const label = el.querySelector(".badge");
    if (label) label.textContent = `${n} ${label.textContent.replace(/^\d+\s*/, "")}`;
  }
  const eta = document.getElementById("run-eta");
  const finishedHere = done - doneAtLoad;
  const elapsed = (performance.now() - loadedAt) / 1000;
  if (done >= total || runFinished) {
    eta.textContent = "";
  } else if (finishedHere >= 2 && elapsed > 1) {
    const seconds = ((total - done) * elapsed) / finishedHere;
    eta.textContent = `about ${formatDuration(seconds)} left`;
  } else {
    eta.textContent = "estimating the time left…";
  }
}

function formatDuration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function parseTime(text) {
  if (!text) return null;
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
}

function showDuration(row) {
  const start = parseTime(row.dataset.start);
  if (start === null) return;
  const end = parseTime(row.dataset.end) ?? Date.now();
  row.cells[CELL.duration].textContent = formatDuration(Math.max(0, end - start) / 1000);
}

const ticking = new Set(document.querySelectorAll('tr[data-proc="running"], tr[data-proc="stopping"]'));
setInterval(() => {
  for (const row of ticking) showDuration(row);
  countsDirty = true; // the ETA moves on
  renderProgress();
}, 1000);

// -- applying changes -----------------------------------------------------------------------

function setStatus(s, { status, proc, start, end }) {
  const row = s.row;
  if (status && status !== s.status) {
    countChange(s.status, status);
    s.status = status;
    row.dataset.status = status;
    row.cells[CELL.status].replaceChildren(badge(status));
  }
  if (proc && proc !== s.proc) {
    s.proc = proc;
    row.dataset.proc = proc;
    row.cells[CELL.proc].textContent = proc;
  }
  if (start) row.dataset.start = start;
  if (end) row.dataset.end = end;
  if (FINAL.has(s.proc)) {
    ticking.delete(row);
    row.querySelector(".stop-session")?.remove();
  } else if (s.proc === "running" || s.proc === "stopping") {
    ticking.add(row);
  }
  showDuration(row);
}

function statusEvent(s, e) {
  if (e.seq < s.statusSeq) return;
  s.statusSeq = e.seq;
  s.statusRecv = e._recv;
  const proc = e.proc_status;
  const status = proc === "completed" ? (e.session_status || "success")
    : proc === "initialized" ? "queued" : proc;
  setStatus(s, { status, proc, start: e.start_time, end: e.end_time });
}

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html; // rendered and escaped by the server's macros
  return template.content.firstElementChild;
}

function placeById(list, html) {
  const element = fragment(html);
  if (element === null) return;
  const existing = document.getElementById(element.id);
  if (existing) existing.replaceWith(element);
  else list.append(element);
}

/** The lists a row's details go in; rows of big runs get them when first filled. */
function results(row) {
  const cell = row.cells[CELL.results];
  if (!cell.firstElementChild) {
    cell.append(resultsTemplate.cloneNode(true));
    cell.querySelector("summary").textContent = `Output of ${row.querySelector("th").textContent}`;
  }
  return cell;
}

function applyAnswer(request, data) {
  stats.answered++;
  for (const change of data.sessions) {
    const s = session(change.id);
    if (s === null) continue;
    if (s.statusRecv < request) { // no newer status arrived live since the request
      setStatus(s, { status: change.status, proc: change.proc_status, start: change.start, end: change.end });
    }
    if (change.messages.length || change.commands.length) {
      const cell = results(s.row);
      const messages = cell.querySelector("ul.msgs");
      for (const m of change.messages) placeById(messages, m.html);
      const commands = cell.querySelector("ul.cmds");
      const terminal = cell.querySelector(".term-body");
      for (const c of change.commands) {
        placeById(commands, c.html);
        const block = fragment(c.term);
        if (block && !document.getElementById(block.id)) terminal.append(block);
        terminal.parentElement.hidden = false;
      }
    }
    if (change.output.length) queueOutput(s, change.output);
    s.seq = Math.max(s.seq, change.seq);
    s.row.dataset.seq = String(s.seq);
    if (s.requested === request) s.requested = 0;
    if (s.requested === 0) {
      const held = s.buffer;
      s.buffer = [];
      for (const e of held) {
        if (e._recv < request) { // its changes were stored before the answer was read
          s.seq = Math.max(s.seq, e.seq);
          stats.dropped++;
        } else {
          consider(s, e);
        }
      }
    }
  }
  if (data.finished) finishRun();
}

// -- output ------------------------------------------------------------------------------

function queueOutput(s, pieces) {
  const list = pendingOutput.get(s);
  if (list) list.push(...pieces);
  else pendingOutput.set(s, [...pieces]);
}

function flushOutput() {
  for (const [s, pieces] of pendingOutput) {
    if (s.paused) {
      s.held.push(...pieces);
      let size = s.held.reduce((n, p) => n + p.data.length, 0);
      while (size > HELD_LIMIT && s.held.length > 1) size -= s.held.shift().data.length;
      continue;
    }
    writeOutput(s, pieces);
  }
  pendingOutput.clear();
}

function writeOutput(s, pieces) {
  for (const piece of pieces) {
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

// -- events --------------------------------------------------------------------------------

function consider(s, e) {
  const first = e.first_seq ?? e.seq;
  if (e.seq <= s.seq) {
    stats.dropped++;
    return;
  }
  const inOrder = first === s.seq + 1;
  if (e.event === "session.output" && inOrder) {
    queueOutput(s, e.pieces);
  } else if (e.event !== "session.status" || !inOrder) {
    // messages and commands come rendered from the server; gaps are fetched
    s.buffer.push(e);
    markNeeds(s);
    return;
  }
  s.seq = e.seq;
  s.row.dataset.seq = String(s.seq);
}

function handle(e) {
  if (e.event === "run.finished") {
    finishRun();
    return;
  }
  const s = session(e.session);
  if (s === null) return;
  if (e.event === "session.status") statusEvent(s, e);
  if (s.needs || s.requested) s.buffer.push(e);
  else consider(s, e);
}

function finishRun() {
  if (runFinished) return;
  runFinished = true;
  root.dataset.finished = "1";
  document.getElementById("run-state").textContent = "finished";
  document.getElementById("stop-run")?.setAttribute("hidden", "");
  countsDirty = true;
}

function schedule() {
  if (framePending) return;
  framePending = true;
  if (document.hidden) setTimeout(frame, 100); // no animation frames in a hidden tab
  else requestAnimationFrame(frame);
}

function frame() {
  framePending = false;
  const ready = answers;
  answers = [];
  for (const { request, data } of ready) applyAnswer(request, data);
  const events = incoming;
  incoming = [];
  for (const e of events) handle(e);
  flushOutput();
  renderProgress();
  if (!inFlight && needsCatchUp.size) catchUp();
}

function receive(batch) {
  stats.batches++;
  for (const e of batch) {
    e._recv = requestsSent;
    incoming.push(e);
  }
  stats.events += batch.length;
  // a message or command is fetched rendered: ask now, not after the next frame
  for (const e of batch) {
    if (e.event !== "session.message" && e.event !== "session.command") continue;
    const s = session(e.session);
    if (s !== null && !s.needs && !s.requested && e.seq > s.seq) markNeeds(s);
  }
  if (!inFlight && needsCatchUp.size) catchUp();
  schedule();
}

function catchUp() {
  const request = ++requestsSent;
  const after = {};
  for (const id of needsCatchUp) {
    const s = session(id);
    s.needs = false;
    s.requested = request;
    after[id] = s.seq;
  }
  const ids = [...needsCatchUp];
  needsCatchUp.clear();
  inFlight = true;
  stats.catchUps++;
  fetch(eventsUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify({ after }),
    credentials: "same-origin",
  })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
    .then((data) => {
      retryDelay = 0;
      answers.push({ request, data });
      inFlight = false;
      schedule();
    })
    .catch(() => { // offline or the server restarts: ask again, a little later each time
      for (const id of ids) {
        const s = session(id);
        if (s.requested === request) {
          s.requested = 0;
          markNeeds(s);
        }
      }
      retryDelay = Math.min(5000, retryDelay * 2 || 250);
      setTimeout(() => { inFlight = false; schedule(); }, retryDelay);
    });
}

/** After each join: fetch what every unfinished session did while we were not listening. */
function joined() {
  for (const row of table.tBodies[0].rows) {
    if (FINAL.has(row.dataset.proc)) continue;
    markNeeds(session(Number(row.id.slice(2))));
  }
  schedule();
}

// -- rows of big runs: details fetched when they come into view ----------------------------

const lazyRows = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    const row = entry.target;
    lazyRows.unobserve(row);
    row.classList.remove("lazy");
    const s = session(Number(row.id.slice(2)));
    if (!s.requested) markNeeds(s);
  }
  schedule();
}, { rootMargin: "400px 0px" });
for (const row of table.querySelectorAll("tbody tr.lazy")) lazyRows.observe(row);

// -- terminal controls, filter ------------------------------------------------------------

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
  const s = session(Number(button.closest("tr").id.slice(2)));
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

document.getElementById("status-filter").addEventListener("change", (event) => {
  table.dataset.filter = event.target.value;
});

setUpStopButtons(root, csrfToken);

// -- connect -------------------------------------------------------------------------------

let socket = null;
if (runFinished) {
  showState(liveState, "finished");
} else {
  socket = connectRun(runId, {
    onEvents: receive,
    onJoined: joined,
    onState: (state) => showState(liveState, runFinished && state === "live" ? "finished" : state),
  });
}

// for the browser tests and benchmarks
window.minkeRunPage = { socket, stats, sessions };
