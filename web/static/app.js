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
    // Toasts do not pile up over the content: the newest three stay.
    while (region.children.length > 3) region.removeChild(region.firstChild);
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

  // Copy buttons come hidden (without JavaScript they could do nothing); show them here,
  // and in every fragment htmx swaps in.
  function showCopyButtons(root) {
    var buttons = (root || document).querySelectorAll("[data-copy][hidden]");
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { showCopyButtons(document); });
  } else {
    showCopyButtons(document);
  }
  document.addEventListener("htmx:load", function (e) { showCopyButtons(e.target); });

  // Focus after htmx actions (WCAG 2.4.3): a swap that removes the focused button would drop
  // focus to <body>. Before each request note which rows exist and where the acting control
  // sits; after the swap settles, if focus was lost, move it to something useful: the first
  // invalid field of a refused form, else a row that is new, else the row the action was on
  // (if it is still there), else the row after it (or before it) when it went away, else the
  // swapped region itself. The outcome is announced by the toast in the live region.
  var pending = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    var row = elt && elt.closest ? elt.closest("tr[id]") : null;
    var next = row ? row.nextElementSibling : null;
    var prev = row ? row.previousElementSibling : null;
    var known = {};
    var rows = document.querySelectorAll("tr[id]");
    for (var i = 0; i < rows.length; i++) known[rows[i].id] = true;
    pending = {
      known: known,
      row: row ? row.id : null,
      next: next && next.id ? next.id : null,
      prev: prev && prev.id ? prev.id : null,
      target: e.detail.target || null,
    };
  });

  function focusOn(el) {
    if (!el) return false;
    if (!el.matches("a[href], button, input, select, textarea, [tabindex]")) {
      el.setAttribute("tabindex", "-1");
    }
    el.focus();
    return document.activeElement === el;
  }

  // A swap that removes the acting element (a deleted row) fires its later events on a
  // detached element, which never reach the document: so the check also runs shortly after
  // every swap.
  document.addEventListener("htmx:beforeSwap", function () {
    var was = pending;
    setTimeout(function () { restoreFocus(was); }, 100);
  });
  document.addEventListener("htmx:afterSettle", function () { restoreFocus(pending); });

  function restoreFocus(was) {
    if (!was || was.done) return;
    was.done = true;
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var invalid = document.querySelector("[aria-invalid='true']");
    if (invalid && focusOn(invalid)) return;
    var rows = document.querySelectorAll("tr[id]");
    for (var i = 0; i < rows.length; i++) {
      if (!was.known[rows[i].id] && focusOn(rows[i])) return;
    }
    var ids = [was.row, was.next, was.prev];
    for (var j = 0; j < ids.length; j++) {
      if (ids[j] && focusOn(document.getElementById(ids[j]))) return;
    }
    var target = was.target && document.contains(was.target) ? was.target : document.getElementById("main");
    if (target) {
      var heading = target.querySelector("h2, h1");
      focusOn(heading || target);
    }
  }

  // A field marked invalid stops saying so once the person empties it: the old message no
  // longer describes what is there.
  document.addEventListener("input", function (e) {
    var field = e.target;
    if (!field.getAttribute || field.getAttribute("aria-invalid") !== "true" || field.value !== "") return;
    field.removeAttribute("aria-invalid");
    var described = (field.getAttribute("aria-describedby") || "").split(/\s+/);
    var kept = [];
    for (var i = 0; i < described.length; i++) {
      var note = described[i] && document.getElementById(described[i]);
      if (note && note.classList.contains("field-error")) note.remove();
      else if (described[i]) kept.push(described[i]);
    }
    field.setAttribute("aria-describedby", kept.join(" "));
  });

  // <time datetime data-local> shows UTC in the page; here it becomes the reader's own time
  // zone, with the UTC text kept as its title.
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function localTimes(root) {
    var times = (root || document).querySelectorAll("time[data-local][datetime]");
    var zone = "";
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) continue;
      if (!zone && window.Intl && Intl.DateTimeFormat) {
        var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(at);
        for (var j = 0; j < parts.length; j++) if (parts[j].type === "timeZoneName") zone = parts[j].value;
      }
      el.title = el.textContent;
      el.textContent = at.getFullYear() + "-" + pad(at.getMonth() + 1) + "-" + pad(at.getDate()) + " " +
        pad(at.getHours()) + ":" + pad(at.getMinutes()) + (zone ? " " + zone : "");
      el.removeAttribute("data-local");
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  } else {
    localTimes(document);
  }
  document.addEventListener("htmx:load", function (e) { localTimes(e.target); });

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

  // <form data-download="NAME"> posts for a file that can be had only once (a generated
  // private key): fetch it, save it as NAME, then refresh the Instances block so the row says
  // at once that it was downloaded. When there is no file (a second attempt), the server's
  // toast says why. Without JavaScript the form posts as usual.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var name = form.getAttribute && form.getAttribute("data-download");
    if (!name || !window.fetch || !window.htmx) return;
    e.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    }).then(function (resp) {
      var type = resp.headers.get("Content-Type") || "";
      if (resp.ok && type.indexOf("application/x-pem-file") === 0) {
        return resp.blob().then(function (blob) {
          var url = URL.createObjectURL(blob);
          var link = document.createElement("a");
          link.href = url;
          link.download = name;
          document.body.appendChild(link);
          link.click();
          link.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
          return { message: "Private key saved as " + name + "; labgate keeps no copy.", level: "ok" };
        });
      }
      var said = null;
      try {
        said = JSON.parse(resp.headers.get("HX-Trigger") || "null");
      } catch (err) {
        said = null;
      }
      var t = said && said.toast;
      return t ? { message: t.message, level: t.level } : { message: "Nothing to download (the server answered " + resp.status + ").", level: "error" };
    }).then(function (outcome) {
      toast(outcome.message, outcome.level);
      return window.htmx.ajax("GET", "/instances", { target: "#lab", swap: "innerHTML" });
    }).catch(function () {
      if (button) button.disabled = false;
      toast("labgate cannot be reached right now.", "error");
    });
  });

  // A plain (non-htmx) form with data-confirm asks before it is sent, as hx-confirm does.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) e.preventDefault();
  });
})();
