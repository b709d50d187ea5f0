// Measures how long the student took on an item (sent as response_time_ms).
// Without JavaScript the server times the item from when it was served.
(function () {
  function stamp(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form[data-timed]").forEach(function (form) {
      if (!form.dataset.shownAt) form.dataset.shownAt = String(performance.now());
    });
  }
  document.addEventListener("DOMContentLoaded", function () { stamp(document); });
  document.addEventListener("htmx:load", function (e) { stamp(e.target); });
  document.addEventListener("submit", fill, true);
  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.target.closest && e.target.closest("form[data-timed]");
    if (form) { fill({ target: form }); e.detail.parameters.response_time_ms = form.elements.response_time_ms.value; }
  });
  function fill(e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-timed]") || !form.dataset.shownAt) return;
    form.elements.response_time_ms.value = String(Math.round(performance.now() - Number(form.dataset.shownAt)));
  }
})();
