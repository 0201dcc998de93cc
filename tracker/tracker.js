/*! firehose-enricher tracker | Apache-2.0
 * <script defer src="https://collect.example.com/tracker.js"
 *         data-endpoint="https://collect.example.com/collect"></script>
 * Sends a page_view on load and on single-page-app navigation;
 * window.firehoseEnricher.track(type, props) sends custom events.
 * No cookies, no storage. The collector adds ip and user_agent.
 */
(function (w, d, n) {
  'use strict';
  var script = d.currentScript;
  var endpoint = (script && script.getAttribute('data-endpoint')) ||
    (script && script.src ? new URL('collect', script.src).href : '/collect');
  var queue = [];
  var timer = 0;
  var tcString;
  var lastUrl;
  // Batches wait this long for company, and stay under the 64 KiB that
  // fetch keepalive allows in flight per page.
  var DELAY = 300, MAX_BYTES = 60000, MAX_EVENTS = 50, MAX_TRIES = 5;

  function uuid() {
    if (w.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16), h = [], i;
    crypto.getRandomValues(b);
    b[6] = b[6] & 15 | 64;
    b[8] = b[8] & 63 | 128;
    for (i = 0; i < 16; i++) h.push((b[i] + 256).toString(16).slice(1));
    h = h.join('');
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
  }

  function track(type, props) {
    var e = {}, k, zone;
    for (k in props || {}) e[k] = props[k];
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (x) {}
    e.type = String(type);
    e.event_id = uuid();
    e.ts = Date.now();
    e.url = location.href;
    e.referrer = d.referrer;
    e.title = d.title;
    e.language = n.language;
    e.screen = screen.width + 'x' + screen.height;
    e.timezone = zone;
    if (tcString) e.tcString = tcString;
    if (n.globalPrivacyControl) e.gpc = true;
    queue.push({ e: e, tries: 0 });
    if (queue.length >= MAX_EVENTS) flush();
    else if (!timer) timer = setTimeout(flush, DELAY);
  }

  // While the page lives, fetch (keepalive) sends, so that a 503 can be
  // seen and retried; when it is hidden or unloading, sendBeacon, which
  // the browser finishes after the page is gone. Both send text/plain: a
  // simple request, with no CORS preflight.
  function flush(leaving) {
    clearTimeout(timer);
    timer = 0;
    while (queue.length) {
      var batch = [], size = 2;
      while (queue.length && batch.length < MAX_EVENTS) {
        var len = JSON.stringify(queue[0].e).length + 1;
        if (batch.length && size + len > MAX_BYTES) break;
        size += len;
        batch.push(queue.shift());
      }
      send(batch, leaving);
    }
  }

  function send(batch, leaving) {
    var body = JSON.stringify(batch.map(function (b) { return b.e; }));
    if ((leaving || !w.fetch) && n.sendBeacon && n.sendBeacon(endpoint, body)) return;
    if (!w.fetch) return;
    fetch(endpoint, {
      method: 'POST', body: body, keepalive: true, credentials: 'omit',
      headers: { 'Content-Type': 'text/plain' }
    }).then(function (r) {
      if (r.status === 503) retry(batch);
    }, function () { retry(batch); });
  }

  function retry(batch) {
    var again = batch.filter(function (b) { return ++b.tries < MAX_TRIES; });
    if (!again.length) return;
    setTimeout(function () {
      queue = again.concat(queue);
      flush();
    }, 1000 * Math.pow(2, again[0].tries) * (0.5 + Math.random() / 2));
  }

  function pageView() {
    if (location.href === lastUrl) return;
    lastUrl = location.href;
    track('page_view');
  }

  var push = history.pushState;
  history.pushState = function () {
    var r = push.apply(this, arguments);
    pageView();
    return r;
  };
  w.addEventListener('popstate', pageView);
  d.addEventListener('visibilitychange', function () {
    if (d.visibilityState === 'hidden') flush(true);
  });
  w.addEventListener('pagehide', function () { flush(true); });

  w.firehoseEnricher = { track: track };

  // A CMP answers at once when it is ready; the page view waits for it at
  // most a moment, so that it carries the consent string.
  if (typeof w.__tcfapi === 'function') {
    var started = false;
    var go = function () { if (!started) { started = true; pageView(); } };
    setTimeout(go, 500);
    try {
      w.__tcfapi('addEventListener', 2, function (tc, ok) {
        if (ok && tc && tc.tcString) {
          tcString = tc.tcString;
          if (tc.eventStatus !== 'cmpuishown') go();
        }
      });
    } catch (x) { go(); }
  } else {
    pageView();
  }
})(window, document, navigator);
