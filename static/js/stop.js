// Stop buttons of the run page: the first click asks in a dialog and stops softly, the
// next one kills (interrupts running commands at once). Without JavaScript the run's
// button opens the confirmation page instead.

async function postStop(url, csrfToken, { session = null, kill = false }) {
  const body = new FormData();
  body.append("csrf_token", csrfToken);
  if (session !== null) body.append("session", String(session));
  if (kill) body.append("kill", "y");
  const response = await fetch(url, {
    method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin",
  });
  if (!response.ok) {
    // 409: the run finished meanwhile; the answer says so ("run #N already finished")
    const answer = await response.json().catch(() => ({}));
    throw new Error(answer.error || `HTTP ${response.status}`);
  }
  return (await response.json()).level;
}

function confirmStop(dialog, what) {
  dialog.querySelector(".stop-what").textContent = what;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      dialog.querySelector(".stop-confirm").onclick = null;
      dialog.querySelector(".stop-cancel").onclick = null;
      resolve(answer);
    };
    dialog.querySelector(".stop-confirm").onclick = () => done(true);
    dialog.querySelector(".stop-cancel").onclick = () => done(false);
    dialog.oncancel = () => done(false);
    dialog.showModal();
    // the safe answer is the default: Enter or Escape right away stops nothing
    dialog.querySelector(".stop-cancel").focus();
  });
}

/** A button's next step: ask then stop softly (level 0), then kill (level 1). */
async function stopClicked(button, { url, csrfToken, dialog, session, what }) {
  const level = Number(button.dataset.level || 0);
  if (level >= 2) return;
  if (level === 0 && !(await confirmStop(dialog, what))) {
    button.focus(); // back to the control that opened the dialog
    return;
  }
  button.disabled = true;
  try {
    const now = await postStop(url, csrfToken, { session, kill: level >= 1 });
    button.dataset.level = String(now);
    if (now >= 2) {
      button.textContent = "Killing…";
    } else {
      button.textContent = "Kill";
      button.setAttribute("aria-label", `Kill ${what}: interrupt running commands now`);
      button.classList.add("kill");
      button.disabled = false;
      button.focus(); // the next step, Kill, is where the Stop was
    }
  } catch (error) {
    button.disabled = false;
    button.title = `Stopping failed: ${error.message}`;
    button.focus();
  }
}

export function setUpStopButtons(root, csrfToken) {
  const dialog = document.getElementById("stop-dialog");
  if (!dialog) return; // the user may not stop this run
  const url = root.dataset.stopUrl;
  const runButton = document.getElementById("stop-run");
  runButton?.closest("form").addEventListener("submit", (event) => {
    event.preventDefault();
    stopClicked(runButton, { url, csrfToken, dialog, session: null, what: `run #${root.dataset.run}` });
  });
  root.addEventListener("click", (event) => {
    const button = event.target.closest(".stop-session");
    if (!button) return;
    const label = button.closest("tr").querySelector("th").textContent;
    stopClicked(button, { url, csrfToken, dialog, session: Number(button.dataset.session), what: label });
  });
}
