// The Socket.IO connection of a run page: join the run's room on every (re)connect.

/**
 * Connect, join run `runId`'s room, and report:
 * - `onEvents(batch)` for every published batch of events,
 * - `onJoined()` after each successful join (the page then catches up over HTTP),
 * - `onState(state)`: "connecting", "live", "reconnecting", "refused".
 */
export function connectRun(runId, { onEvents, onJoined, onState }) {
  // eslint-disable-next-line no-undef -- the vendored client defines the global `io`
  const socket = io({ transports: ["websocket", "polling"] });
  onState("connecting");
  socket.on("connect", () => {
    socket.emit("join", { run: runId }, (answer) => {
      if (answer && answer.ok) {
        onState("live");
        onJoined();
      } else {
        onState("refused");
      }
    });
  });
  socket.on("events", onEvents);
  socket.on("disconnect", () => onState("reconnecting"));
  socket.on("connect_error", () => onState(socket.active ? "reconnecting" : "refused"));
  return socket;
}

const STATE_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "connection lost: reconnecting…",
  refused: "no live updates (not allowed or logged out): reload the page",
  finished: "finished",
};

/** Show the connection state in `element` (a role="status" span). */
export function showState(element, state) {
  if (!element) return;
  element.dataset.state = state;
  element.textContent = STATE_TEXT[state] ?? state;
}
