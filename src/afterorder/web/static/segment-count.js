// The segments page: counts the members of the condition being typed, as it is typed.
// The count URL comes from the form's data-count-url.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("segment-form"), box = document.getElementById("definition"),
        out = document.getElementById("live-count"), why = document.getElementById("live-error");
  if (!form || !box || !out || !why) {
    return;
  }
  let timer = null;
  async function count() {
    const r = await fetch(form.dataset.countUrl + "?definition=" + encodeURIComponent(box.value));
    const body = await r.json();
    out.textContent = r.ok ? body.count : "–";
    why.textContent = r.ok ? "" : body.error;
  }
  box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(count, 300); });
  count();
});
