// The order page's live status: polls the page's JSON (data-status-url) every data-poll-ms and
// moves the timeline and the shipment block without a reload, and takes the delivery note's form away
// once the order is out for delivery.  Stops once the order is delivered,
// cancelled or refunded; polls again at once when the tab comes back into view.
(function () {
  "use strict";
  var root = document.getElementById("order");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 20000;
  var finals = { delivered: true, cancelled: true, refunded: true };
  var timer = null;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value || "\u2014"; }
  }

  function show(data) {
    root.setAttribute("data-status", data.status);
    data.steps.forEach(function (step) {
      var li = document.querySelector('#timeline li[data-step="' + step.key + '"]');
      if (!li) { return; }
      li.classList.toggle("done", step.done);
      li.classList.toggle("current", step.current);
      if (step.current) { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
      li.querySelector(".time").textContent = step.time;
    });
    text("expected", data.expected);
    text("carrier", data.carrier);
    text("tracking-number", data.tracking_number);
    var track = document.getElementById("track");
    if (track) {
      if (data.tracking_url) { track.setAttribute("href", data.tracking_url); track.hidden = false; }
      else { track.hidden = true; }
    }
    var next = document.getElementById("next");  // "write a review": once the order is delivered
    if (next) { next.hidden = data.status !== "delivered"; }
    var closed = document.getElementById("note-closed");  // the delivery note: no change once it is on its way
    var form = document.getElementById("note-form");
    if (closed && data.note_closed) { closed.textContent = data.note_closed; closed.hidden = false; }
    if (form && data.note_closed) { form.hidden = true; }
    var notice = document.getElementById("notice");
    if (notice) { notice.textContent = data.notice; notice.hidden = !data.notice; }
  }

  function schedule() {
    if (timer !== null) { clearTimeout(timer); }
    timer = finals[root.getAttribute("data-status")] ? null : setTimeout(poll, every);
  }

  function poll() {
    timer = null;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "omit", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && data.steps) { show(data); } })
      .catch(function () { /* offline for a moment: try again later */ })
      .then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !finals[root.getAttribute("data-status")]) { poll(); }
  });
  schedule();
}());
