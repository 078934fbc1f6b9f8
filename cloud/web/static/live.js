// Refresh the dashboard's figures every 10 seconds without reloading the page.
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  async function refresh() {
    try {
      const answer = await fetch(live.dataset.src, { credentials: "same-origin" });
      if (answer.redirected || answer.status === 401) { window.location = "/login"; return; }
      if (answer.ok) live.innerHTML = await answer.text();
    } catch (e) { /* offline for a moment: try again at the next tick */ }
  }
  setInterval(refresh, 10000);
})();
