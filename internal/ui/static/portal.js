// hookd customer portal: tells the page that frames it how tall it is, so
// that page can size the frame without a scrollbar of its own. Optional:
// without it (or without a listener) the portal scrolls inside the frame.
// The message is {type: "hookd:portal-height", height: <CSS pixels>},
// sent to the parent whatever its origin: a height reveals nothing.
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function send() {
    // The content's height (the html element's: not the frame's, so it
    // can shrink as well as grow).
    var h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h === last) return;
    last = h;
    window.parent.postMessage({ type: "hookd:portal-height", height: h }, "*");
  }
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(send).observe(document.documentElement);
  }
  window.addEventListener("load", send);
  send();
})();
