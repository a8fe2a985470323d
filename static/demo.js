// The demo page: the top half is a browser listening with plexor.js, the
// bottom half publishes through POST /demo/publish (demo_ channels only).
//
// Query parameters (handy for trying things out, and used by the browser
// tests): transport=auto|eventsource|poll|jsonp, channels=Alpha,Beta,
// pollTimeout=<seconds>, share=false (a feed of this tab's own).
//
// For tests, every delivery is also recorded in window.__received as
// {id, channel, data, type}, every change of role in window.__roles as
// {role, at} (ms since the epoch); the client is window.__plexor.
(function () {
  "use strict";

  var NAMESPACE = "demo_";
  var MAX_LINES = 100;
  var NAME = /^[A-Za-z0-9_.:@-]{1,123}$/;

  var params = parseQuery(location.search);
  var transport = params.transport || "auto";
  var initial = (params.channels === undefined ? "Alpha,Beta" : params.channels).split(",");

  var $ = function (id) { return document.getElementById(id); };
  var cards = {}; // channel -> {card, log}
  var known = []; // channels offered in the publish form

  window.__received = [];
  window.__roles = [];

  var plexor = new Plexor("", {
    namespace: NAMESPACE,
    transport: transport,
    pollTimeout: params.pollTimeout ? Number(params.pollTimeout) : 25,
    onStatus: showStatus,
    onRole: function (role) {
      window.__roles.push({ role: role, at: Date.now() });
      showStatus();
    },
    share: params.share !== "false",
    onReset: function (info) {
      window.__resets = (window.__resets || 0) + 1;
      for (var ch in cards) {
        if (cards.hasOwnProperty(ch)) {
          addLine(ch, "", "history no longer covers the gap (reset after " + info.cursor + ")", "reset");
        }
      }
    }
  });
  window.__plexor = plexor;

  $("transport").value = transport;
  $("in-use").textContent = plexor.transport;
  $("transport").addEventListener("change", function () {
    params.transport = this.value;
    location.search = buildQuery(params);
  });

  function parseQuery(search) {
    var out = {};
    var parts = search.replace(/^\?/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) { continue; }
      var kv = parts[i].split("=");
      out[decodeURIComponent(kv[0])] = decodeURIComponent((kv[1] || "").replace(/\+/g, " "));
    }
    return out;
  }

  function buildQuery(obj) {
    var parts = [];
    for (var k in obj) {
      if (obj.hasOwnProperty(k)) { parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(obj[k])); }
    }
    return "?" + parts.join("&");
  }

  var ROLES = { leader: "leads (shares its feed)", follower: "follows (another tab's feed)", solo: "own feed" };

  function showStatus() {
    $("status").textContent = plexor.status;
    $("in-use").textContent = plexor.transport; // auto may fall back to JSONP
    $("role").textContent = ROLES[plexor.role] || plexor.role;
    $("role").setAttribute("data-role", plexor.role);
    showCursor();
  }

  function showCursor() {
    $("cursor").textContent = plexor.cursor || "–";
  }

  function render(data) {
    return typeof data === "string" ? data : JSON.stringify(data);
  }

  function onMessage(data, channel, id, type) {
    window.__received.push({ id: id, channel: channel, data: data, type: type });
    addLine(channel, id, render(data), type === "message" ? "" : type);
    showCursor();
  }

  function addLine(channel, id, text, type) {
    var c = cards[channel];
    if (!c) { return; }
    var empty = c.log.querySelector(".empty");
    if (empty) { c.log.removeChild(empty); }
    var li = document.createElement("li");
    li.className = "fresh";
    if (id) {
      var code = document.createElement("code");
      code.textContent = id;
      li.appendChild(code);
    }
    var span = document.createElement("span");
    span.className = "data";
    span.textContent = text;
    li.appendChild(span);
    if (type) {
      var t = document.createElement("span");
      t.className = "type";
      t.textContent = type;
      li.appendChild(t);
    }
    c.log.insertBefore(li, c.log.firstChild);
    while (c.log.children.length > MAX_LINES) { c.log.removeChild(c.log.lastChild); }
  }

  function addChannel(name, later) {
    if (!NAME.test(name)) {
      throw new Error("use 1-123 characters from A-Z a-z 0-9 _ - . : @");
    }
    offer(name);
    if (cards[name]) { return; }
    var card = document.createElement("div");
    card.className = "channel";
    card.setAttribute("data-channel", name);
    var h = document.createElement("h3");
    h.appendChild(document.createTextNode(name + " "));
    var wire = document.createElement("small");
    wire.textContent = NAMESPACE + name;
    h.appendChild(wire);
    var rm = document.createElement("button");
    rm.type = "button";
    rm.className = "remove";
    rm.title = "stop listening to " + name;
    rm.textContent = "×";
    rm.addEventListener("click", function () { removeChannel(name); });
    h.appendChild(rm);
    var log = document.createElement("ol");
    var empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "waiting for messages…";
    log.appendChild(empty);
    card.appendChild(h);
    card.appendChild(log);
    $("channels").appendChild(card);
    cards[name] = { card: card, log: log };
    plexor.subscribe(name, onMessage);
    if (!later) { plexor.execute(); }
  }

  function removeChannel(name) {
    var c = cards[name];
    if (!c) { return; }
    c.card.parentNode.removeChild(c.card);
    delete cards[name];
    plexor.unsubscribe(name, onMessage);
    plexor.execute();
  }

  // offer adds a channel to the publish form's choices.
  function offer(name) {
    for (var i = 0; i < known.length; i++) {
      if (known[i] === name) { return; }
    }
    known.push(name);
    var label = document.createElement("label");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.id = "pub-" + name;
    label.appendChild(box);
    label.appendChild(document.createTextNode(" " + name));
    $("publish-channels").appendChild(label);
  }

  $("add-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("add-name");
    var name = input.value.replace(/^\s+|\s+$/g, "");
    $("add-error").textContent = "";
    if (!name) { return; }
    try {
      addChannel(name);
      input.value = "";
    } catch (err) {
      $("add-error").textContent = err.message;
    }
  });

  $("publish-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var out = $("publish-result");
    out.className = "";
    var channels = [];
    var boxes = $("publish-channels").getElementsByTagName("input");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) { channels.push(NAMESPACE + boxes[i].value); }
    }
    if (!channels.length) {
      fail("tick at least one channel");
      return;
    }
    var data = $("message").value;
    if ($("as-json").checked) {
      try {
        data = JSON.parse(data);
      } catch (err) {
        fail("not valid JSON: " + err.message);
        return;
      }
    }
    var x = new XMLHttpRequest();
    x.open("POST", "/demo/publish", true);
    x.setRequestHeader("Content-Type", "application/json");
    x.onreadystatechange = function () {
      if (x.readyState !== 4) { return; }
      var body = null;
      try { body = JSON.parse(x.responseText); } catch (err) { /* not JSON */ }
      if (x.status === 200 && body) {
        var counts = [];
        for (var ch in body.subscribers) {
          if (body.subscribers.hasOwnProperty(ch)) { counts.push(ch + ": " + body.subscribers[ch]); }
        }
        out.textContent = "published as " + body.id + " (subscribers " + counts.join(", ") + ")";
        window.__lastPublish = body;
      } else {
        fail((body && body.error ? body.error.message : "publish failed") + " (HTTP " + x.status + ")");
      }
    };
    x.send(JSON.stringify({ channels: channels, data: data }));

    function fail(msg) {
      out.className = "error";
      out.textContent = msg;
    }
  });

  window.__demo = { addChannel: addChannel, removeChannel: removeChannel };

  for (var i = 0; i < initial.length; i++) {
    if (initial[i]) { addChannel(initial[i], true); }
  }
  plexor.execute();
  showStatus(plexor.status);
})();
