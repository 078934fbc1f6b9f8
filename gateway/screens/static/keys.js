// The cashier's keyboard: every function key presses its button on the key bar, so the
// page works without a mouse. The browser's own meaning of F5/F11/F12 is suppressed here.
(function () {
  "use strict";
  var entry = document.getElementById("entry");

  function dialog() { return document.querySelector("#prompt form"); }

  function focusInput() {
    var form = dialog();
    var target = form ? (form.querySelector("input[value='']") || form.querySelector("input")) : entry;
    if (target && document.activeElement !== target) { target.focus(); }
  }

  document.addEventListener("keydown", function (e) {
    var form = dialog();
    if (form && e.key !== "Escape") { return; }  // typing in a dialog: Enter submits it
    var button = document.querySelector('.keys [data-key="' + e.key + '"]');
    if (!button) { return; }
    e.preventDefault();
    button.click();
  });

  document.body.addEventListener("htmx:afterRequest", function (e) {
    var source = e.detail.elt;
    if (e.detail.successful && source && (source.closest(".keys") || source.id === "entry-form")) {
      entry.value = "";
    }
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
