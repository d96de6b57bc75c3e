// A queued run's place ("queued: 2nd in line, behind run #5; …") on the run page.
// `run.queue` events carry only the position (every viewer of the run gets them); the
// text, which names only the runs this viewer may see, comes from runs.queue.

/** Keep `element` (#run-queue) current; `update(position)`: null = the run started,
 * a number = it moved, undefined = ask (after a reconnect). */
export function watchQueue(element) {
  let asking = null;
  let again = false;
  function ask() {
    if (asking) { again = true; return; }
    asking = fetch(element.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
      .then((data) => {
        element.textContent = data.queue ? data.queue.text : "";
        element.hidden = !data.queue;
      })
      .catch(() => {}) // the next event or reconnect asks again
      .finally(() => {
        asking = null;
        if (again) { again = false; ask(); }
      });
  }
  return {
    update(position) {
      if (position === null) {
        element.hidden = true;
      } else if (position !== undefined || !element.hidden) {
        ask();
      }
    },
  };
}
