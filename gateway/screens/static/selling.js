// Selling what has no barcode (docs/screens.md "Items without a barcode"): the buttons of
// the search, quick-key and open-price dialogs, by touch and by keyboard, and the
// on-screen numeric keypad. A tap (or Enter on a focused button) picks a listed item: its
// value goes in the form's `choice` field and the form is sent; in the open-price dialog a
// department's button fills the department field and moves on to the price. In a dialog,
// the down arrow goes from the fields to the list, the arrows move along it, and the up
// arrow from the first button goes back to the fields.
(function () {
  "use strict";
  function dialog() { return document.querySelector("#prompt form"); }

  function send(form) {
    if (form.requestSubmit) { form.requestSubmit(); } else { form.dispatchEvent(new Event("submit")); }
  }

  function pick(button) {
    var form = button.closest("form");
    if (!form) { return; }
    var fill = button.dataset.fill;
    if (fill) {
      var field = form.querySelector('input[name="' + fill + '"]');
      field.value = button.dataset.choice;
      var next = form.querySelector('input[name="price"]');
      if (next) { next.focus(); next.select(); }
      return;
    }
    form.querySelector('input[name="choice"]').value = button.dataset.choice;
    send(form);
  }

  document.getElementById("prompt").addEventListener("click", function (e) {
    var button = e.target.closest("button[data-choice]");
    if (button) { e.preventDefault(); pick(button); }
  });

  document.addEventListener("keydown", function (e) {
    var form = dialog();
    if (!form || !form.querySelector(".choices") || !form.contains(e.target)) { return; }
    var buttons = Array.prototype.slice.call(form.querySelectorAll("button[data-choice]"));
    var at = buttons.indexOf(e.target);
    if (e.key === "ArrowDown" || (e.key === "ArrowRight" && at >= 0)) {
      var next = buttons[at + 1] || (at < 0 ? buttons[0] : null);
      if (next) { e.preventDefault(); next.focus(); }
    } else if ((e.key === "ArrowUp" || e.key === "ArrowLeft") && at >= 0) {
      e.preventDefault();
      if (at > 0) { buttons[at - 1].focus(); } else { form.querySelector("input:not([type=hidden])").focus(); }
    }
  });

  // The keypad types where the cursor is: the open dialog's field or the entry line.
  var keypad = document.getElementById("keypad");
  if (!keypad) { return; }
  var entry = document.getElementById("entry");
  function target() {
    var active = document.activeElement;
    if (active && active.tagName === "INPUT" && active.type !== "hidden") { return active; }
    var form = dialog();
    return form ? form.querySelector("input:not([type=hidden])") || entry : entry;
  }
  keypad.addEventListener("pointerdown", function (e) { e.preventDefault(); });  // keep focus
  keypad.addEventListener("mousedown", function (e) { e.preventDefault(); });
  keypad.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-pad]");
    if (!button) { return; }
    var input = target();
    var key = button.dataset.pad;
    if (key === "back") { input.value = input.value.slice(0, -1); }
    else if (key === "clear") { input.value = ""; }
    else if (key === "enter") { if (input.form) { send(input.form); } }
    else { input.value += key; }
    if (key !== "enter") { input.focus(); input.dispatchEvent(new Event("input", { bubbles: true })); }
  });
})();
