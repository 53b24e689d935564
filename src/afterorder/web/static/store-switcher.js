// The dashboard's store switcher: choosing a store opens it (a file, not an inline handler: the
// pages' Content-Security-Policy runs no inline script).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const select = document.querySelector("#store-switcher select");
  if (select) {
    select.addEventListener("change", () => select.form.submit());
  }
});
