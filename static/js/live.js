// The Socket.IO connection of a run page: join the run's room on every (re)connect.

/**
 * Connect, join run `runId`'s room, and report:
 * - `onEvents(batch)` for every published batch of events,
 * - `onJoined(answer)` after each successful join; `joinData()`, called before each join,
 *   adds to the join what the page asks for besides the room (webapp/runs/live.py: the
 *   changes it missed, answered with the join),
 * - `onLost()` when a join's answer will not come (the connection dropped first),
 * - `onState(state, text)`: "connecting", "live", "reconnecting", "refused", or "ended" with
 *   the server's words (the login ended, or the user may no longer see the run: the server
 *   disconnects or leaves the room, webapp/runs/revocation.py).
 */
export function connectRun(runId, { onEvents, onJoined, onState, joinData, onLost }) {
  // eslint-disable-next-line no-undef -- the vendored client defines the global `io`
  const socket = io({ transports: ["websocket", "polling"] });
  let waiting = false;
  let ended = false;
  onState("connecting");
  socket.on("connect", () => {
    waiting = true;
    socket.emit("join", { run: runId, ...(joinData ? joinData() : {}) }, (answer) => {
      waiting = false;
      if (answer && answer.ok) {
        onState("live");
        onJoined(answer);
      } else {
        onLost?.();
        onState("refused");
      }
    });
  });
  socket.on("events", onEvents);
  socket.on("access", (notice) => {
    ended = true;
    onState("ended", notice?.message);
  });
  socket.on("disconnect", () => {
    if (waiting) onLost?.();
    waiting = false;
    if (!ended) onState("reconnecting");
  });
  socket.on("connect_error", () => onState(socket.active ? "reconnecting" : "refused"));
  return socket;
}

const STATE_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "connection lost: reconnecting…",
  refused: "no live updates (not allowed or logged out): reload the page",
  ended: "live updates stopped: reload the page",
  finished: "finished",
};

/** Show the connection state in `element` (a role="status" span), or `text` for it. */
export function showState(element, state, text) {
  if (!element) return;
  element.dataset.state = state;
  element.textContent = text || STATE_TEXT[state] || state;
}
