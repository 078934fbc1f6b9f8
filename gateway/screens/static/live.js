// Marks the page live while its server-sent event stream is open; when the box stops
// answering (the daemon stopped: it ends the stream itself) the page says so
// (body:not([data-live]) in screens.css, the text in body[data-gone]) and the browser
// reconnects by itself, every few seconds, until the daemon is back.
(function () {
  "use strict";
  document.addEventListener("htmx:sseOpen", function () { document.body.dataset.live = "1"; });
  document.addEventListener("htmx:sseError", function () { delete document.body.dataset.live; });
  // A cashier who signed on in another language: the pushed parts say so (data-language)
  // and the page loads again in it, the parts that are not pushed too (no restart).
  document.addEventListener("htmx:sseMessage", function () {
    var pushed = document.querySelector("[data-language]:not(html)");
    if (pushed && pushed.dataset.language !== document.documentElement.dataset.language) {
      window.location.reload();
    }
  });
})();
