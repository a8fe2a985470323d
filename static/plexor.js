/*!
 * plexor.js — the browser client of Plexor (a Server-Sent Events broadcast service).
 *
 * No dependencies. Works as a plain <script> (defines window.Plexor), through
 * CommonJS (module.exports), and as an ES module through plexor.mjs:
 *
 *   <script src="https://rt.example.com/plexor.js"></script>
 *   import Plexor from "https://rt.example.com/plexor.mjs";
 *
 *   var plexor = new Plexor("https://rt.example.com/", { namespace: "demo_" });
 *   plexor.subscribe("Alpha", function (data, channel, id, type) { ... });
 *   plexor.subscribe("Beta", onBeta);
 *   plexor.execute();                        // apply the subscription set
 *   plexor.unsubscribe("Beta", onBeta);
 *   plexor.execute();
 *
 * Transports: an EventSource on /events?format=envelope where the browser has
 * one, else XHR long-polling on /poll (same origin or CORS), else JSONP on
 * /poll (script tags, any origin). Force one with {transport: "eventsource" |
 * "poll" | "jsonp"}. EventSource and XHR from another origin need the service
 * to allow the page's origin (PLEXOR_CORS_ORIGINS); when it does not, "auto"
 * notices on its first request and switches to JSONP.
 *
 * Exactly-once delivery: the client keeps one cursor (the ID of the last event
 * it delivered, or the position the service reported). Every connection starts
 * from that cursor, so reconnects and execute() lose nothing on channels that
 * stay, and an event whose ID is not after the cursor is never delivered again.
 *
 * One feed per browser: the clients of all tabs of an origin that use the same
 * service URL, transport option and subscriber token share one connection.
 * One tab leads (it holds a Web Lock) and subscribes to the union of every
 * tab's channels; it relays each event, and the cursor, to the others over a
 * BroadcastChannel; each tab hands an event only to its own callbacks, and an
 * event limited to an audience (only_for) only if the tab itself listens to
 * one of the only_for channels the envelope names. When
 * the leader goes, the next tab takes the lock and resumes from the shared
 * cursor. {share: false} (or an explicit cursor) gives a tab its own feed, and
 * so does a browser without those APIs.
 *
 * Written in ES5 on purpose: the fallbacks exist for old browsers.
 */
(function (root, factory) {
  var Plexor = factory(root);
  if (typeof module === "object" && module && module.exports) {
    module.exports = Plexor;
  }
  if (root) {
    root.Plexor = Plexor;
  }
})(typeof self !== "undefined" ? self : typeof window !== "undefined" ? window : this, function (global) {
  "use strict";

  var CHANNEL = /^[A-Za-z0-9_.:@-]{1,128}$/;
  var TRANSPORTS = { auto: 1, eventsource: 1, poll: 1, jsonp: 1 };
  var JSONP_REGISTRY = "__plexorJsonp"; // global object holding the JSONP callbacks
  var jsonpSeq = 0;

  function noop() {}

  function has(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function now() {
    return new Date().getTime();
  }

  // isAfter reports whether event ID a comes after b. IDs are decimal strings
  // without leading zeros: a longer one is larger, equal lengths compare as text.
  function isAfter(a, b) {
    if (a.length !== b.length) {
      return a.length > b.length;
    }
    return a > b;
  }

  function copy(list) {
    var out = [];
    for (var i = 0; i < list.length; i++) {
      out.push(list[i]);
    }
    return out;
  }

  function contains(list, item) {
    for (var i = 0; i < list.length; i++) {
      if (list[i] === item) {
        return true;
      }
    }
    return false;
  }

  // minus returns the items of a that are not in b.
  function minus(a, b) {
    var out = [];
    for (var i = 0; i < a.length; i++) {
      if (!contains(b, a[i])) {
        out.push(a[i]);
      }
    }
    return out;
  }

  function sameList(a, b) {
    if (a.length !== b.length) {
      return false;
    }
    for (var i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        return false;
      }
    }
    return true;
  }

  function listen(target, type, fn) {
    if (target.addEventListener) {
      target.addEventListener(type, fn, false);
    } else if (target.attachEvent) {
      target.attachEvent("on" + type, fn);
    }
  }

  function unlisten(target, type, fn) {
    if (target.removeEventListener) {
      target.removeEventListener(type, fn, false);
    } else if (target.detachEvent) {
      target.detachEvent("on" + type, fn);
    }
  }

  // rethrow reports an exception of a user callback without breaking delivery.
  function rethrow(err) {
    setTimeout(function () {
      throw err;
    }, 0);
  }

  // sameOrigin reports whether url is served by the page's own origin.
  function sameOrigin(url) {
    if (!global.location || !global.document) {
      return false;
    }
    if (!/^([a-z][a-z0-9+.-]*:)?\/\//i.test(url)) {
      return true; // relative URL
    }
    var a = global.document.createElement("a");
    a.href = url;
    return a.protocol === global.location.protocol && a.host === global.location.host;
  }

  function pickTransport(url) {
    if (typeof global.EventSource === "function" || typeof global.EventSource === "object") {
      return "eventsource";
    }
    if (global.XMLHttpRequest && (sameOrigin(url) || "withCredentials" in new global.XMLHttpRequest())) {
      return "poll";
    }
    return "jsonp";
  }

  // randomKey makes a client key: 16 characters from a-z 0-9.
  function randomKey() {
    var key = "";
    while (key.length < 16) {
      key += Math.floor(Math.random() * 2176782336).toString(36); // 36^6
    }
    return key.slice(0, 16);
  }

  // backoff is the delay before reconnect attempt n (0-based): exponential,
  // capped, with jitter so that clients do not return all at once.
  function backoff(base, max, attempt) {
    var d = base * Math.pow(2, Math.min(attempt, 16));
    if (d > max) {
      d = max;
    }
    return Math.round(d * (0.5 + Math.random() * 0.5));
  }

  // xhrGet fetches a JSON answer; done(err, answer). err has status (0 for a
  // network error or timeout), the parsed error body when there is one, and
  // retryAfter (seconds) when the service asked for it.
  function xhrGet(url, timeoutMs, withCredentials, done) {
    var finished = false;
    var x = new global.XMLHttpRequest();
    var timer = setTimeout(function () {
      finish({ status: 0, message: "timeout" });
      try {
        x.abort();
      } catch (e) {}
    }, timeoutMs);
    function finish(err, answer) {
      if (finished) {
        return;
      }
      finished = true;
      clearTimeout(timer);
      done(err, answer);
    }
    x.open("GET", url, true);
    if (withCredentials) {
      x.withCredentials = true;
    }
    x.onreadystatechange = function () {
      if (x.readyState !== 4 || finished) {
        return;
      }
      var body = null;
      try {
        body = JSON.parse(x.responseText);
      } catch (e) {}
      if (x.status === 200 && body) {
        finish(null, body);
        return;
      }
      var retryAfter = parseInt(x.getResponseHeader("Retry-After") || "", 10);
      finish({
        status: x.status,
        message: body && body.error ? body.error.message : "request failed",
        error: body && body.error ? body.error : null,
        retryAfter: retryAfter > 0 ? retryAfter : 0
      });
    };
    x.send(null);
    return {
      abort: function () {
        if (!finished) {
          finished = true;
          clearTimeout(timer);
          try {
            x.abort();
          } catch (e) {}
        }
      }
    };
  }

  // jsonpGet loads url as a script calling back a global function; any
  // origin works. Errors only show as the script's error event or a timeout.
  function jsonpGet(url, timeoutMs, withCredentials, done) {
    var doc = global.document;
    var registry = global[JSONP_REGISTRY] || (global[JSONP_REGISTRY] = {});
    var name = "c" + ++jsonpSeq;
    var script = doc.createElement("script");
    var finished = false;
    var timer = setTimeout(function () {
      finish({ status: 0, message: "timeout" });
    }, timeoutMs);
    function cleanup() {
      clearTimeout(timer);
      script.onerror = script.onload = script.onreadystatechange = null;
      if (script.parentNode) {
        script.parentNode.removeChild(script);
      }
      // A script already requested may still run: leave a no-op behind for a while.
      registry[name] = noop;
      setTimeout(function () {
        try {
          delete registry[name];
        } catch (e) {
          registry[name] = undefined;
        }
      }, timeoutMs + 60000);
    }
    function finish(err, answer) {
      if (finished) {
        return;
      }
      finished = true;
      cleanup();
      done(err, answer);
    }
    registry[name] = function (answer) {
      finish(null, answer);
    };
    script.async = true;
    script.src = url + (url.indexOf("?") < 0 ? "?" : "&") + "callback=" + JSONP_REGISTRY + "." + name;
    script.onerror = function () {
      finish({ status: 0, message: "script failed to load" });
    };
    // Old IE has no error event: a script that loaded without calling back failed.
    script.onload = script.onreadystatechange = function () {
      var state = script.readyState;
      if (!state || state === "loaded" || state === "complete") {
        setTimeout(function () {
          finish({ status: 0, message: "no callback from the script" });
        }, 0);
      }
    };
    (doc.getElementsByTagName("head")[0] || doc.documentElement).appendChild(script);
    return {
      abort: function () {
        if (!finished) {
          finished = true;
          cleanup();
        }
      }
    };
  }

  /**
   * new Plexor(url, options)
   *
   * url: the service's base URL ("https://rt.example.com/"; "" or "/" for the
   * page's own origin).
   * options (a string is taken as the namespace, as in Dklab Realplexor):
   *   namespace        prefixed to every channel name on the wire, stripped in callbacks ("")
   *   transport        "auto" (default), "eventsource", "poll" or "jsonp"
   *   pollTimeout      seconds a long-poll may be held by the service (25; the service caps it)
   *   cursor           start after this event ID instead of "now" (resume across page loads)
   *   reconnectDelay   base of the reconnect backoff in ms (1000)
   *   maxReconnectDelay  cap of the backoff in ms (30000)
   *   withCredentials  send cookies cross-origin (false)
   *   onReset(info)    the service no longer has every event after the cursor
   *                    (info: {reason, cursor}); refetch your state. Default: nothing
   *                    (the events it still has are delivered as usual).
   *   onError(err)     a request failed ({status, message, error, retryAfter}); the client retries by itself
   *   onStatus(status) "connecting", "connected", "reconnecting", "closed"
   *   token            a subscriber token for private channels, sent as ?token= (none)
   *   share            share one feed with the other tabs of this browser (true)
   *   onRole(role)     "leader" (this tab holds the shared feed), "follower" (another
   *                    tab does) or "solo" (a feed of its own)
   */
  function Plexor(url, options) {
    if (!(this instanceof Plexor)) {
      return new Plexor(url, options);
    }
    if (typeof options === "string") {
      options = { namespace: options };
    }
    options = options || {};
    var transport = options.transport || "auto";
    if (!TRANSPORTS[transport]) {
      throw new Error('Plexor: unknown transport "' + transport + '" (use auto, eventsource, poll or jsonp)');
    }
    this.url = String(url == null ? "" : url).replace(/\/+$/, "");
    this.namespace = options.namespace || "";
    this.transport = transport === "auto" ? pickTransport(this.url) : transport;
    // In auto mode a cross-origin client falls back to JSONP when its first
    // request fails the way a missing CORS permission does.
    this._fallback = transport === "auto" && !sameOrigin(this.url);
    this.pollTimeout = options.pollTimeout == null ? 25 : Number(options.pollTimeout);
    this.reconnectDelay = options.reconnectDelay || 1000;
    this.maxReconnectDelay = options.maxReconnectDelay || 30000;
    this.withCredentials = !!options.withCredentials;
    this.onReset = options.onReset || null;
    this.onError = options.onError || null;
    this.onStatus = options.onStatus || null;
    this.onRole = options.onRole || null;
    this.token = options.token ? String(options.token) : "";
    /** The position: every event up to this ID has been delivered (null: not known yet). */
    this.cursor = options.cursor ? String(options.cursor) : null;
    /** "idle", "connecting", "connected", "reconnecting" or "closed". */
    this.status = "idle";
    /** Counters, handy for debugging and tests. */
    this.stats = { connects: 0, polls: 0, errors: 0, resets: 0, delivered: 0 };

    this._subs = {}; // "#" + channel name (without namespace) -> [callback]
    this._wire = []; // the applied channel set, wire names, sorted
    this._gen = 0; // bumped whenever the connection is replaced; stale callbacks check it
    this._conn = null; // {abort()} of the current request, stream or timer
    this._attempt = 0; // consecutive failures, for the backoff
    // Identifies this client's consecutive polls to the service (?client=),
    // so it counts as one listener between polls, not one per poll.
    this._client = randomKey();
    /** "solo" (own feed), "leader" (holds the feed this browser shares) or "follower". */
    this.role = "solo";
    // The tabs of a browser share a feed unless told not to; a client that
    // resumes from a cursor of its own cannot use the shared one.
    this._share = options.share !== false && !options.cursor && canShare() ?
      new Share(this, shareName(this, transport)) : null;
  }

  /** subscribe adds callback(data, channel, id, type) to a channel; call execute() to apply. */
  Plexor.prototype.subscribe = function (channel, callback) {
    channel = String(channel);
    if (!CHANNEL.test(this.namespace + channel)) {
      throw new Error('Plexor: invalid channel name "' + this.namespace + channel +
        '": use 1-128 characters from A-Z a-z 0-9 _ - . : @');
    }
    if (typeof callback !== "function") {
      throw new Error("Plexor: subscribe needs a callback function");
    }
    var key = "#" + channel; // a prefix keeps names like __proto__ harmless
    var list = has(this._subs, key) ? this._subs[key] : (this._subs[key] = []);
    if (!contains(list, callback)) {
      list.push(callback);
    }
    return this;
  };

  /** unsubscribe removes a callback (or, without one, every callback) of a channel; call execute() to apply. */
  Plexor.prototype.unsubscribe = function (channel, callback) {
    channel = String(channel);
    var key = "#" + channel;
    if (!has(this._subs, key)) {
      return this;
    }
    if (callback) {
      var kept = [];
      var list = this._subs[key];
      for (var i = 0; i < list.length; i++) {
        if (list[i] !== callback) {
          kept.push(list[i]);
        }
      }
      this._subs[key] = kept;
    }
    if (!callback || !this._subs[key].length) {
      delete this._subs[key];
    }
    return this;
  };

  /** channels lists the subscribed channel names (without namespace). */
  Plexor.prototype.channels = function () {
    var out = [];
    for (var key in this._subs) {
      if (has(this._subs, key)) {
        out.push(key.slice(1));
      }
    }
    return out.sort();
  };

  /**
   * execute applies the subscription set: it (re)connects to exactly the
   * subscribed channels, from the current cursor, so channels that stay lose
   * nothing; channels added start with the events published from now on.
   */
  Plexor.prototype.execute = function () {
    var wanted = [];
    var names = this.channels();
    for (var i = 0; i < names.length; i++) {
      wanted.push(this.namespace + names[i]);
    }
    wanted.sort();
    if (this._share) {
      // The leader (maybe this tab) applies the union of every tab's set.
      if (wanted.length || this._share.joined) {
        this._share.join(wanted);
      }
      return this;
    }
    return this._applyWire(wanted, false);
  };

  // _applyWire connects this client's feed to exactly the wire channels
  // wanted. resume: open from the cursor as it is, also for channels not
  // subscribed before (a new leader taking over the shared cursor).
  Plexor.prototype._applyWire = function (wanted, resume) {
    var live = this._conn !== null && this.status !== "closed";
    if (live && sameList(wanted, this._wire)) {
      return this;
    }
    var previous = this._wire;
    this._stop();
    this._wire = wanted;
    if (!wanted.length) {
      this._setStatus("idle");
      return this;
    }
    this._attempt = 0;
    this._setStatus("connecting");
    var gen = this._gen;
    var self = this;
    if (!resume && this.cursor !== null && previous.length && minus(wanted, previous).length) {
      // Channels are added: bring the channels we had up to "now" first, so
      // the new ones start now rather than at an old cursor (which could
      // replay a long way back, or get a reset, on a busy new channel).
      this._conn = this._request(this._pollURL(previous, this.cursor, 0), function (err, answer) {
        if (gen !== self._gen) {
          return;
        }
        if (!err) {
          self._handleAnswer(answer, self.cursor);
        }
        self._open(gen);
      });
      return this;
    }
    this._open(gen);
    return this;
  };

  /** close ends the connection. A later execute() resumes from the cursor. */
  Plexor.prototype.close = function () {
    if (this._share) {
      this._share.leave();
    }
    this._stop();
    this._wire = [];
    this._setStatus("closed");
    return this;
  };

  // _stop drops the current connection, request or timer; whatever it still
  // reports is ignored (its generation is stale).
  Plexor.prototype._stop = function () {
    this._gen++;
    if (this._conn) {
      var conn = this._conn;
      this._conn = null;
      conn.abort();
    }
  };

  Plexor.prototype._setStatus = function (status) {
    if (this.status === status) {
      return;
    }
    this.status = status;
    if (this._share && this._share.leading) {
      this._share.postState();
    }
    if (this.onStatus) {
      try {
        this.onStatus(status);
      } catch (e) {
        rethrow(e);
      }
    }
  };

  Plexor.prototype._request = function (url, done) {
    var timeoutMs = (this.pollTimeout + 15) * 1000;
    if (this.transport === "jsonp") {
      return jsonpGet(url, timeoutMs, this.withCredentials, done);
    }
    return xhrGet(url, timeoutMs, this.withCredentials, done);
  };

  Plexor.prototype._pollURL = function (channels, cursor, timeout) {
    var url = this.url + "/poll?channels=" + encodeURIComponent(channels.join(","));
    if (cursor !== null) {
      url += "&cursor=" + encodeURIComponent(cursor);
    }
    return url + "&timeout=" + timeout + "&client=" + this._client + this._tokenParam();
  };

  // _open connects the current channel set from the cursor. Without a cursor
  // it first asks the service for its current position (an immediate poll),
  // so that every later connection, reconnect or execute() has an exact
  // starting point even before the first event arrives.
  Plexor.prototype._open = function (gen) {
    var self = this;
    var doc = global.document;
    if (this.transport === "jsonp" && doc && doc.readyState !== "complete") {
      // A script inserted before the page has loaded holds up its load
      // event (and the browser's spinner) for as long as a long-poll lasts.
      var onLoad = function () {
        unlisten(global, "load", onLoad);
        if (gen === self._gen) {
          self._open(gen);
        }
      };
      listen(global, "load", onLoad);
      this._conn = {
        abort: function () {
          unlisten(global, "load", onLoad);
        }
      };
      return;
    }
    if (this.transport !== "eventsource") {
      this._poll(gen);
      return;
    }
    if (this.cursor === null) {
      this._conn = this._request(this._pollURL(this._wire, null, 0), function (err, answer) {
        if (gen !== self._gen) {
          return;
        }
        if (err) {
          self._fail(gen, err);
          return;
        }
        self._fallback = false;
        self._handleAnswer(answer, null);
        self._eventSource(gen);
      });
      return;
    }
    this._eventSource(gen);
  };

  // _eventSource streams /events?format=envelope from the cursor.
  Plexor.prototype._eventSource = function (gen) {
    var self = this;
    var url = this.url + "/events?channels=" + encodeURIComponent(this._wire.join(",")) +
      "&format=envelope&lastEventId=" + encodeURIComponent(this.cursor) + "&client=" + this._client +
      this._tokenParam();
    var es = new global.EventSource(url, { withCredentials: this.withCredentials });
    this._conn = {
      abort: function () {
        es.close();
      }
    };
    es.onopen = function () {
      if (gen !== self._gen) {
        return;
      }
      self._attempt = 0;
      self._fallback = false;
      self.stats.connects++;
      self._setStatus("connected");
    };
    es.onmessage = function (e) {
      if (gen !== self._gen) {
        return;
      }
      var env;
      try {
        env = JSON.parse(e.data);
      } catch (err) {
        return; // not an envelope: nothing this client can deliver
      }
      self._deliver(env);
    };
    es.addEventListener("reset", function (e) {
      if (gen !== self._gen) {
        return;
      }
      var info = { reason: "history", cursor: self.cursor };
      try {
        info = JSON.parse(e.data);
      } catch (err) {}
      self._reset(info);
    });
    es.onerror = function () {
      if (gen !== self._gen) {
        return;
      }
      if (es.readyState === 2) {
        // CLOSED: the browser gave up (an error answer). Reconnect ourselves,
        // from our cursor, with backoff.
        es.close();
        self._fail(gen, { status: 0, message: "event stream failed" });
        return;
      }
      // CONNECTING: the stream ended (the service may close it at any time);
      // the browser reconnects by itself after the service's retry hint and
      // sends Last-Event-ID, which the service resumes from.
      self._setStatus("reconnecting");
    };
  };

  // _poll runs the long-poll loop: each answer carries the next cursor.
  Plexor.prototype._poll = function (gen) {
    var self = this;
    var timeout = this.cursor === null ? 0 : this.pollTimeout;
    var started = now();
    var sent = this.cursor;
    this._conn = this._request(this._pollURL(this._wire, sent, timeout), function (err, answer) {
      if (gen !== self._gen) {
        return;
      }
      if (err) {
        self._fail(gen, err);
        return;
      }
      self._attempt = 0;
      self._fallback = false;
      self.stats.polls++;
      if (self.status !== "connected") {
        self.stats.connects++;
        self._setStatus("connected");
      }
      self._handleAnswer(answer, sent);
      if (gen !== self._gen) {
        return; // a callback called execute() or close()
      }
      var empty = !answer.events || !answer.events.length;
      if (empty && timeout > 0 && now() - started < 100) {
        // An empty answer at once to a long-poll: don't spin.
        self._later(gen, 1000, function () {
          self._poll(gen);
        });
        return;
      }
      self._poll(gen);
    });
  };

  // _handleAnswer delivers a /poll answer and moves the cursor on.
  Plexor.prototype._handleAnswer = function (answer, sent) {
    if (!answer || typeof answer !== "object") {
      return;
    }
    if (answer.reset) {
      this._reset({ reason: "history", cursor: sent });
    }
    var evs = answer.events || [];
    for (var i = 0; i < evs.length; i++) {
      this._deliver(evs[i]);
    }
    this._advance(answer.cursor);
  };

  // _advance moves the cursor on to a position the service reported (never
  // back); the leader passes it on to the tabs that follow.
  Plexor.prototype._advance = function (cursor) {
    if (typeof cursor === "string" && cursor !== "" &&
      (this.cursor === null || isAfter(cursor, this.cursor))) {
      this.cursor = cursor;
      if (this._share && this._share.leading) {
        this._share.post({ t: "cur", cursor: cursor });
      }
    }
  };

  // _deliver hands one envelope to the callbacks of its channels, once. An
  // event limited to an audience (only_for) goes only to a client that
  // listens to one of its only_for channels itself: a shared feed listens to
  // every tab's channels, so the service's own check is not enough.
  Plexor.prototype._deliver = function (env) {
    if (!env || typeof env.id !== "string") {
      return;
    }
    if (this.cursor !== null && !isAfter(env.id, this.cursor)) {
      return; // delivered already (a replay after a reconnect)
    }
    if (this._share && this._share.leading) {
      this._share.post({ t: "ev", env: env });
    }
    this.cursor = env.id;
    if (env.only_for && !this._listensTo(env.only_for)) {
      return; // for another tab of the shared feed
    }
    var channels = env.channels || [];
    var ns = this.namespace;
    for (var i = 0; i < channels.length; i++) {
      var wire = String(channels[i]);
      if (wire.slice(0, ns.length) !== ns) {
        continue;
      }
      var name = wire.slice(ns.length);
      if (!has(this._subs, "#" + name)) {
        continue;
      }
      var list = copy(this._subs["#" + name]);
      for (var j = 0; j < list.length; j++) {
        this.stats.delivered++;
        try {
          list[j].call(this, env.data, name, env.id, env.type || "message");
        } catch (e) {
          rethrow(e);
        }
      }
    }
  };

  // _listensTo reports whether one of the wire channel names is in this
  // client's own channel set: the set it last applied, or, sharing a feed,
  // the set it last announced to the other tabs (not the shared union).
  Plexor.prototype._listensTo = function (names) {
    var own = this._wire;
    if (this._share && this._share.joined) {
      var me = this._share.peers["#" + this._share.id];
      own = me ? me.wire : [];
    }
    for (var i = 0; i < names.length; i++) {
      if (contains(own, String(names[i]))) {
        return true;
      }
    }
    return false;
  };

  Plexor.prototype._reset = function (info) {
    if (this._share && this._share.leading) {
      this._share.post({ t: "reset", info: info });
    }
    this.stats.resets++;
    if (this.onReset) {
      try {
        this.onReset(info);
      } catch (e) {
        rethrow(e);
      }
    }
  };

  // _fail reports a failed connection and retries after a backoff (or after
  // the Retry-After the service asked for).
  Plexor.prototype._fail = function (gen, err) {
    var self = this;
    if (this._fallback && err && err.status === 0 && this.transport !== "jsonp") {
      // Cross-origin, nothing ever worked, and the failure looks like a CORS
      // refusal (no status): JSONP needs no permission from the service.
      this._fallback = false;
      this.transport = "jsonp";
      this._open(gen);
      return;
    }
    if (this._share && this._share.leading) {
      this._share.post({ t: "err", err: err });
    }
    this._error(err);
    if (gen !== this._gen) {
      return; // onError called execute() or close()
    }
    var delay = err && err.retryAfter ? err.retryAfter * 1000 :
      backoff(this.reconnectDelay, this.maxReconnectDelay, this._attempt);
    this._attempt++;
    this._later(gen, delay, function () {
      self._open(gen);
    });
  };

  // _error counts a failed request and reports it (onError); the tabs that
  // follow get their leader's.
  Plexor.prototype._error = function (err) {
    this.stats.errors++;
    this._setStatus("reconnecting");
    if (this.onError) {
      try {
        this.onError(err);
      } catch (e) {
        rethrow(e);
      }
    }
  };

  Plexor.prototype._later = function (gen, delay, fn) {
    var self = this;
    var timer = setTimeout(function () {
      if (gen === self._gen) {
        fn();
      }
    }, delay);
    this._conn = {
      abort: function () {
        clearTimeout(timer);
      }
    };
  };

  Plexor.prototype._tokenParam = function () {
    return this.token ? "&token=" + encodeURIComponent(this.token) : "";
  };

  Plexor.prototype._setRole = function (role) {
    if (this.role === role) {
      return;
    }
    this.role = role;
    if (this.onRole) {
      try {
        this.onRole(role);
      } catch (e) {
        rethrow(e);
      }
    }
  };

  // ---- One feed per browser: the tabs share the leader's connection ----
  //
  // Why a leader tab and not a SharedWorker: a SharedWorker's script must be
  // of the page's own origin (plexor.js is often loaded from the service's),
  // a worker has no document for JSONP, and Chrome for Android has no
  // SharedWorker. Web Locks give the election for free: a lock is released
  // when its tab closes or crashes, and the next tab waiting gets it at once.

  var SHARE_BEAT = 500; // ms between the leader's heartbeats
  var SHARE_STALE = 3000; // ms of leader silence after which a visible tab takes over
  var SHARE_PRUNE = 1500; // ms after taking over: tabs that did not answer are dropped

  // canShare reports whether this browser has what sharing needs.
  function canShare() {
    var nav = global.navigator;
    return !!(global.document && typeof global.BroadcastChannel === "function" &&
      nav && nav.locks && typeof nav.locks.request === "function");
  }

  // shareName names the lock and the channel of a group of clients that may
  // share a feed: same service URL, transport option, credentials and token.
  // (BroadcastChannel and Web Locks are visible to this origin's scripts only,
  // which can read the token anyway.)
  function shareName(client, transport) {
    var a = global.document.createElement("a");
    a.href = client.url + "/";
    return "plexor:" + JSON.stringify([a.href, transport, client.withCredentials, client.token]);
  }

  // newer reports whether leadership (term a, tab ida) is newer than (b, idb).
  function newer(a, ida, b, idb) {
    return a !== b ? a > b : ida > idb;
  }

  // Share is a client's part in its group: it holds the group's view of
  // every tab's channels, queues for the lock, and leads or follows.
  function Share(client, name) {
    this.c = client;
    this.name = name;
    this.id = randomKey(); // this client among the group
    this.bc = null; // the BroadcastChannel, while joined
    this.joined = false;
    this.leading = false;
    this.term = 0; // the newest leadership seen: term and leader id
    this.leader = "";
    this.peers = {}; // "#" + client id -> {wire: [...], at: ms}: every client's channels
    this.ledAt = 0; // when this client took over (0: pruned already, or not leading)
    this.lastBeat = 0; // when the leader was last heard from
    this.lastTick = 0; // when tick last ran
    this.grant = 0; // numbers the locks granted, so a stale grant is told apart
    this.release = null; // releases the lock held
    this.queued = null; // {abort()} of the pending lock request
    this.timer = null; // the heartbeat / watchdog interval
    // How long a leader may be silent before this client takes over: spread,
    // so that the tabs of a hung leader do not all take the lock in turn.
    this.patience = SHARE_STALE + Math.floor(Math.random() * SHARE_BEAT * 2);
    var self = this;
    this.onMessage = function (e) {
      self.receive(e.data);
    };
    this.onPageHide = function (e) {
      if (e && e.persisted) {
        self.frozen(); // kept in the back/forward cache: may come back
      } else {
        self.leave();
      }
    };
    this.onFreeze = function () {
      self.frozen();
    };
    this.onResume = function () {
      if (self.joined && !self.queued && !self.leading) {
        self.announce(true);
        self.queue();
      }
    };
  }

  Share.prototype.post = function (msg) {
    if (!this.bc) {
      return;
    }
    msg.from = this.id;
    msg.term = this.term;
    this.bc.postMessage(msg);
  };

  Share.prototype.postState = function () {
    var c = this.c;
    this.post({ t: "state", status: c.status, transport: c.transport, cursor: c.cursor, wire: c._wire });
  };

  // announce tells the group this client's channels (hello: and asks the
  // leader for its state).
  Share.prototype.announce = function (hello) {
    var wire = this.peers["#" + this.id].wire;
    this.post({ t: "subs", wire: wire, hello: !!hello });
  };

  // join sets this client's channels and takes part in the group.
  Share.prototype.join = function (wire) {
    var c = this.c;
    this.peers["#" + this.id] = { wire: wire, at: now() };
    if (!this.joined) {
      this.joined = true;
      this.bc = new global.BroadcastChannel(this.name);
      this.bc.onmessage = this.onMessage;
      listen(global, "pagehide", this.onPageHide);
      listen(global.document, "freeze", this.onFreeze);
      listen(global.document, "resume", this.onResume);
      listen(global, "pageshow", this.onResume);
      var self = this;
      this.timer = setInterval(function () {
        self.tick();
      }, SHARE_BEAT);
      c._setRole("follower");
      if (c.status === "idle" || c.status === "closed") {
        c._setStatus("connecting");
      }
      this.announce(true);
      this.queue();
      return;
    }
    this.announce(false);
    if (this.leading) {
      this.apply();
    }
  };

  // leave ends this client's part: the others drop its channels, and the
  // next client in line takes over if it led.
  Share.prototype.leave = function () {
    if (!this.joined) {
      return;
    }
    if (this.leading) {
      this.stepDown(true);
    }
    this.post({ t: "bye" });
    this.unqueue();
    clearInterval(this.timer);
    unlisten(global, "pagehide", this.onPageHide);
    unlisten(global.document, "freeze", this.onFreeze);
    unlisten(global.document, "resume", this.onResume);
    unlisten(global, "pageshow", this.onResume);
    this.bc.close();
    this.bc = null;
    this.joined = false;
    this.peers = {};
    this.c._setRole("solo");
  };

  // frozen: the page is about to be frozen (or cached); a frozen leader
  // would hold the lock and relay nothing, so it hands over at once.
  Share.prototype.frozen = function () {
    if (this.leading) {
      this.stepDown(true);
    }
    this.unqueue();
  };

  // queue asks for the lock; the callback runs when this client is to lead.
  Share.prototype.queue = function (steal) {
    var self = this;
    var locks = global.navigator.locks;
    this.unqueue();
    var opts = {};
    var ctl = null;
    if (steal) {
      opts.steal = true; // a lock request that steals cannot be aborted
    } else if (typeof global.AbortController === "function") {
      ctl = new global.AbortController();
      opts.signal = ctl.signal;
    }
    var cancelled = false;
    this.queued = {
      abort: function () {
        cancelled = true;
        if (ctl) {
          ctl.abort();
        }
      }
    };
    var grant = 0;
    locks.request(this.name, opts, function () {
      if (cancelled || !self.joined) {
        return null; // released at once
      }
      self.queued = null;
      grant = ++self.grant;
      return new Promise(function (resolve) {
        self.release = resolve;
        self.lead();
      });
    }).then(null, function () {
      // Aborted while queued, or stolen while held: in the latter case
      // another tab leads now.
      if (grant && grant === self.grant && self.leading) {
        self.stepDown(false);
      }
    });
  };

  Share.prototype.unqueue = function () {
    if (this.queued) {
      this.queued.abort();
      this.queued = null;
    }
  };

  // lead: this client holds the lock; it opens the shared feed for the
  // union of the group's channels from the shared cursor.
  Share.prototype.lead = function () {
    this.term++;
    this.leader = this.id;
    this.leading = true;
    this.ledAt = now();
    this.post({ t: "lead" });
    this.c._setRole("leader");
    this.c._applyWire(this.union(), true);
    this.postState();
  };

  // stepDown ends this client's lead (resign: tell the group, so the next
  // in line is not kept waiting) and queues again unless it is leaving.
  Share.prototype.stepDown = function (resign) {
    this.leading = false;
    this.c._stop();
    this.c._wire = [];
    if (resign) {
      this.post({ t: "resign" });
    }
    if (this.release) {
      this.release();
      this.release = null;
    }
    this.c._setRole("follower");
    if (!resign) {
      this.queue();
    }
  };

  // union is every client's channels together, sorted.
  Share.prototype.union = function () {
    var seen = {};
    var out = [];
    for (var key in this.peers) {
      if (has(this.peers, key)) {
        var wire = this.peers[key].wire;
        for (var i = 0; i < wire.length; i++) {
          if (!has(seen, "#" + wire[i])) {
            seen["#" + wire[i]] = 1;
            out.push(wire[i]);
          }
        }
      }
    }
    return out.sort();
  };

  Share.prototype.apply = function () {
    this.c._applyWire(this.union(), false);
  };

  // tick: the leader's heartbeat (its state) and its pruning of clients
  // that did not answer its takeover; a follower's watchdog.
  Share.prototype.tick = function () {
    if (this.leading) {
      if (this.ledAt && now() - this.ledAt > SHARE_PRUNE) {
        var ledAt = this.ledAt;
        this.ledAt = 0;
        for (var key in this.peers) {
          if (has(this.peers, key) && this.peers[key].at < ledAt && key !== "#" + this.id) {
            delete this.peers[key];
          }
        }
        this.apply();
      }
      this.postState();
      return;
    }
    var doc = global.document;
    var t = now();
    if (t - this.lastTick > SHARE_BEAT * 3) {
      // This tab itself did not run for a while (a busy or starved thread,
      // a throttled timer): the leader's messages may be waiting in its
      // queue. Silence counts from now.
      this.lastBeat = this.lastBeat && t;
    }
    this.lastTick = t;
    if (this.leader && this.lastBeat && t - this.lastBeat > this.patience &&
      doc.visibilityState !== "hidden") {
      // The leader holds the lock but says nothing (hung, or frozen without
      // notice): take the lock from it. Its relays carry an older term from
      // now on and are ignored.
      this.lastBeat = 0;
      this.queue(true);
    }
  };

  // receive handles a message of another client of the group.
  Share.prototype.receive = function (m) {
    if (!m || typeof m !== "object" || !this.joined) {
      return;
    }
    var c = this.c;
    if (m.t === "subs") {
      this.peers["#" + m.from] = { wire: m.wire || [], at: now() };
      if (this.leading) {
        this.apply();
        if (m.hello) {
          this.postState();
        }
      }
      return;
    }
    if (m.t === "bye") {
      delete this.peers["#" + m.from];
      if (this.leading) {
        this.apply();
      }
      return;
    }
    // The rest comes from a leader: only the newest counts.
    if (newer(this.term, this.leader, m.term, m.from)) {
      return;
    }
    if (m.term !== this.term || m.from !== this.leader) {
      this.term = m.term;
      this.leader = m.from;
      if (this.leading) {
        this.stepDown(false); // two leaders: the newer one stays
      }
    }
    this.lastBeat = now();
    switch (m.t) {
      case "lead":
        this.announce(false); // so the new leader knows this client is there
        break;
      case "ev":
        c._deliver(m.env);
        break;
      case "cur":
        c._advance(m.cursor);
        break;
      case "reset":
        c._reset(m.info);
        break;
      case "err":
        c._error(m.err);
        break;
      case "state":
        c._advance(m.cursor);
        c.transport = m.transport;
        // Connected means: this client's channels are on the leader's feed.
        var mine = this.peers["#" + this.id].wire;
        var covered = !minus(mine, m.wire || []).length;
        c._setStatus(m.status === "connected" && !covered ? "connecting" : m.status);
        break;
      case "resign":
        this.leader = "";
        this.lastBeat = 0;
        break;
    }
  };

  Plexor.isAfter = isAfter;
  Plexor.version = "1";

  return Plexor;
});

/*!
 * Dklab_Realplexor — Dklab Realplexor's browser API on top of Plexor, so a
 * page written for Realplexor keeps working when its script tag is swapped
 * for this file (Realplexor's own script needs document.domain, which
 * current browsers no longer honour). It uses only Plexor's public API.
 *
 *   var rpl = new Dklab_Realplexor("https://rt.example.com/", "demo_");
 *   rpl.logon("user");                         // IDs become user_demo_<id>
 *   rpl.setCursor("Alpha", cursor);            // deliver only what comes after cursor
 *   rpl.subscribe("Alpha", function (data, id, cursor) { ... });
 *   rpl.execute();                             // (re)connect to the subscribed IDs
 *   rpl.unsubscribe("Alpha", callback);        // or null: every callback of the ID
 *
 * Callbacks get (data, id, cursor): the published JSON value, the ID without
 * the namespace and login prefixes, and the event's ID, which setCursor
 * accepts to resume from there (Plexor's IDs, not Realplexor's timestamps).
 * unsubscribe takes effect at once; execute() drops IDs left without
 * callbacks from the connection, and channels that stay lose nothing.
 */
(function (root) {
  "use strict";
  var Plexor = root && root.Plexor;
  if (!Plexor && typeof module === "object" && module && typeof module.exports === "function") {
    Plexor = module.exports;
  }
  if (!Plexor) {
    return;
  }
  var CURSOR = /^[0-9]{1,20}$/;

  function Dklab_Realplexor(fullUrl, namespace) {
    if (!(this instanceof Dklab_Realplexor)) {
      return new Dklab_Realplexor(fullUrl, namespace);
    }
    this.version = "plexor-" + Plexor.version;
    this._url = String(fullUrl == null ? "" : fullUrl).replace(/[?#].*$/, "");
    this._namespace = namespace == null ? "" : String(namespace);
    this._login = null;
    this._map = {}; // "#" + id -> {cursor: string|null, callbacks: [function]}
    this._client = null; // the Plexor client of the current prefix
    this._prefix = null; // that client's namespace: login_ + namespace
    this._relays = {}; // "#" + id -> the function subscribed to the Plexor client
  }

  function entry(self, id) {
    id = String(id);
    var key = "#" + id;
    if (!Object.prototype.hasOwnProperty.call(self._map, key)) {
      self._map[key] = { cursor: null, callbacks: [] };
    }
    return self._map[key];
  }

  /** logon sets the login: IDs are then prefixed with login + "_" (before the namespace) at the next execute(). */
  Dklab_Realplexor.prototype.logon = function (login) {
    this._login = login == null ? null : String(login);
    return this;
  };

  /** setCursor makes id deliver only events after cursor (an ID a callback got). */
  Dklab_Realplexor.prototype.setCursor = function (id, cursor) {
    cursor = cursor == null ? null : String(cursor);
    if (cursor !== null && !CURSOR.test(cursor)) {
      throw new Error('Dklab_Realplexor: cursor "' + cursor + '" is not an event ID');
    }
    entry(this, id).cursor = cursor;
    return this;
  };

  /** subscribe adds callback(data, id, cursor) to id; call execute() to connect. */
  Dklab_Realplexor.prototype.subscribe = function (id, callback) {
    if (typeof callback !== "function") {
      throw new Error("Dklab_Realplexor: subscribe needs a callback function");
    }
    var list = entry(this, id).callbacks;
    for (var i = 0; i < list.length; i++) {
      if (list[i] === callback) {
        return this;
      }
    }
    list.push(callback);
    return this;
  };

  /** unsubscribe removes callback (null: every callback) from id, at once. */
  Dklab_Realplexor.prototype.unsubscribe = function (id, callback) {
    var key = "#" + String(id);
    if (!Object.prototype.hasOwnProperty.call(this._map, key)) {
      return this;
    }
    var list = this._map[key].callbacks;
    var kept = [];
    for (var i = 0; i < list.length; i++) {
      if (callback != null && list[i] !== callback) {
        kept.push(list[i]);
      }
    }
    this._map[key].callbacks = kept;
    return this;
  };

  /** execute connects to the IDs that have callbacks (reconnecting only when the set changed). */
  Dklab_Realplexor.prototype.execute = function () {
    var prefix = (this._login != null ? this._login + "_" : "") + this._namespace;
    var cursor = null;
    if (this._client && this._prefix !== prefix) {
      cursor = this._client.cursor; // a new login: go on from where the old client was
      this._client.close();
      this._client = null;
    }
    if (!this._client) {
      for (var k in this._map) {
        var c = Object.prototype.hasOwnProperty.call(this._map, k) ? this._map[k].cursor : null;
        if (c !== null && (cursor === null || Plexor.isAfter(cursor, c))) {
          cursor = c; // the oldest cursor asked: every ID gets what it asked for
        }
      }
      this._client = new Plexor(this._url, cursor === null ? { namespace: prefix } : { namespace: prefix, cursor: cursor });
      this._prefix = prefix;
      this._relays = {};
    }
    for (var key in this._map) {
      if (!Object.prototype.hasOwnProperty.call(this._map, key)) {
        continue;
      }
      var id = key.slice(1);
      var wanted = this._map[key].callbacks.length > 0;
      if (wanted && !this._relays[key]) {
        this._relays[key] = relay(this, key);
        this._client.subscribe(id, this._relays[key]);
      } else if (!wanted && this._relays[key]) {
        this._client.unsubscribe(id, this._relays[key]);
        delete this._relays[key];
      }
    }
    this._client.execute();
    return this;
  };

  // relay is the Plexor callback of one ID: it hands each event after the
  // ID's cursor to the ID's callbacks of the moment.
  function relay(self, key) {
    return function (data, name, eventId) {
      var e = self._map[key];
      if (!e || (e.cursor !== null && !Plexor.isAfter(eventId, e.cursor))) {
        return;
      }
      e.cursor = eventId;
      var list = e.callbacks.slice();
      for (var i = 0; i < list.length; i++) {
        try {
          list[i](data, name, eventId);
        } catch (err) {
          setTimeout(function () { throw err; }, 0); // the other callbacks still run
        }
      }
    };
  }

  root.Dklab_Realplexor = Dklab_Realplexor;
  Plexor.Dklab_Realplexor = Dklab_Realplexor;
})(typeof self !== "undefined" ? self : typeof window !== "undefined" ? window : this);
