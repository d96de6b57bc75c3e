// The output view of one command: it opens on the tail; "Show earlier output" fetches the
// page before the first shown (escaped HTML from the server) and puts it on top.

const view = document.getElementById("output-view");
const text = document.getElementById("output-text");
const button = document.getElementById("output-earlier");
let firstSeq = view.dataset.firstSeq;

text.scrollTop = text.scrollHeight;

button?.addEventListener("click", async () => {
  button.disabled = true;
  try {
    const url = new URL(view.dataset.pageUrl, window.location.href);
    url.searchParams.set("before", firstSeq);
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const page = await response.json();
    const template = document.createElement("template");
    template.innerHTML = page.html; // escaped by the server (webapp/runs/ansi.py)
    const height = text.scrollHeight;
    text.prepend(template.content);
    text.scrollTop += text.scrollHeight - height; // keep the reader's place
    firstSeq = page.first_seq;
    if (!page.more) {
      button.hidden = true;
      document.getElementById("output-start").hidden = false;
    }
  } finally {
    button.disabled = false;
  }
});
