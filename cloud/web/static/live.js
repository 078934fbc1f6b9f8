// Keep the dashboard's figures current without reloading the page: pushed by the server
// (Server-Sent Events on data-events) where the browser can, else polled from data-src
// every 10 seconds. A stream that fails three times without opening again falls back to
// polling for good; the mode in use is in data-mode ("sse" or "poll").
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  let polling = null;

  async function refresh() {
    try {
      const answer = await fetch(live.dataset.src, { credentials: "same-origin" });
      if (answer.redirected || answer.status === 401) { window.location = "/login"; return; }
      if (answer.ok) live.innerHTML = await answer.text();
    } catch (e) { /* offline for a moment: try again at the next tick */ }
  }

  function poll() {
    if (polling) return;
    live.dataset.mode = "poll";
    polling = setInterval(refresh, 10000);
  }

  if (!window.EventSource || !live.dataset.events) { poll(); return; }
  const source = new EventSource(live.dataset.events);
  let failures = 0;
  source.addEventListener("open", function () {
    failures = 0;
    live.dataset.mode = "sse";
  });
  source.addEventListener("live", function (event) { live.innerHTML = event.data; });
  source.addEventListener("signin", function () {
    source.close();
    window.location = "/login";
  });
  source.addEventListener("error", function () {
    failures += 1;
    if (source.readyState === EventSource.CLOSED || failures >= 3) {
      source.close();
      poll();
    }
  });
})();
