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

// Keeps what the student typed or ticked on an item until the answer is recorded, so that logging in
// again (after a logout in another tab) brings them back to the same item with their answer still there.
(function () {
  var store = window.sessionStorage;
  function key(form) { return "metis-draft:" + form.getAttribute("action"); }
  function save(e) {
    var form = e.target.closest && e.target.closest("form[data-timed]");
    if (!form || !store) return;
    var draft = {};
    ["answer", "confidence"].forEach(function (name) {
      var field = form.elements[name];
      if (field && field.value) draft[name] = field.value;
    });
    try { store.setItem(key(form), JSON.stringify(draft)); } catch (err) { /* storage full or off */ }
  }
  function restore(root) {
    if (!store) return;
    (root.querySelectorAll ? root : document).querySelectorAll("form[data-timed]").forEach(function (form) {
      var raw = store.getItem(key(form));
      if (!raw) return;
      var draft = JSON.parse(raw);
      Object.keys(draft).forEach(function (name) {
        var field = form.elements[name];
        if (!field) return;
        if (field.length !== undefined && !field.tagName) {  // a radio group
          Array.prototype.forEach.call(field, function (r) { if (r.value === draft[name]) r.checked = true; });
        } else if (!field.value) {
          field.value = draft[name];
        }
      });
    });
  }
  document.addEventListener("input", save);
  document.addEventListener("change", save);
  document.addEventListener("DOMContentLoaded", function () { restore(document); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form[data-timed]");
    if (form && store && e.detail.xhr && e.detail.xhr.status === 200) store.removeItem(key(form));
  });
})();

// A refusal that says where it belongs (HX-Retarget, e.g. "a field contains a character that is not
// allowed", status 400) is shown there; the page's htmx-config would otherwise drop a 4xx it does not list.
document.addEventListener("htmx:beforeSwap", function (e) {
  var xhr = e.detail.xhr;
  if (xhr && xhr.status === 400 && xhr.getResponseHeader("HX-Retarget")) {
    e.detail.shouldSwap = true;
    e.detail.isError = false;
  }
});
