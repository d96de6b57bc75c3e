// Object lists: "select this page" and "select all N matching" for the run form.
// The number of matching objects comes from the form's data-total attribute.
(() => {
  const form = document.getElementById("run-form");
  const all = document.getElementById("select-all-matching");
  const page = document.getElementById("select-page");
  const count = document.getElementById("selected-count");
  const session = document.getElementById("session");
  const button = document.getElementById("run-button");
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
    if (page) {
      const onPage = boxes().length;
      page.checked = onPage > 0 && ticked === onPage;
      page.indeterminate = !all.checked && ticked > 0 && ticked < onPage;
    }
    // "Run…" when a further page follows (a form, a confirmation, all matching objects,
    // the hosts of groups), "Run" when the click starts the run
    if (button && session) {
      const option = session.selectedOptions[0];
      const step = !option || !option.value || option.dataset.step || all.checked ||
        button.dataset.alwaysStep;
      button.textContent = step ? button.dataset.step : button.dataset.direct;
    }
  }
  page?.addEventListener("change", () => { boxes().forEach((box) => { box.checked = page.checked; }); update(); });
  form.addEventListener("change", update);
  update();
})();
