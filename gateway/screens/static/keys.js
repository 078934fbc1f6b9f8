// The cashier's keyboard: every function key presses its button on the key bar, so the
// page works without a mouse. The browser's own meaning of F5/F11/F12 is suppressed here.
// Shift+F2-F12 are the less frequent actions (coupon, search, price, quick keys, open
// price, age check, member tenders, refund of chosen lines, return without receipt,
// no-sale); Ctrl+F2 a discount on the whole sale (整单折扣), Ctrl+F6 / Ctrl+F7 paid in / out, Ctrl+F8 / Ctrl+F9 top-ups, Ctrl+F10-F12
// the stock mode; Ctrl+P prints a receipt again (the browser's print dialog is suppressed).
// Key presses are sent in order, one after the other, with the entry line as it was at the
// press (a scanner or a fast cashier types the next code while the last one is on its way).
(function () {
  "use strict";
  var entry = document.getElementById("entry");
  var queue = Promise.resolve();

  // the till is not answering (live.js): nothing is sent, nothing is queued for later
  function live() { return document.body.hasAttribute("data-live"); }

  function send(action, value) {
    if (!live()) { return; }
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
    // the cashier is typing in the open dialog: another part of the page being pushed
    // (a live weight, a device's health) must not move the cursor
    if (form && form.contains(document.activeElement)) { return; }
    // a dialog without inputs (the drawer's figures after a close, the age check): its OK
    // button, so Enter reads them away
    var target = form ? (form.querySelector("input[value='']:not([type=hidden])") ||
                         form.querySelector("input:not([type=hidden])") ||
                         form.querySelector("button[type=submit]")) : entry;
    if (target && document.activeElement !== target) {
      target.focus();
      if (form && target.value) { target.select(); }  // typing or scanning replaces it
    }
  }

  // F1 latches Shift for the next function key, for keypads and programmable POS keyboards
  // that cannot send Shift+F10 in one press: F1 then F10 is Shift+F10. F1 again, or Esc,
  // lets go of the latch.
  var latched = false;
  function latch(on) { latched = on; document.body.classList.toggle("shift-latched", on); }

  document.addEventListener("keydown", function (e) {
    if (!live()) { e.preventDefault(); return; }  // the till is gone: no input
    // Ctrl+P is the till's print again (below), never the browser's print dialog, also
    // while a dialog is open (where it does nothing)
    if (e.ctrlKey && !e.altKey && (e.key === "p" || e.key === "P")) { e.preventDefault(); }
    if (dialog() && e.key !== "Escape") { return; }  // typing in a dialog: Enter submits it
    // a character typed while the cursor is nowhere (a dialog just closed, before the next
    // push puts it back on the entry line) belongs on the entry line, not lost
    if (e.key.length === 1 && !e.ctrlKey && !e.altKey && !e.metaKey &&
        document.activeElement !== entry && !(document.activeElement &&
        document.activeElement.tagName === "INPUT")) { entry.focus(); return; }
    if (e.key === "F1") { e.preventDefault(); latch(!latched); return; }
    var fkey = /^F[0-9]+$/.test(e.key);
    // Shift + a function key is a key of its own (the rarer actions: see docs/screens.md);
    // Ctrl + a function key: the cash movements (paid in / out), rarer still; Ctrl + a
    // letter too (Ctrl+P: print again)
    var name = (fkey && e.ctrlKey ? "Ctrl+" : (e.shiftKey || latched) && fkey ? "Shift+" : "") + e.key;
    if (e.ctrlKey && !e.altKey && /^[a-z]$/i.test(e.key)) { name = "Ctrl+" + e.key.toUpperCase(); }
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

  // The refund-lines dialog lists the receipt's lines, each with how many to refund:
  // digits type it, Space takes all that is left of the line (again: none), + and - one
  // more or one less, up and down go to the next line, Enter refunds. A tap on a line does
  // what Space does and its - + buttons what the keys do. The lane checks what is sent.
  function pickRow(element) { return element.closest(".receipt-lines tr[data-line]"); }

  function choose(row, value) {
    var input = row.querySelector("input");
    if (!input) { return; }
    input.value = value;
    row.classList.toggle("chosen", value.trim() !== "");
    picked(row);
  }

  // what is picked so far goes to the hub for the customer's display (the lane gets the
  // picks with OK and checks them then); sent a moment after the last change
  var pickTimer = null;
  function picked(row) {
    var body = row.closest("tbody");
    clearTimeout(pickTimer);
    pickTimer = setTimeout(function () {
      var picks = [];
      body.querySelectorAll("tr[data-line] input").forEach(function (input) {
        if (input.value.trim()) { picks.push(input.closest("tr").dataset.line + "=" + input.value.trim()); }
      });
      send("refund_pick", picks.join(";"));
    }, 150);
  }

  function toggle(row) {
    var input = row.querySelector("input");
    if (input) { choose(row, input.value.trim() ? "" : row.dataset.whole); }
  }

  function step(row, by) {
    var input = row.querySelector("input");
    if (!input) { return; }
    if (row.hasAttribute("data-whole-only")) { choose(row, by > 0 ? row.dataset.whole : ""); return; }
    var left = Number(row.dataset.left);
    var now = Number(input.value.trim().replace(",", ".")) || 0;
    var next = Math.min(Math.max(Math.floor(now) + by, 0), left);
    choose(row, next > 0 ? String(next) : "");
  }

  function nextRow(row, by) {
    var inputs = Array.prototype.slice.call(row.closest("tbody").querySelectorAll("input"));
    var at = inputs.indexOf(row.querySelector("input"));
    var target = inputs[at + by];
    if (target) { target.focus(); target.select(); }
  }

  document.addEventListener("keydown", function (e) {
    var row = e.target.closest && pickRow(e.target);
    if (!row || e.target.tagName !== "INPUT") { return; }
    var actions = { " ": function () { toggle(row); }, "+": function () { step(row, 1); },
                    "-": function () { step(row, -1); }, "ArrowUp": function () { nextRow(row, -1); },
                    "ArrowDown": function () { nextRow(row, 1); } };
    if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
  });

  // In the refund-lines dialog Enter walks on: from the lines to the reason, to how the
  // money goes back (to the terminal's reference when that is not cash); Enter on the last
  // of them is OK: it refunds. In the receipt number Enter lists the receipt typed.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.target.tagName !== "INPUT") { return; }
    var form = e.target.closest("form[data-steps]");
    if (!form || e.target.name === "receipt_id") { return; }
    var field = function (name) { return form.querySelector('input[name="' + name + '"]'); };
    var tender = field("tender");
    var order = ["reason", "tender"];
    if (tender && tender.value.trim() !== tender.defaultValue.trim()) { order.push("reference"); }
    var at = pickRow(e.target) ? -1 : order.indexOf(e.target.name);
    if (at === -1 && !pickRow(e.target)) { return; }
    e.preventDefault();
    var next = at + 1 < order.length ? field(order[at + 1]) : null;
    if (next) { next.focus(); next.select(); } else { form.querySelector('button[type="submit"]').click(); }
  }, true);

  // the basket follows the line just scanned or selected
  function followLine() {
    var row = document.querySelector("#basket tr.selected");
    if (row) { row.scrollIntoView({ block: "nearest" }); }
  }
  document.body.addEventListener("htmx:sseMessage", function (e) {
    if (e.target && e.target.id === "basket") { followLine(); }
  });
  // a message or a banner taking its row shrinks the basket: the line stays in view
  if (window.ResizeObserver) { new ResizeObserver(followLine).observe(document.getElementById("basket")); }

  document.addEventListener("input", function (e) {
    var row = e.target.closest && pickRow(e.target);
    if (row) { row.classList.toggle("chosen", e.target.value.trim() !== ""); picked(row); }
  });

  document.getElementById("prompt").addEventListener("click", function (e) {
    var row = pickRow(e.target);
    if (!row || e.target.closest("input")) { return; }
    var button = e.target.closest("button[data-step]");
    if (button) { step(row, Number(button.dataset.step)); } else { toggle(row); }
    var input = row.querySelector("input");
    if (input) { input.focus(); }
  });

  // a heartbeat (live.js) changes nothing on the page: the cursor stays where it is
  function pushed(e) { return !(e.target && e.target.id === "beat"); }
  document.body.addEventListener("htmx:sseMessage", function (e) { if (pushed(e)) { focusInput(); } });
  document.body.addEventListener("click", function (e) {
    if (!e.target.closest("input, button")) { focusInput(); }
  });
})();
