// labgate's own script: toasts and copy buttons. No inline script anywhere, so the CSP can
// stay at script-src 'self'.
(function () {
  "use strict";

  function toast(message, level) {
    var region = document.getElementById("toasts");
    if (!region || !message) return;
    var el = document.createElement("div");
    el.className = "toast" + (level === "error" ? " error" : "");
    el.setAttribute("role", level === "error" ? "alert" : "status");
    el.textContent = message;
    region.appendChild(el);
    setTimeout(function () { el.remove(); }, level === "error" ? 8000 : 4000);
  }

  // The server names a toast in an HX-Trigger header: {"toast": {"message": ..., "level": ...}}.
  document.addEventListener("toast", function (e) {
    var d = e.detail || {};
    toast(d.message || d.value, d.level);
  });

  // An error answer that carried no toast of its own still tells the person something.
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && !xhr.getResponseHeader("HX-Trigger")) {
      toast("The server answered " + xhr.status + "; nothing was changed.", "error");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    toast("labgate cannot be reached right now.", "error");
  });

  // <button data-copy="#selector"> copies that element's text.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    navigator.clipboard.writeText(text.trim()).then(
      function () { toast("Copied to the clipboard.", "ok"); },
      function () { toast("Copying failed; select the text and copy it by hand.", "error"); }
    );
  });

  // A click anywhere on a selectable row opens it, as the row's own "show" link does (that
  // link is the way in for keyboards). Clicks on the row's links, buttons and forms, and
  // selecting text, are left alone.
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr[data-select-row]");
    if (!row || e.target.closest("a, button, input, select, textarea, label, form")) return;
    if (window.getSelection && String(window.getSelection()) !== "") return;
    var link = row.querySelector("[data-select-link]");
    if (link) link.click();
  });

  // Highlight the row whose "show" link was followed.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("[data-select-link]");
    if (!link) return;
    var rows = document.querySelectorAll("tr[data-select-row]");
    for (var i = 0; i < rows.length; i++) {
      rows[i].classList.toggle("selected", rows[i].contains(link));
    }
  });

  // Once htmx has swapped something in, the highlighted token row is the one the panel shows:
  // a token just made arrives selected and the row selected before lets go.
  document.addEventListener("htmx:afterSettle", function () {
    var shown = document.getElementById("token-panel-shown");
    if (!shown) return;
    var rows = document.querySelectorAll("tr[data-select-row]");
    for (var i = 0; i < rows.length; i++) {
      rows[i].classList.toggle("selected", shown.value !== "" && rows[i].id === "token-" + shown.value);
    }
  });

  // A plain (non-htmx) form with data-confirm asks before it is sent, as hx-confirm does.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) e.preventDefault();
  });
})();
