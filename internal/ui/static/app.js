// hookd web UI: small improvements over pages that work without script.
//  - relative times stay current (the exact UTC time is in the title);
//  - Copy buttons put a value on the clipboard;
//  - the Test button and Reveal show their result in place instead of
//    reloading the page.
// Text from the server is always inserted with textContent, never as HTML.
"use strict";

(function () {
  var loaded = Date.now();
  var serverNow = Date.parse(document.body.getAttribute("data-now")) || loaded;

  function ago(t) {
    var now = serverNow + (Date.now() - loaded);
    var d = now - t, future = d < 0, s;
    if (future) d = -d;
    d = Math.floor(d / 1000);
    if (d < 5) return "just now";
    if (d < 60) s = d + " s";
    else if (d < 3600) s = Math.floor(d / 60) + " min";
    else if (d < 48 * 3600) s = Math.floor(d / 3600) + " h";
    else if (d < 30 * 86400) s = Math.floor(d / 86400) + " days";
    else return new Date(t).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
    return future ? "in " + s : s + " ago";
  }

  // until is the server's until (until.go): when t comes, from the same
  // now as every other time on the page.
  function until(t) {
    var d = t - (serverNow + (Date.now() - loaded));
    if (d <= 0) return "now";
    if (d < 60000) return "in " + Math.ceil(d / 1000) + " s";
    return ago(t);
  }

  function refreshTimes() {
    var els = document.querySelectorAll("time[data-relative]");
    for (var i = 0; i < els.length; i++) {
      var t = Date.parse(els[i].getAttribute("datetime"));
      if (!isNaN(t)) els[i].textContent = ago(t);
    }
    els = document.querySelectorAll("time[data-until]");
    for (i = 0; i < els.length; i++) {
      t = Date.parse(els[i].getAttribute("datetime"));
      if (!isNaN(t)) els[i].textContent = until(t);
    }
    els = document.querySelectorAll("[data-held-until]");
    for (i = 0; i < els.length; i++) {
      t = Date.parse(els[i].getAttribute("data-held-until"));
      if (!isNaN(t)) els[i].textContent = "Held: breaker open, next probe " + until(t);
    }
  }
  refreshTimes();
  setInterval(refreshTimes, 15000);

  function flashLabel(button, text) {
    var old = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", old);
    button.textContent = text;
    setTimeout(function () { button.textContent = old; }, 1600);
  }

  // Copy buttons are hidden without script (they would do nothing).
  function setupCopy(button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var el = document.getElementById(button.getAttribute("data-copy"));
      if (!el) return;
      var text = (el.value !== undefined ? el.value : el.textContent).trim();
      if (!text || el.classList.contains("hidden-secret")) {
        flashLabel(button, "Reveal first");
        return;
      }
      navigator.clipboard.writeText(text).then(function () {
        flashLabel(button, "Copied");
      }, function () {
        flashLabel(button, "Copy failed");
      });
    });
  }
  var copies = document.querySelectorAll("[data-copy]");
  for (var i = 0; i < copies.length; i++) setupCopy(copies[i]);

  // postJSON sends a form as the browser would, asking for JSON back.
  function postJSON(form) {
    return fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (resp) {
      return resp.json().then(function (body) {
        if (!resp.ok) throw new Error(body.error || ("HTTP " + resp.status));
        return body;
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showTest(box, r) {
    box.textContent = "";
    box.hidden = false;
    var ok = r.status_code >= 200 && r.status_code < 300 && !r.error;
    box.className = "test-result " + (ok ? "ok" : "bad");
    var head = el("div");
    if (r.status_code) {
      head.appendChild(el("span", "code " + (ok ? "code-ok" : "code-bad"), String(r.status_code)));
      head.appendChild(document.createTextNode(" " + (r.status_text || "") + " · " + r.duration_ms + " ms"));
    } else {
      head.appendChild(el("strong", "", "No response"));
      head.appendChild(document.createTextNode(" · " + r.duration_ms + " ms"));
    }
    box.appendChild(head);
    if (r.error) box.appendChild(el("div", "", r.error));
    if (r.response_body) box.appendChild(el("span", "excerpt", r.response_body));
  }

  var tests = document.querySelectorAll("form[data-test]");
  for (var j = 0; j < tests.length; j++) {
    (function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var button = form.querySelector("button");
        var box = document.getElementById(form.getAttribute("data-test"));
        button.disabled = true;
        button.textContent = "Sending…";
        postJSON(form).then(function (r) {
          showTest(box, r);
        }, function (err) {
          showTest(box, { status_code: 0, duration_ms: 0, error: err.message });
        }).then(function () {
          button.disabled = false;
          button.textContent = "Test";
          // Disabling the button dropped the keyboard's focus to the
          // page; give it back (the result is announced: aria-live).
          button.focus();
        });
      });
    })(tests[j]);
  }

  // A delivery about to be sent reloads itself to show the attempt.
  var live = document.querySelector("[data-refresh]");
  if (live) {
    setTimeout(function () { location.reload(); }, 1000 * Number(live.getAttribute("data-refresh")));
  }

  // A choice that only reloads the page with it (the Test page's type)
  // needs no button press with script; the button stays for those without.
  var autos = document.querySelectorAll("select[data-submit]");
  for (var k = 0; k < autos.length; k++) {
    autos[k].addEventListener("change", function (ev) { ev.target.form.submit(); });
  }

  var reveal = document.querySelector("form[data-reveal]");
  if (reveal) {
    reveal.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var target = document.getElementById(reveal.getAttribute("data-reveal"));
      postJSON(reveal).then(function (r) {
        target.textContent = r.secret;
        target.classList.remove("hidden-secret");
        reveal.hidden = true;
        // The Reveal button is gone: keep the keyboard beside the
        // secret, on Copy.
        var copy = document.querySelector('[data-copy="' + target.id + '"]');
        if (copy) copy.focus();
      }, function (err) {
        target.textContent = err.message;
      });
    });
  }
})();
