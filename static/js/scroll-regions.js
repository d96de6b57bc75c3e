// A table wider than its box scrolls inside it (.table-wrap): such a box must be reachable
// with the keyboard (Tab, then the arrow keys scroll it) and named for screen readers.
// Boxes that fit stay out of the Tab order.
(() => {
  function mark() {
    for (const box of document.querySelectorAll(".table-wrap")) {
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        const caption = box.querySelector("caption")?.textContent.trim();
        box.setAttribute("aria-label", caption || "Table (scrolls sideways)");
      } else if (!scrolls && box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    }
  }
  mark();
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(mark);
  });
})();
