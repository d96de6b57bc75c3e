// A desktop notification when the viewer's own run finishes while this tab is in the
// background (docs/notifications.md). The page loads this script only for the user who
// started the run, while it runs. The browser asks for permission once: at the first
// click or key press on the page (browsers ignore a request without one), never again
// after an answer. run-page.js dispatches "minke:run-finished" with the run's counts.
(() => {
  "use strict";
  if (!("Notification" in window)) return;
  const ASKED = "minke-desktop-notify-asked";

  function ask() {
    if (Notification.permission !== "default" || localStorage.getItem(ASKED)) return;
    localStorage.setItem(ASKED, "1");
    Notification.requestPermission().catch(() => {});
  }
  document.addEventListener("pointerdown", ask, { once: true });
  document.addEventListener("keydown", ask, { once: true });

  document.addEventListener("minke:run-finished", (event) => {
    if (Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return; // seen already
    const root = document.getElementById("run");
    const title = (root?.querySelector("h1")?.textContent ?? "").replace(/\s+/g, " ").trim();
    const counts = Object.entries(event.detail ?? {}).map(([key, n]) => `${n} ${key}`);
    const note = new Notification(`${title || "Your run"} finished`, {
      body: counts.length ? counts.join(", ") : "finished",
      tag: `minke-run-${root?.dataset.run ?? ""}`,
    });
    note.onclick = () => { window.focus(); note.close(); };
  });
})();
