// Marks the page live while its server-sent event stream is open and heard from; when the
// box stops answering (the daemon stopped: it ends the stream itself; or it hangs: its
// heartbeat, every 0.5 s, stops coming) the page says so within 2 s
// (body:not([data-live]) in screens.css, the text in body[data-gone]), takes no input
// (keys.js sends nothing, the entry line is disabled) and the browser reconnects by itself
// every few seconds until the daemon is back.
(function () {
  "use strict";
  var BEAT_LOST_MS = 1500;
  var timer = null;
  function entry() { return document.getElementById("entry"); }
  function gone() {
    delete document.body.dataset.live;
    var line = entry();
    if (line) { line.disabled = true; }
  }
  function heard() {
    var wasGone = !document.body.dataset.live;
    document.body.dataset.live = "1";
    var line = entry();
    if (line && line.disabled) { line.disabled = false; if (wasGone) { line.focus(); } }
    clearTimeout(timer);
    timer = setTimeout(gone, BEAT_LOST_MS);
  }
  document.addEventListener("htmx:sseOpen", heard);
  document.addEventListener("htmx:sseBeforeMessage", heard);
  document.addEventListener("htmx:sseError", function () { clearTimeout(timer); gone(); });
  // A cashier who signed on in another language: the pushed parts say so (data-language)
  // and the page loads again in it, the parts that are not pushed too (no restart).
  document.addEventListener("htmx:sseMessage", function () {
    var pushed = document.querySelector("[data-language]:not(html)");
    if (pushed && pushed.dataset.language !== document.documentElement.dataset.language) {
      window.location.reload();
    }
  });
})();
