// The admin page (GET /admin): online channels with live listener counts and
// the service's own counters, from the admin endpoints of the same origin.
//
// The admin token is typed into the page and kept in sessionStorage (this tab
// only, never in the URL). Requests send it as Authorization: Bearer; the
// watch feed (an EventSource, which cannot send headers) as ?token=.
//
// How the channel list stays right:
//   - GET /channels gives the list with counts (the truth at that moment);
//   - the watch feed (GET /channels/watch) says at once when a channel comes
//     online or goes offline, and each transition is applied to the table
//     right away;
//   - a channel that stays online changes its count without any transition,
//     so the list is also simply refetched every few seconds, on every
//     transition, on `reset` and whenever the feed (re)opens. Refetching a
//     small JSON list is cheap, and this is simple and correct: whatever the
//     feed misses (a reconnect, a reset), the next refetch repairs.
//
// Query parameter: prefix=P[,Q] (the filter, also kept in the address bar).
// For tests, window.__admin.state() describes what the page knows.
(function () {
  "use strict";

  var STORAGE_KEY = "plexor.adminToken";
  var CHANNELS_EVERY = 3000; // ms between refetches of GET /channels
  var STATS_EVERY = 2000; // ms between readings of GET /stats
  var WATCH_RETRY_MIN = 1000; // ms before reopening a closed watch feed, doubling
  var WATCH_RETRY_MAX = 15000;
  var MAX_LOG = 100;
  var NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;

  var $ = function (id) { return document.getElementById(id); };

  var token = loadToken();
  var prefixes = parsePrefixes(queryParam("prefix") || "");
  if (prefixes === null) { prefixes = []; }

  // session counts (re)starts: callbacks of an older session are ignored.
  var session = 0;
  var timers = [];
  var watch = null; // the EventSource
  var watchTimer = null;
  var watchDelay = WATCH_RETRY_MIN;

  var channels = null; // name -> listeners (null: online, count not fetched yet); null before the first answer
  var shown = {}; // names in the table, to highlight new rows
  var refreshing = false; // a GET /channels is in flight
  var again = false; // refetch once it is back
  var since = []; // transitions received while it is in flight
  var statsBusy = false;
  var lastStats = null;
  var state = { status: "no token", watch: "closed", error: "" };

  // ---- token ----

  function loadToken() {
    try { return window.sessionStorage.getItem(STORAGE_KEY) || ""; } catch (e) { return ""; }
  }

  function saveToken(t) {
    try {
      if (t) { window.sessionStorage.setItem(STORAGE_KEY, t); } else { window.sessionStorage.removeItem(STORAGE_KEY); }
    } catch (e) { /* storage disabled: the token lives as long as the page */ }
  }

  $("token-form").addEventListener("submit", function (e) {
    e.preventDefault(); // never a form submission: the token must not reach a URL
    var input = $("token");
    var t = input.value.replace(/^\s+|\s+$/g, "");
    if (!t) {
      $("token-error").textContent = "enter an admin token";
      return;
    }
    input.value = "";
    token = t;
    saveToken(t);
    start();
  });

  $("forget").addEventListener("click", function () {
    token = "";
    saveToken("");
    stop();
    clearData();
    $("token-error").textContent = "";
    setStatus("no token", "");
    $("token").focus();
  });

  // ---- prefix filter ----

  function parsePrefixes(text) {
    var out = [];
    var parts = text.split(/[\s,]+/);
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) { continue; }
      if (!NAME.test(parts[i])) { return null; }
      out.push(parts[i]);
    }
    return out;
  }

  function queryParam(name) {
    var parts = location.search.replace(/^\?/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split("=");
      if (decodeURIComponent(kv[0]) === name) {
        return decodeURIComponent((kv[1] || "").replace(/\+/g, " "));
      }
    }
    return null;
  }

  function prefixQuery(first) {
    var q = "";
    for (var i = 0; i < prefixes.length; i++) {
      q += (i === 0 && first ? "?" : "&") + "prefix=" + encodeURIComponent(prefixes[i]);
    }
    return q;
  }

  $("prefix").value = prefixes.join(",");
  $("prefix-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var p = parsePrefixes($("prefix").value);
    if (p === null) {
      $("prefix-error").textContent = "a prefix is 1-128 characters from A-Z a-z 0-9 _ - . : @";
      return;
    }
    $("prefix-error").textContent = "";
    prefixes = p;
    var search = p.length ? "?prefix=" + encodeURIComponent(p.join(",")) : "";
    if (window.history && history.replaceState) {
      history.replaceState(null, "", location.pathname + search);
    }
    channels = null;
    shown = {};
    renderChannels();
    if (token) { start(); }
  });

  // ---- requests ----

  // get fetches an admin endpoint and resolves with its JSON body. A 401
  // ends the session (wrong token); other failures reject with a message
  // and the periodic refreshes retry.
  function get(path, s) {
    return fetch(path, {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit"
    }).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (res.ok && body) { return body; }
        var msg = body && body.error && body.error.message ? body.error.message : "HTTP " + res.status;
        var err = new Error(msg);
        err.status = res.status;
        throw err;
      });
    }, function (err) {
      var e = new Error("cannot reach the service (" + err.message + ")");
      e.network = true;
      throw e;
    }).then(function (body) {
      if (s === session) { ok(); }
      return body;
    }, function (err) {
      if (s === session) { failed(err); }
      throw err;
    });
  }

  function ok() {
    if (state.error) { state.error = ""; }
    setStatus("connected", "ok");
  }

  function failed(err) {
    if (err.status === 401) {
      wrongToken(err.message);
      return;
    }
    if (err.status === 400 && prefixes.length) {
      $("prefix-error").textContent = err.message;
    }
    state.error = err.message;
    setStatus(err.message + " — retrying every few seconds", "error");
    markStale(true);
  }

  function wrongToken(msg) {
    stop();
    token = "";
    saveToken("");
    state.error = msg;
    $("token-error").textContent = "Wrong token: the service refused it (401: " + msg +
      "). Enter one of its admin tokens (PLEXOR_ADMIN_TOKENS).";
    setStatus("wrong token", "error");
    markStale(true);
    $("token").focus();
  }

  // ---- the session: refetches, stats, watch feed ----

  function start() {
    stop();
    var s = session;
    $("token-error").textContent = "";
    setStatus("connecting…", "");
    refreshChannels();
    refreshStats();
    openWatch(s);
    timers.push(setInterval(refreshChannels, CHANNELS_EVERY));
    timers.push(setInterval(refreshStats, STATS_EVERY));
  }

  function stop() {
    session++;
    for (var i = 0; i < timers.length; i++) { clearInterval(timers[i]); }
    timers = [];
    if (watchTimer) { clearTimeout(watchTimer); watchTimer = null; }
    if (watch) { watch.close(); watch = null; }
    watchDelay = WATCH_RETRY_MIN;
    refreshing = false;
    again = false;
    since = [];
    statsBusy = false; // lastStats stays: rates go on across a new prefix or token
    setWatch("closed");
  }

  // refreshChannels refetches GET /channels, one request at a time: asked
  // again while one is in flight, it goes once more when that one is back.
  function refreshChannels() {
    if (refreshing) { again = true; return; }
    var s = session;
    refreshing = true;
    again = false;
    since = [];
    get("/channels" + prefixQuery(true), s).then(function (body) {
      if (s !== session) { return; }
      var next = {};
      var list = body.channels || [];
      for (var i = 0; i < list.length; i++) { next[list[i].channel] = list[i].listeners; }
      // Transitions that arrived while the request was in flight may be
      // newer than the answer: apply them on top (the next refetch settles it).
      for (var j = 0; j < since.length; j++) { applyTransition(next, since[j].kind, since[j].channel); }
      channels = next;
      markStale(false);
      renderChannels();
      $("updated").textContent = clock(new Date());
    }, function () { /* shown by failed; the next refresh retries */ }).then(function () {
      if (s !== session) { return; }
      refreshing = false;
      if (again) { refreshChannels(); }
    });
  }

  function applyTransition(set, kind, channel) {
    if (kind === "online") {
      if (!set.hasOwnProperty(channel)) { set[channel] = null; }
    } else if (kind === "offline") {
      delete set[channel];
    }
  }

  function openWatch(s) {
    var source = new EventSource("/channels/watch?token=" + encodeURIComponent(token) + prefixQuery(false));
    watch = source;
    setWatch("connecting");
    source.onopen = function () {
      if (s !== session) { return; }
      watchDelay = WATCH_RETRY_MIN;
      setWatch("open");
      refreshChannels(); // anything may have changed while it was closed
    };
    source.addEventListener("online", function (e) { onTransition(s, "online", e); });
    source.addEventListener("offline", function (e) { onTransition(s, "offline", e); });
    source.addEventListener("reset", function () {
      if (s !== session) { return; }
      addLog("reset", "", "transitions were missed: list refetched");
      refreshChannels();
    });
    source.onerror = function () {
      if (s !== session) { return; }
      if (source.readyState === EventSource.CLOSED) {
        // An HTTP error (a wrong token, a full server): the browser gives
        // up, so reopen later; the refetch shows what went wrong.
        watch = null;
        setWatch("closed, reopening in " + Math.round(watchDelay / 1000) + " s");
        watchTimer = setTimeout(function () {
          watchTimer = null;
          if (s === session) { openWatch(s); }
        }, watchDelay);
        watchDelay = Math.min(watchDelay * 2, WATCH_RETRY_MAX);
        refreshChannels();
      } else {
        setWatch("reconnecting"); // the browser retries by itself, with Last-Event-ID
      }
    };
  }

  function onTransition(s, kind, e) {
    if (s !== session) { return; }
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    if (!d || typeof d.channel !== "string") { return; }
    since.push({ kind: kind, channel: d.channel });
    if (channels) {
      applyTransition(channels, kind, d.channel);
      renderChannels();
    }
    addLog(kind, d.time, d.channel);
    refreshChannels();
  }

  function refreshStats() {
    if (statsBusy) { return; }
    var s = session;
    statsBusy = true;
    get("/stats", s).then(function (st) {
      if (s !== session) { return; }
      showStats(st);
    }, function () { /* shown by failed; the next reading retries */ }).then(function () {
      if (s === session) { statsBusy = false; }
    });
  }

  // ---- rendering ----

  function showStats(st) {
    var names = ["connections", "subscriptions", "channels", "published", "delivered", "replayed",
      "resets", "slow_disconnects", "poll_requests"];
    for (var i = 0; i < names.length; i++) {
      $("stat-" + names[i]).textContent = count(st[names[i]]);
    }
    $("stat-uptime").textContent = duration(st.uptime_seconds);
    var prev = lastStats;
    // Rates from two readings, timed by the service's own uptime; a restart
    // (uptime going back) starts over.
    if (prev && st.uptime_seconds > prev.uptime_seconds && st.published >= prev.published) {
      var dt = st.uptime_seconds - prev.uptime_seconds;
      $("rate-published").textContent = rate((st.published - prev.published) / dt);
      $("rate-delivered").textContent = rate((st.delivered - prev.delivered) / dt);
    } else {
      $("rate-published").textContent = "–";
      $("rate-delivered").textContent = "–";
    }
    lastStats = st;
    state.stats = st;
  }

  function renderChannels() {
    var body = $("channel-rows");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (!channels) {
      $("channel-count").textContent = "";
      emptyRow(body, token ? "loading…" : "enter the admin token above");
      return;
    }
    var names = [];
    for (var name in channels) {
      if (channels.hasOwnProperty(name)) { names.push(name); }
    }
    names.sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; });
    $("channel-count").textContent = "(" + names.length + (prefixes.length ? ", prefix " + prefixes.join(", ") : "") + ")";
    if (!names.length) {
      emptyRow(body, prefixes.length ? "no channel with these prefixes has listeners" : "no channel has listeners");
    }
    var now = {};
    for (var i = 0; i < names.length; i++) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-channel", names[i]);
      if (!shown[names[i]]) { tr.className = "fresh"; }
      var td = document.createElement("td");
      td.className = "name";
      td.textContent = names[i];
      var n = document.createElement("td");
      n.className = "num listeners";
      n.textContent = channels[names[i]] === null ? "…" : count(channels[names[i]]);
      tr.appendChild(td);
      tr.appendChild(n);
      body.appendChild(tr);
      now[names[i]] = true;
    }
    shown = now;
  }

  function emptyRow(body, text) {
    var tr = document.createElement("tr");
    tr.className = "empty";
    var td = document.createElement("td");
    td.colSpan = 2;
    td.textContent = text;
    tr.appendChild(td);
    body.appendChild(tr);
  }

  function addLog(kind, time, text) {
    var log = $("log");
    var empty = log.querySelector(".empty");
    if (empty) { log.removeChild(empty); }
    var li = document.createElement("li");
    var code = document.createElement("code");
    code.textContent = clock(time ? new Date(time) : new Date());
    li.appendChild(code);
    var k = document.createElement("span");
    k.className = kind;
    k.textContent = kind;
    li.appendChild(k);
    li.appendChild(document.createTextNode(" " + text));
    log.insertBefore(li, log.firstChild);
    while (log.children.length > MAX_LOG) { log.removeChild(log.lastChild); }
  }

  function clearData() {
    channels = null;
    shown = {};
    renderChannels();
    var dds = document.querySelectorAll(".counters dd");
    for (var i = 0; i < dds.length; i++) { dds[i].textContent = "–"; }
    $("updated").textContent = "–";
    state.stats = null;
    lastStats = null;
    markStale(false);
  }

  function markStale(stale) {
    $("channels").classList.toggle("stale", stale);
    document.querySelector(".counters").classList.toggle("stale", stale);
  }

  function showTokenState() {
    $("token").placeholder = token ? "saved for this tab (type another to replace it)" : "admin token";
  }

  function setStatus(text, cls) {
    state.status = text;
    showTokenState();
    $("status").textContent = text;
    $("status").className = cls;
  }

  function setWatch(text) {
    state.watch = text;
    $("watch-status").textContent = text;
  }

  function count(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : "–";
  }

  function rate(r) {
    return r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString("en-US");
  }

  function duration(sec) {
    sec = Math.floor(sec || 0);
    var d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (d) { return d + "d " + h + "h"; }
    if (h) { return h + "h " + pad(m) + "m"; }
    if (m) { return m + "m " + pad(s) + "s"; }
    return s + "s";
  }

  function clock(date) {
    if (isNaN(date.getTime())) { date = new Date(); }
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  window.__admin = {
    state: function () {
      return { status: state.status, watch: state.watch, error: state.error, channels: channels, stats: state.stats || null };
    }
  };

  renderChannels();
  if (token) {
    start();
  } else {
    $("token").focus();
  }
})();
