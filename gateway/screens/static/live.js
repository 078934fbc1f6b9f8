// Marks the page live while its server-sent event stream is open; when the box stops
// answering the page says so (body:not([data-live]) in screens.css) and htmx reconnects.
(function () {
  "use strict";
  document.addEventListener("htmx:sseOpen", function () { document.body.dataset.live = "1"; });
  document.addEventListener("htmx:sseError", function () { delete document.body.dataset.live; });
})();
