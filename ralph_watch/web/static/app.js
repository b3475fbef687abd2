// ralph-watch status page: confirmations and live updates. The page works without this file.
// Data from the API is only ever placed with textContent / attributes, never innerHTML.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Forms with data-confirm ask first; confirmed forms skip the server's confirmation page.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) { ev.preventDefault(); return; }
    var yes = document.createElement("input");
    yes.type = "hidden"; yes.name = "confirmed"; yes.value = "yes";
    form.appendChild(yes);
  });

  var table = document.getElementById("tasks");
  if (!table || !window.fetch) return;
  var tbody = table.tBodies[0];
  var tz = table.getAttribute("data-tz") || undefined;
  var postBase = table.getAttribute("data-post-base") || "https://www.tiktok.com/video/";
  var query = "limit=" + encodeURIComponent(table.getAttribute("data-limit")) +
              "&offset=" + encodeURIComponent(table.getAttribute("data-offset"));
  var state = table.getAttribute("data-state");
  if (state) query += "&state=" + encodeURIComponent(state);
  var etag = null;
  var privacyLabels = { PUBLIC_TO_EVERYONE: "public", MUTUAL_FOLLOW_FRIENDS: "friends",
                        FOLLOWER_OF_CREATOR: "followers", SELF_ONLY: "private" };
  var labels = { "publish-now": "Publish now", retry: "Retry", cancel: "Cancel" };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "longOffset" })
        .formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
      var off = (parts.timeZoneName || "").replace("GMT", "") || "+00:00";
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute + " " + off;
    } catch (e) {
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
    }
  }
  function relative(iso) {
    var secs = (new Date(iso) - new Date()) / 1000, a = Math.abs(secs), n, unit;
    if (isNaN(secs)) return "";
    if (a < 45) return "now";
    if (a < 5400) { n = Math.max(1, Math.round(a / 60)); unit = "min"; }
    else if (a < 129600) { n = Math.round(a / 3600); unit = "h"; }
    else { n = Math.round(a / 86400); unit = "d"; }
    return secs > 0 ? "in " + n + " " + unit : n + " " + unit + " ago";
  }
  function actions(t) {  // mirrors ralph_watch/web/views.py actions_for()
    var out = [];
    if (t.state === "scheduled") out.push("publish-now");
    // published with its files kept: the JSON has no files_kept, but such a task always says why in
    // `error` (the product contract), while one whose files were deleted keeps only its video's name
    if (t.state === "failed" || t.state === "missed" || (t.state === "published" && t.video && t.error)) out.push("retry");
    if (["waiting", "invalid", "scheduled", "needs_login", "failed", "missed"].indexOf(t.state) >= 0) out.push("cancel");
    return out;
  }
  function cells(t, shown, note) {
    var name = t.video || t.sidecar || shown || ("task " + t.id);
    var due = el("td", { "data-label": "Due", "class": "c-due" });
    if (t.due) {
      due.appendChild(el("time", { datetime: t.due }, localTime(t.due)));
      due.appendChild(document.createTextNode(" "));
      due.appendChild(el("span", { "class": "rel" }, relative(t.due)));
    }
    var st = el("td", { "data-label": "State" });
    st.appendChild(el("span", { "class": "badge s-" + String(t.state).replace(/[^a-z_]/g, "") }, t.state));
    if (t.state === "uploading" && typeof t.progress === "number") {
      var p = Math.min(1, Math.max(0, t.progress));
      st.appendChild(el("progress", { max: "1", value: p.toFixed(3) }, Math.round(p * 100) + " %"));
    }
    if (t.error) st.appendChild(el("p", { "class": "error" }, t.error));
    if (note) st.appendChild(el("p", { "class": "note" }, note));  // rendered by the server; kept on redraws
    if (t.post_id && /^[0-9]{1,30}$/.test(String(t.post_id))) {
      st.appendChild(el("a", { "class": "post", href: postBase + t.post_id, rel: "noopener noreferrer", target: "_blank" }, "View post"));
    }
    var act = el("td", { "class": "c-actions" });
    actions(t).forEach(function (a) {
      var f = el("form", { method: "post", action: "/tasks/" + encodeURIComponent(t.id) + "/" + a, "class": "inline" });
      if (a === "cancel") f.setAttribute("data-confirm", "Cancel " + name + "? Both files will be deleted from the inbox.");
      f.appendChild(el("input", { type: "hidden", name: "csrf", value: csrf }));
      f.appendChild(el("button", { type: "submit", "class": a === "cancel" ? "danger" : "" }, labels[a]));
      act.appendChild(f);
      act.appendChild(document.createTextNode(" "));  // the same gap as the server's markup
    });
    return [el("td", { "data-label": "Video", "class": "c-video" }, name),
            el("td", { "data-label": "Title", "class": "c-title" }, t.title || ""),
            el("td", { "data-label": "Privacy", "class": "c-short" }, privacyLabels[t.privacy] || t.privacy || ""),
            el("td", { "data-label": "Mode", "class": "c-short" }, t.mode || ""), due, st, act];
  }
  function render(tasks) {
    var seen = {};
    tasks.forEach(function (t) {
      var id = String(t.id), key = JSON.stringify(t);
      seen[id] = true;
      var row = document.getElementById("task-" + id);
      if (!row) { row = el("tr", { id: "task-" + id, "data-id": id }); }
      if (row.getAttribute("data-json") !== key) {
        while (row.firstChild) row.removeChild(row.firstChild);
        cells(t, row.getAttribute("data-name"), row.getAttribute("data-note")).forEach(function (c) { row.appendChild(c); });
        row.setAttribute("data-json", key);
        row.setAttribute("data-name", t.video || t.sidecar || row.getAttribute("data-name") || "");
      }
      tbody.appendChild(row);  // moves existing rows into the new order
    });
    Array.prototype.slice.call(tbody.rows).forEach(function (row) {
      if (!seen[row.getAttribute("data-id")]) tbody.removeChild(row);
    });
    var empty = document.getElementById("empty");
    if (empty) empty.hidden = tasks.length > 0;
    recount(tasks);
  }
  // The filter links' counts: redone only when this page holds every task (unfiltered, one page).
  var filters = document.getElementById("filters");
  function recount(tasks) {
    if (!filters || state || Number(table.getAttribute("data-offset")) !== 0 ||
        tasks.length >= Number(table.getAttribute("data-limit"))) return;
    var counts = {};
    tasks.forEach(function (t) { counts[t.state] = (counts[t.state] || 0) + 1; });
    while (filters.firstChild) filters.removeChild(filters.firstChild);
    filters.appendChild(el("a", { href: "/", "class": "current" }, "all (" + tasks.length + ")"));
    (filters.getAttribute("data-states") || "").split(" ").forEach(function (s) {
      if (counts[s]) filters.appendChild(el("a", { href: "/?state=" + encodeURIComponent(s) }, s + " (" + counts[s] + ")"));
    });
  }
  function get(url, headers) {
    return fetch(url, { headers: headers || {}, credentials: "same-origin", cache: "no-store" });
  }
  var account = document.getElementById("account");
  var health = document.getElementById("health");
  var healthState = document.getElementById("health-state");
  var pausedState = document.getElementById("paused-state");
  var busy = false;
  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    var h = { Accept: "application/json" };
    if (etag) h["If-None-Match"] = etag;
    var tasks = get("/api/tasks?" + query, h).then(function (r) {
      if (r.status === 200) { etag = r.headers.get("ETag"); return r.json().then(render); }
    });
    var acct = get("/api/account", { Accept: "application/json" }).then(function (r) {
      if (r.status !== 200) return;
      return r.json().then(function (a) {
        var was = account && account.getAttribute("data-logged-in") === "yes";
        if (account && Boolean(a.logged_in) !== was) window.location.reload();
      });
    });
    var hz = get("/healthz", { Accept: "application/json" }).then(function (r) {
      return r.json().then(function (d) {
        if (health) health.setAttribute("data-ok", d.ok ? "yes" : "no");
        if (healthState) healthState.textContent = d.ok ? "OK" : "Problem: " + (d.reason || "unknown");
        if (pausedState && typeof d.paused === "boolean") pausedState.textContent = d.paused ? "paused" : "running";
      });
    });
    Promise.all([tasks, acct, hz]).catch(function () { /* service restarting: try again next tick */ })
      .then(function () { busy = false; });
  }
  window.setInterval(poll, 2000);
})();
