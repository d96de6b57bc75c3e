// The run page, live: applies the run's events in sequence order per session, catches up
// after a gap or a reconnect, and batches DOM changes per animation frame.
//
// Every event carries its session's sequence number `seq` (output events the range
// first_seq..seq). A session's row knows the highest number it shows (`data-seq`).
// - an event at or below it is shown already: dropped;
// - status events change the badge at once (rows on other pages of a big run: the counts);
// - the next event in sequence is shown: a message as the HTML it carries (rendered by
//   the page's own message macro, webapp/runs/fragments.py), a command filled into the
//   command the page rendered (#tpl-command), output appended to its terminal;
// - a gap in the numbers, or an event the page cannot show by itself, makes the page fetch
//   the session's changes (runs.events), rendered by the same macros. Events that arrived
//   before that request was sent are in its answer; the later ones are applied after it.
// Joining the run's room asks the same question for every unfinished row (the answer
// comes with the join's acknowledgement). So nothing is lost and nothing shown twice.

import { setUpChanges, showChange } from "./changes.js";
import { connectRun, showState } from "./live.js";
import { watchQueue } from "./run-queue.js";
import { RunStatus, formatDuration } from "./run-status.js";
import { setUpStopButtons } from "./stop.js";
import { fillTails, setUpTerminals, showOutput } from "./terminal.js";

performance.mark("minke-script");
const root = document.getElementById("run");
const runId = Number(root.dataset.run);
const eventsUrl = root.dataset.eventsUrl;
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const table = document.getElementById("results");
const liveState = document.getElementById("live-state");
const badgeTemplates = document.getElementById("tpl-badges").content;
const commandTemplate = document.getElementById("tpl-command").content;
const termTemplate = document.getElementById("tpl-term").content;

const CELL = { status: 2, proc: 3, duration: 4, results: 5 }; // the row macro's cells
const FINAL = new Set(["completed", "stopped", "canceled", "failed"]);
const PLACEHOLDER_URL = "/sessions/0/commands/0"; // in #tpl-command's links
const MESSAGE_BLOCK = 100; // messages per list (templates/runs/_macros.html)

const sessions = new Map(); // session id → state of its row, made on first use
const needsCatchUp = new Set(); // session ids to fetch changes of
let incoming = []; // received events not yet handled
let answers = []; // catch-up answers not yet applied
let requestsSent = 0;
let joinRequest = 0; // the join whose answer is awaited
let joinedOnce = false;
let inFlight = false;
let retryDelay = 0;
let framePending = false;
const touched = new Set(); // sessions whose row's data-seq to write this frame
const pendingOutput = new Map(); // session state → pieces to write this frame
const pendingMessages = new Map(); // session state → message HTML to insert this frame
const stats = { events: 0, batches: 0, catchUps: 0, answered: 0, dropped: 0 };

const run = new RunStatus(JSON.parse(document.getElementById("run-statuses").textContent),
  table.dataset.filter, (id) => document.getElementById(`s-${id}`) !== null);
run.finished = root.dataset.finished === "1";

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
      liveCommands: new Set(), // commands that started while the page watched
      stderr: new Set(), // of those, the ones that wrote to stderr
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

function advance(s, seq) {
  s.seq = Math.max(s.seq, seq);
  touched.add(s);
}

// -- durations -----------------------------------------------------------------------------

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
  run.render(true); // the ETA moves on
}, 1000);

// -- applying changes -----------------------------------------------------------------------

function badge(key) {
  const template = badgeTemplates.querySelector(`[data-status="${key}"]`);
  return template ? template.cloneNode(true) : document.createTextNode(key);
}

function setStatus(id, { status, proc, start, end, change }) {
  if (status) run.set(id, status);
  const s = session(id);
  if (s === null) { // a row of another page: counted only
    showChange(id, change);
    return;
  }
  const row = s.row;
  if (status && status !== s.status) {
    s.status = status;
    row.dataset.status = status;
    row.cells[CELL.status].replaceChildren(badge(status));
  }
  if (proc && proc !== s.proc) {
    s.proc = proc;
    row.dataset.proc = proc;
    row.cells[CELL.proc].textContent = proc;
  }
  showChange(id, change); // output changed / unchanged / new, once completed (after the badge)
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

function statusEvent(e) {
  if (!run.accept(e.session, e.seq, e._recv)) return;
  // the badge comes from the server (webapp/status.py), as in the join's catch-up
  setStatus(e.session, { status: e.status, proc: e.proc_status, start: e.start_time,
                         end: e.end_time, change: e.change });
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

function cell(s) {
  return s.row.cells[CELL.results];
}

/** The list the session's next message goes in: its last, unless that one is full. */
function messageBlock(s, adding) {
  const messages = cell(s).querySelector(".msgs");
  let block = messages.lastElementChild;
  if (block === null || block.childElementCount + adding > MESSAGE_BLOCK) {
    block = document.createElement("ul");
    block.className = "msg-block";
    messages.append(block);
  }
  return block;
}

/** Messages (HTML of the message macro) in sequence order, after the ones shown. */
function appendMessages(s, html) {
  for (let i = 0; i < html.length; i += MESSAGE_BLOCK) {
    const part = html.slice(i, i + MESSAGE_BLOCK);
    messageBlock(s, part.length).insertAdjacentHTML("beforeend", part.join(""));
  }
}

/** A message of a catch-up answer: replaces the one with its id, if shown. */
function placeMessage(s, html) {
  const element = fragment(html);
  if (element === null) return;
  const existing = document.getElementById(element.id);
  if (existing) existing.replaceWith(element);
  else messageBlock(s, 1).append(element);
}

/** A command that started (`command`) or ended (`command_seq`); false if the page lacks
 * what it needs (the command's item), so the session's changes are fetched instead. */
function showCommand(s, e) {
  if (e.command !== undefined) {
    const item = commandTemplate.firstElementChild.cloneNode(true);
    item.id = `c-${s.id}-${e.seq}`;
    item.querySelector(".cmdline").textContent = `$ ${e.command}`;
    for (const link of item.querySelectorAll("a")) {
      link.href = link.getAttribute("href").replace(PLACEHOLDER_URL,
        `/sessions/${s.id}/commands/${e.seq}`);
    }
    cell(s).querySelector("ul.cmds").append(item);
    const block = termTemplate.firstElementChild.cloneNode(true);
    block.id = `t-${s.id}-${e.seq}`;
    block.querySelector(".term-prompt").textContent = `$ ${e.command}`;
    const terminal = cell(s).querySelector(".term-body");
    terminal.append(block);
    terminal.parentElement.hidden = false;
    s.liveCommands.add(e.seq);
    return true;
  }
  const item = document.getElementById(`c-${s.id}-${e.command_seq}`);
  if (item === null) return false;
  item.className = `cmd cmd-${e.status}`;
  const code = item.querySelector(".exit-code");
  code.className = e.exit_code ? "exit-code bad" : "exit-code";
  code.textContent = `exit ${e.exit_code ?? "?"}`;
  if (e.exit_code !== null && s.liveCommands.has(e.command_seq) && !s.stderr.has(e.command_seq)) {
    item.querySelector(".stderr-link")?.remove(); // as the page renders a command without stderr
  }
  return true;
}

function applyAnswer(request, data) {
  stats.answered++;
  if (data.statuses) run.applySnapshot(data.statuses, request);
  for (const change of data.sessions ?? []) {
    const s = session(change.id);
    if (s === null) continue;
    if ((run.received.get(s.id) ?? -1) < request) { // no newer status arrived live since
      setStatus(s.id, { status: change.status, proc: change.proc_status, start: change.start, end: change.end,
                        change: change.change });
    }
    for (const m of change.messages) placeMessage(s, m.html);
    const commands = cell(s).querySelector("ul.cmds");
    const terminal = cell(s).querySelector(".term-body");
    for (const c of change.commands) {
      placeById(commands, c.html);
      const block = fragment(c.term);
      if (block && !document.getElementById(block.id)) terminal.append(block);
      terminal.parentElement.hidden = false;
    }
    for (const piece of change.output) if (piece.stream === "stderr") s.stderr.add(piece.command_seq);
    if (change.output.length) queueOutput(s, change.output);
    advance(s, change.seq);
    if (s.requested === request) s.requested = 0;
    if (s.requested === 0) {
      const held = s.buffer;
      s.buffer = [];
      for (const e of held) {
        if (e._recv < request) { // its changes were stored before the answer was read
          advance(s, e.seq);
          stats.dropped++;
        } else {
          consider(s, e);
        }
      }
    }
  }
  if (data.finished) finishRun();
}

// -- events --------------------------------------------------------------------------------

function queueOutput(s, pieces) {
  const list = pendingOutput.get(s);
  if (list) list.push(...pieces);
  else pendingOutput.set(s, [...pieces]);
}

function queueMessage(s, html) {
  const list = pendingMessages.get(s);
  if (list) list.push(html);
  else pendingMessages.set(s, [html]);
}

function hold(s, e) {
  s.buffer.push(e);
  markNeeds(s);
}

function consider(s, e) {
  const first = e.first_seq ?? e.seq;
  if (e.seq <= s.seq) {
    stats.dropped++;
    return;
  }
  if (first !== s.seq + 1) { // a gap: fetched
    hold(s, e);
    return;
  }
  if (e.event === "session.output") {
    for (const piece of e.pieces) if (piece.stream === "stderr") s.stderr.add(piece.command_seq);
    queueOutput(s, e.pieces);
  } else if (e.event === "session.message") {
    if (e.html === undefined) { // published by a process without the page's templates
      hold(s, e);
      return;
    }
    queueMessage(s, e.html);
  } else if (e.event === "session.command" && !showCommand(s, e)) {
    hold(s, e);
    return;
  }
  advance(s, e.seq);
}

const queue = watchQueue(document.getElementById("run-queue"));

function handle(e) {
  if (e.event === "run.finished") {
    finishRun(e.summary);
    return;
  }
  if (e.event === "run.queue") { // what the viewer may see of it: asked over HTTP
    queue.update(e.position);
    return;
  }
  if (e.event === "session.status") statusEvent(e);
  const s = session(e.session);
  if (s === null) return; // a row of another page: only its status counts
  if (s.needs || s.requested) s.buffer.push(e);
  else consider(s, e);
}

function finishRun(summary = null) {
  if (run.finished) return;
  // desktop-notify.js (loaded for the run's own user) tells a tab in the background
  document.dispatchEvent(new CustomEvent("minke:run-finished", { detail: summary }));
  run.finished = true;
  run.dirty = true;
  root.dataset.finished = "1";
  document.getElementById("run-state").textContent = "finished";
  if (liveState.dataset.state === "live") showState(liveState, "finished");
  document.getElementById("stop-run")?.setAttribute("hidden", "");
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
  for (const [s, html] of pendingMessages) appendMessages(s, html);
  pendingMessages.clear();
  for (const [s, pieces] of pendingOutput) showOutput(s, pieces);
  pendingOutput.clear();
  for (const s of touched) s.row.dataset.seq = String(s.seq);
  touched.clear();
  run.render();
  if (joinedOnce && !inFlight && needsCatchUp.size) catchUp();
}

function receive(batch) {
  stats.batches++;
  for (const e of batch) {
    e._recv = requestsSent;
    incoming.push(e);
  }
  stats.events += batch.length;
  schedule();
}

/** Take the sessions waiting for a catch-up into request `request`: their numbers. */
function ask(request, ids) {
  const after = {};
  for (const id of ids) {
    const s = session(id);
    s.needs = false;
    s.requested = request;
    after[id] = s.seq;
    needsCatchUp.delete(id);
  }
  stats.catchUps++;
  return after;
}

/** Put the sessions of a request that got no answer back in line. */
function unask(request) {
  for (const s of sessions.values()) {
    if (s.requested !== request) continue;
    s.requested = 0;
    markNeeds(s);
  }
}

function catchUp() {
  const request = ++requestsSent;
  const after = ask(request, [...needsCatchUp]);
  inFlight = true;
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
      unask(request);
      retryDelay = Math.min(5000, retryDelay * 2 || 250);
      setTimeout(() => { inFlight = false; schedule(); }, retryDelay);
    });
}

/** What a join asks besides the room: the changes of every unfinished row and of rows
 * waiting for a catch-up, and every session's badge when some are on other pages. */
function joinData() {
  joinRequest = ++requestsSent;
  const ids = new Set(needsCatchUp);
  for (const row of table.tBodies[0].rows) {
    const s = session(Number(row.id.slice(2)));
    if (!FINAL.has(row.dataset.proc) && !s.requested) ids.add(s.id);
  }
  return { after: ask(joinRequest, ids), statuses: root.dataset.paged === "1" };
}

function joined(answer) {
  performance.mark("minke-joined");
  joinedOnce = true;
  queue.update(undefined); // it may have moved while the page was away
  answers.push({ request: joinRequest, data: answer });
  joinRequest = 0;
  frame(); // now: the row's state may be final already
}

function joinLost() {
  if (joinRequest) unask(joinRequest);
  joinRequest = 0;
}

// -- filter, terminals, stop buttons ----------------------------------------------------------

const filter = document.getElementById("status-filter");
filter.addEventListener("change", () => {
  if (root.dataset.paged === "1") { // rows of other pages: the server filters
    document.getElementById("filter-form").requestSubmit();
  } else {
    table.dataset.filter = filter.value;
  }
});
document.getElementById("filter-form").addEventListener("submit", (event) => {
  if (root.dataset.paged !== "1") event.preventDefault();
});

setUpTerminals(table, document.getElementById("tpl-term-controls").content,
  (row) => session(Number(row.id.slice(2))));
fillTails(table, (row) => session(Number(row.id.slice(2))));
setUpStopButtons(root, csrfToken);
setUpChanges(root, table);

// -- connect -------------------------------------------------------------------------------

let socket = null;
if (run.finished) {
  showState(liveState, "finished");
} else {
  socket = connectRun(runId, {
    onEvents: receive,
    joinData,
    onJoined: joined,
    onLost: joinLost,
    onState: (state, text) =>
      showState(liveState, run.finished && state === "live" ? "finished" : state, text),
  });
}
run.render();

// for the browser tests and benchmarks
window.minkeRunPage = { socket, stats, sessions, run };
