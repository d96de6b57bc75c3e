// The grouped-output view, live: when sessions change, fetch the groups again (at most
// one request at a time, at most every half second).

import { connectRun, showState } from "./live.js";

const root = document.getElementById("run");
const groups = document.getElementById("groups");
const liveState = document.getElementById("live-state");
let dirty = false;
let busy = false;

async function refresh() {
  if (busy || !dirty) return;
  busy = true;
  dirty = false;
  try {
    const response = await fetch(root.dataset.fragmentUrl, { headers: { Accept: "text/html" } });
    if (response.ok) groups.innerHTML = await response.text(); // rendered and escaped by the server
    else dirty = true;
  } catch {
    dirty = true;
  } finally {
    setTimeout(() => { busy = false; refresh(); }, 500);
  }
}

let finished = root.dataset.finished === "1";

function changed(batch) {
  if (batch.some((e) => e.event === "run.finished")) {
    finished = true;
    showState(liveState, "finished");
  }
  if (batch.some((e) => e.event === "session.status" || e.event === "run.finished")) {
    dirty = true;
    refresh();
  }
}

// a finished run changes no more: no connection, the page says so
const socket = finished ? null : connectRun(Number(root.dataset.run), {
  onEvents: changed,
  onJoined: () => { dirty = true; refresh(); },
  onState: (state, text) => showState(liveState, finished && state === "live" ? "finished" : state, text),
});
if (finished) showState(liveState, "finished");
const changedOnly = document.getElementById("changed-filter"); // the server filters
changedOnly?.addEventListener("change", () => changedOnly.form.submit());
window.minkeRunPage = { socket };
