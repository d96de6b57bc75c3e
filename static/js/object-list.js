// Object lists: "select this page" and "select all N matching" for the run form.
// The number of matching objects comes from the form's data-total attribute.
(() => {
  const form = document.getElementById("run-form");
  const all = document.getElementById("select-all-matching");
  const page = document.getElementById("select-page");
  const count = document.getElementById("selected-count");
  if (!form || !all) return;
  const boxes = () => [...form.querySelectorAll('input[name="ids"]')];
  const total = Number(form.dataset.total);
  let wasAll = false;
  function update() {
    if (all.checked !== wasAll) boxes().forEach((box) => { box.checked = all.checked; });
    wasAll = all.checked;
    boxes().forEach((box) => { box.disabled = all.checked; });
    if (page) page.disabled = all.checked;
    const ticked = boxes().filter((box) => box.checked).length;
    count.textContent = all.checked ? `all ${total} selected` : ticked ? `${ticked} selected` : "";
  }
  page?.addEventListener("change", () => { boxes().forEach((box) => { box.checked = page.checked; }); update(); });
  form.addEventListener("change", update);
  update();
})();
