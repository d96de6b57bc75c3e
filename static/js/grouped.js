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

function changed(batch) {
  if (batch.some((e) => e.event === "session.status" || e.event === "run.finished")) {
    dirty = true;
    refresh();
  }
}

const socket = connectRun(Number(root.dataset.run), {
  onEvents: changed,
  onJoined: () => { dirty = true; refresh(); },
  onState: (state, text) => showState(liveState, state, text),
});
window.minkeRunPage = { socket };
