// What changed since the previous run (webapp/changes.py) on the run page: the mark of a
// session that completes live, the counts per mark, the filter "only objects whose output
// changed", and the diff a mark opens in its row. Without JavaScript a mark links to the
// diff's own page. Remote text (commands, output) goes into the DOM as text only.

const TITLES = {
  changed: "output changed since the previous run: show the diff",
  unchanged: "output unchanged since the previous run: show the comparison",
  new: "new: no earlier completed run of this session on this object",
};

let changesUrl = ""; // of session 0: the page's data-changes-url
const counted = new Set(); // sessions whose mark the counts include

function markElement(sessionId, change) {
  const mark = document.createElement(change === "new" ? "span" : "a");
  mark.className = `change-mark change-${change}`;
  mark.dataset.change = change;
  mark.title = TITLES[change] ?? change;
  mark.textContent = change;
  if (change !== "new") mark.href = changesUrl.replace("/sessions/0/", `/sessions/${sessionId}/`);
  return mark;
}

function count(change) {
  const counts = document.getElementById("change-counts");
  const number = counts?.querySelector(`[data-change-count="${change}"] strong`);
  if (!number) return;
  number.textContent = String(Number(number.textContent) + 1);
  counts.hidden = false;
}

/** A session's mark arrived (its status event, or a catch-up answer). */
export function showChange(sessionId, change) {
  if (!change) return;
  if (!counted.has(sessionId)) {
    counted.add(sessionId);
    count(change);
  }
  const row = document.getElementById(`s-${sessionId}`);
  if (row === null) return;
  row.dataset.change = change;
  const place = row.cells[2]; // the status cell, after the badge (templates/runs/_macros.html)
  const shown = place.querySelector(".change-mark");
  if (shown?.dataset.change === change) return;
  shown?.remove();
  place.append(markElement(sessionId, change));
}

function line(text) {
  const span = document.createElement("span");
  const first = text.charAt(0);
  span.className = text.startsWith("@@") ? "diff-hunk"
    : text.startsWith("+++") || text.startsWith("---") ? "diff-file"
      : first === "+" ? "diff-add" : first === "-" ? "diff-del" : "diff-same";
  span.textContent = `${text}\n`;
  return span;
}

function code(text) {
  const element = document.createElement("code");
  element.textContent = `$ ${text}`;
  return element;
}

function renderDiff(answer) {
  const box = document.createElement("div");
  box.className = "change-diff";
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", "Output compared with the previous run");
  const head = document.createElement("p");
  if (answer.previous === null) {
    head.textContent = "Nothing to compare with: no earlier completed run of this session on this object.";
  } else if (answer.previous.hidden) {
    head.textContent = `The previous run (#${answer.previous.run}) is another user's: its output is not shown.`;
  } else {
    head.textContent = `Compared with run #${answer.previous.run}:`;
  }
  box.append(head);
  for (const c of answer.commands) {
    const item = document.createElement("div");
    item.className = `change-command change-command-${c.mark.replace(" ", "-")}`;
    const title = document.createElement("p");
    title.append(code(c.command ?? c.previous_command ?? ""), ` — ${c.mark}`);
    item.append(title);
    if (c.diff.length) {
      const pre = document.createElement("pre");
      pre.className = "diff";
      for (const text of c.diff) pre.append(line(text));
      item.append(pre);
    }
    if (c.cut) {
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = "Cut: only the start of a long output is compared here; download both outputs to see all of it.";
      item.append(note);
    }
    box.append(item);
  }
  return box;
}

async function openDiff(mark) {
  const row = mark.closest("tr");
  const place = row.cells[5];
  const open = place.querySelector(".change-diff");
  if (open) { // a second click closes it
    open.remove();
    mark.setAttribute("aria-expanded", "false");
    return;
  }
  mark.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(mark.href, {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    place.prepend(renderDiff(await response.json()));
    mark.setAttribute("aria-expanded", "true");
  } catch {
    window.location.href = mark.href; // the diff's own page says what went wrong
  } finally {
    mark.removeAttribute("aria-busy");
  }
}

export function setUpChanges(root, table) {
  changesUrl = root.dataset.changesUrl;
  for (const row of table.tBodies[0].rows) {
    if (row.dataset.change) counted.add(Number(row.id.slice(2)));
  }
  table.addEventListener("click", (event) => {
    const mark = event.target.closest("a.change-mark");
    if (mark === null || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    openDiff(mark);
  });
  const filter = document.getElementById("changed-filter");
  // the server filters (rows of other pages too); submit() skips the page's submit handler
  filter?.addEventListener("change", () => filter.form.submit());
}
