// Every session's badge over the whole run, even when the page shows one page of its
// rows: the counts per status, the progress bar, the ETA and the "N more match" note of
// a filtered page are computed from it. It starts from the page's snapshot
// (#run-statuses, webapp/runs/feed.py) and changes with status events and join answers.

const OPEN = ["queued", "running", "stopping"];
const ANNOUNCE_EVERY = 15000; // ms between progress announcements to screen readers

export function formatDuration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export class RunStatus {
  /**
   * @param {object} snapshot `{keys: [badge keys], sessions: {ids: [...], keys: [index]}}`
   * @param {string} filter the badge a filtered page shows ("" for every row)
   * @param {(id: number) => boolean} onPage whether a session has a row on this page
   */
  constructor(snapshot, filter, onPage) {
    this.badges = new Map(); // session id → badge key
    this.seqs = new Map(); // session id → sequence number of the status applied
    this.received = new Map(); // session id → request count when its last status arrived
    this.counts = {};
    for (const key of snapshot.keys) this.counts[key] = 0;
    const { ids, keys } = snapshot.sessions;
    for (let i = 0; i < ids.length; i++) {
      const key = snapshot.keys[keys[i]];
      this.badges.set(ids[i], key);
      this.counts[key] += 1;
    }
    this.keys = snapshot.keys;
    this.total = ids.length;
    this.filter = filter;
    this.onPage = onPage;
    this.moreMatching = 0; // sessions on other pages that came to show the filter's badge
    this.doneAtLoad = this.done();
    this.loadedAt = performance.now();
    this.finished = false;
    this.dirty = true;
    this.announcedAt = performance.now(); // the page itself says where the run stands at load
    this.announcedDone = this.doneAtLoad;
  }

  /** Tell screen readers the progress politely: when the run ends, else at most every
   * ANNOUNCE_EVERY ms and only when it moved (#run-announce, a polite live region). */
  announce(done) {
    const region = document.getElementById("run-announce");
    if (!region) return;
    const ended = done >= this.total || this.finished;
    const now = performance.now();
    if (done === this.announcedDone && !(ended && !this.announcedEnd)) return;
    if (!ended && now - this.announcedAt < ANNOUNCE_EVERY) return;
    this.announcedAt = now;
    this.announcedDone = done;
    this.announcedEnd = ended;
    const problems = ["error", "failed", "stopped", "canceled"]
      .reduce((n, key) => n + (this.counts[key] || 0), 0);
    region.textContent = `${ended ? "Run finished: " : ""}${done} of ${this.total} finished`
      + (problems ? `, ${problems} unsuccessful` : "");
  }

  done() {
    return this.total - OPEN.reduce((n, key) => n + (this.counts[key] || 0), 0);
  }

  /** Session `id` shows badge `key` now. */
  set(id, key) {
    const before = this.badges.get(id);
    if (before === undefined || before === key) return;
    this.badges.set(id, key);
    this.counts[before] -= 1;
    this.counts[key] = (this.counts[key] || 0) + 1;
    if (this.filter && key === this.filter && !this.onPage(id)) this.moreMatching += 1;
    this.dirty = true;
  }

  /** A live status event with sequence number `seq`, arrived at request count `recv`:
   * false when an event with a higher number was applied already. */
  accept(id, seq, recv) {
    if (seq < (this.seqs.get(id) ?? 0)) return false;
    this.seqs.set(id, seq);
    this.received.set(id, recv);
    return true;
  }

  /** A join answer's badges (read after request `request` was sent): each one that no
   * live status event arrived for since. */
  applySnapshot(sessions, request) {
    const { ids, keys } = sessions;
    for (let i = 0; i < ids.length; i++) {
      if ((this.received.get(ids[i]) ?? -1) < request) this.set(ids[i], this.keys[keys[i]]);
    }
  }

  /** Counts, progress bar, ETA and the filtered page's note, when something changed. */
  render(force = false) {
    if (!this.dirty && !force) return;
    this.dirty = false;
    const done = this.done();
    document.getElementById("run-progress").value = done;
    document.getElementById("count-done").textContent = String(done);
    for (const el of document.querySelectorAll("[data-count]")) {
      const n = this.counts[el.dataset.count] || 0;
      el.hidden = n === 0;
      const label = el.querySelector(".badge");
      if (label) label.textContent = `${n} ${label.textContent.replace(/^\d+\s*/, "")}`;
    }
    const eta = document.getElementById("run-eta");
    const finishedHere = done - this.doneAtLoad;
    const elapsed = (performance.now() - this.loadedAt) / 1000;
    if (done >= this.total || this.finished) {
      eta.textContent = "";
    } else if (finishedHere >= 2 && elapsed > 1) {
      eta.textContent = `about ${formatDuration(((this.total - done) * elapsed) / finishedHere)} left`;
    } else {
      eta.textContent = "no estimate yet";
    }
    this.announce(done);
    const more = document.getElementById("more-matching");
    if (more && this.moreMatching) {
      more.querySelector(".more-count").textContent = `${this.moreMatching} more `
        + `object${this.moreMatching === 1 ? "" : "s"} now show “${this.filter}”.`;
      more.hidden = false;
    }
  }
}
