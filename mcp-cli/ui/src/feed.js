// The dashboard's one script: the live event feed (server-sent events) and
// single-key shortcuts. Every page works without it; it only adds.
"use strict";
(function () {
  const body = document.querySelector("tbody[data-stream]");
  if (body) {
    const seen = new Set(Array.from(body.querySelectorAll("tr[data-key]"), (r) => r.dataset.key));
    const status = document.getElementById("feed-status");
    const say = (text) => { if (status) status.textContent = text; };
    const source = new EventSource(body.dataset.stream);
    source.addEventListener("open", () => say("Live: new events appear at the top."));
    source.addEventListener("error", () => say("Disconnected; reconnecting…"));
    source.addEventListener("failure", (m) => say("A node's feed failed: " + m.data));
    source.addEventListener("mcp-event", (m) => {
      const e = JSON.parse(m.data);
      const key = e.node + "/" + e.id;
      if (seen.has(key)) return;
      seen.add(key);
      const tr = document.createElement("tr");
      tr.dataset.key = key;
      const cell = (text) => { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); return td; };
      cell(e.at);
      cell(e.node);
      const service = cell("");
      if (e.service) {
        const a = document.createElement("a");
        a.href = "/services/" + encodeURIComponent(e.service) + "?node=" + encodeURIComponent(e.node);
        a.textContent = e.service;
        service.appendChild(a);
      }
      cell(e.actor);
      cell(e.action);
      cell(e.error ? e.detail + " (error: " + e.error + ")" : e.detail);
      body.insertBefore(tr, body.firstChild);
      const none = document.getElementById("events-none");
      if (none) none.remove();
      while (body.rows.length > 200) body.deleteRow(-1);
    });
  }
  document.addEventListener("keydown", (k) => {
    if (k.ctrlKey || k.metaKey || k.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(k.target.tagName)) return;
    if (k.key === "f") location.assign("/");
    else if (k.key === "e") location.assign("/events");
    else if (k.key === "/") {
      const first = document.querySelector("main a");
      if (first) { k.preventDefault(); first.focus(); }
    }
  });
})();
