// The cashier's keyboard: every function key presses its button on the key bar, so the
// page works without a mouse. The browser's own meaning of F5/F11/F12 is suppressed here.
// Shift+F2/F4/F8-F12 are the less frequent actions (coupon, price, member tenders,
// refund of chosen lines, return without receipt, no-sale).
// Key presses are sent in order, one after the other, with the entry line as it was at the
// press (a scanner or a fast cashier types the next code while the last one is on its way).
(function () {
  "use strict";
  var entry = document.getElementById("entry");
  var queue = Promise.resolve();

  function send(action, value) {
    var body = new URLSearchParams({ entry: value === undefined ? entry.value : value });
    if (value === undefined) { entry.value = ""; }
    queue = queue.then(function () {
      return fetch("/action/" + action, { method: "POST", body: body, credentials: "same-origin",
                                          headers: { "HX-Request": "true" } });
    }).catch(function () { document.body.classList.add("send-failed"); });
  }

  function dialog() { return document.querySelector("#prompt form"); }

  function focusInput() {
    var form = dialog();
    var target = form ? (form.querySelector("input[value='']") || form.querySelector("input")) : entry;
    if (target && document.activeElement !== target) { target.focus(); }
  }

  // F1 latches Shift for the next function key, for keypads and programmable POS keyboards
  // that cannot send Shift+F10 in one press: F1 then F10 is Shift+F10. F1 again, or Esc,
  // lets go of the latch.
  var latched = false;
  function latch(on) { latched = on; document.body.classList.toggle("shift-latched", on); }

  document.addEventListener("keydown", function (e) {
    if (dialog() && e.key !== "Escape") { return; }  // typing in a dialog: Enter submits it
    if (e.key === "F1") { e.preventDefault(); latch(!latched); return; }
    var fkey = /^F[0-9]+$/.test(e.key);
    // Shift + a function key is a key of its own (the rarer actions: see docs/screens.md)
    var name = ((e.shiftKey || latched) && fkey ? "Shift+" : "") + e.key;
    if (fkey || e.key === "Escape") { latch(false); }
    var button = document.querySelector('.keys [data-key="' + name + '"]');
    if (!button) { return; }
    e.preventDefault();
    send(button.dataset.action);
  });

  document.querySelector(".keys").addEventListener("click", function (e) {
    var button = e.target.closest("button[data-action]");
    if (button) { send(button.dataset.action); focusInput(); }
  });

  // Touch: tapping a basket line selects it (for F4 quantity and F5 void).
  document.getElementById("basket").addEventListener("click", function (e) {
    var row = e.target.closest("tr[data-line]");
    if (row) { send("select", row.dataset.line); focusInput(); }
  });

  document.getElementById("entry-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (entry.value.trim()) { send("enter"); }
  });

  // A dialog pushed a few milliseconds ago may not be wired by htmx yet when a fast cashier
  // presses Enter: send it through htmx anyway instead of letting the browser navigate.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !form.getAttribute("hx-post")) { return; }
    e.preventDefault();
    htmx.ajax("POST", form.getAttribute("hx-post"), { source: form, swap: "none" });
  });

  document.body.addEventListener("htmx:sseMessage", function () { focusInput(); });
  document.body.addEventListener("click", function (e) {
    if (!e.target.closest("input, button")) { focusInput(); }
  });
})();
