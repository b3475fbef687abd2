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
  var tz = (table && table.getAttribute("data-tz")) || (document.getElementById("tz-name") || {}).textContent || undefined;
  var viewerTz = null;
  try { viewerTz = new Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { viewerTz = null; }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // "2026-12-24 18:00 +01:00" in `zone` (the same shape as the server's views.local_time)
  function zoneTime(iso, zone) {
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "longOffset" })
        .formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
      var off = (parts.timeZoneName || "").replace("GMT", "") || "+00:00";
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute + " " + off;
    } catch (e) {
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
    }
  }
  function localTime(iso) { return zoneTime(iso, tz); }
  // Times in both zones: where the browser is elsewhere, the viewer's own time follows, named.
  function dualTimes(root) {
    if (!viewerTz || viewerTz === tz) return;
    Array.prototype.forEach.call(root.querySelectorAll("time.dual"), function (t) {
      if (t.getAttribute("data-viewer")) return;
      t.setAttribute("data-viewer", "yes");
      var mine = zoneTime(t.getAttribute("datetime"), viewerTz);
      if (mine === t.textContent) return;   // another name, the same clock (e.g. Paris and Berlin)
      var span = el("span", { "class": "viewer-time" });
      span.appendChild(document.createTextNode("your time: "));
      span.appendChild(el("span", { "class": "vt" }, mine));
      span.appendChild(document.createTextNode(" "));
      span.appendChild(el("span", { "class": "zone" }, viewerTz));
      var after = t.nextSibling && t.nextSibling.nextSibling;   // after " <span class=zone>"
      t.parentNode.insertBefore(span, after && after.className === "zone" ? after.nextSibling : t.nextSibling);
    });
  }
  dualTimes(document);

  // The preview player: the video from the inbox, with the post's title, privacy and switches.
  var player = document.getElementById("player");
  function openPreview(link) {
    if (!player || typeof player.showModal !== "function") return false;
    var video = player.querySelector("video");
    video.setAttribute("src", link.getAttribute("href"));
    document.getElementById("player-title").textContent = link.getAttribute("data-title") || "(no title)";
    document.getElementById("player-who").textContent = link.getAttribute("data-who") || player.getAttribute("data-who") || "";
    var meta = [];
    if (link.getAttribute("data-privacy")) meta.push("Who can watch: " + link.getAttribute("data-privacy"));
    if (link.getAttribute("data-switches")) meta.push(link.getAttribute("data-switches"));
    if (link.getAttribute("data-mode") === "draft") meta.push("sent to your TikTok inbox as a draft");
    document.getElementById("player-meta").textContent = meta.join(" · ");
    player.showModal();
    return true;
  }
  if (player) player.addEventListener("close", function () {
    var video = player.querySelector("video");
    video.pause();
    video.removeAttribute("src");
    video.load();
  });
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = el("textarea", { readonly: "", "class": "offscreen" });   // plain-http fallback
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function showCopy(root) {
    Array.prototype.forEach.call(root.querySelectorAll("button.copy[hidden]"), function (b) { b.hidden = false; });
  }
  showCopy(document);
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var link = t.closest && t.closest("a.preview");
    if (link && openPreview(link)) { ev.preventDefault(); return; }
    var copy = t.closest && t.closest("button.copy");
    if (copy) {
      copyText(copy.getAttribute("data-caption") || "").then(function () { copy.textContent = "Caption copied"; },
        function () { copy.textContent = "Copy failed: select the title"; });
    }
  });
  // A thumbnail that cannot be made (or no route for it yet): no broken-image icon.
  document.addEventListener("error", function (ev) {
    if (ev.target && ev.target.classList && ev.target.classList.contains("thumb")) ev.target.hidden = true;
  }, true);

  if (!table || !window.fetch) return;
  var tbody = table.tBodies[0];
  var postBase = table.getAttribute("data-post-base") || "https://www.tiktok.com/video/";
  var order = table.getAttribute("data-order") || "attention";
  var query = "limit=" + encodeURIComponent(table.getAttribute("data-limit")) +
              "&offset=" + encodeURIComponent(table.getAttribute("data-offset")) + "&order=" + encodeURIComponent(order);
  var state = table.getAttribute("data-state");
  if (state) query += "&state=" + encodeURIComponent(state);
  var accountName = table.getAttribute("data-account");   // the page's account filter (issue 15)
  if (accountName) query += "&account=" + encodeURIComponent(accountName);
  var several = table.getAttribute("data-several") === "yes";   // rows say their account
  var whos = {};
  Array.prototype.forEach.call(document.querySelectorAll("#accounts .account-card"), function (card) {
    var handle = card.querySelector(".handle"), nick = card.querySelector(".nick");
    whos[card.getAttribute("data-account")] = (handle && handle.textContent) || (nick && nick.textContent) || card.getAttribute("data-account");
  });
  var etag = null;
  var privacyLabels = { PUBLIC_TO_EVERYONE: "public", MUTUAL_FOLLOW_FRIENDS: "friends",
                        FOLLOWER_OF_CREATOR: "followers", SELF_ONLY: "private" };
  var attention = ["invalid", "failed", "missed", "needs_login"];
  var filesThere = ["waiting", "invalid", "scheduled", "needs_login", "uploading", "processing", "in_inbox", "failed", "missed"];
  // mirrors ralph_watch/web/views.py action_label()
  function label(a, name) {
    return { "publish-now": ["Publish now", "Publish " + name + " now"], retry: ["Retry", "Retry " + name],
             cancel: ["Cancel and delete files", "Cancel and delete files of " + name] }[a];
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
  function mb(n) { return (n / 1e6).toFixed(1); }
  function duration(secs) {
    if (typeof secs !== "number" || secs < 0) return "";
    var total = Math.round(secs), h = Math.floor(total / 3600), m = Math.floor(total % 3600 / 60), s = total % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  function facts(t) {
    var out = [duration(t.duration)];
    if (t.width && t.height) out.push(t.width + "×" + t.height);
    if (typeof t.size === "number") out.push(t.size >= 1e6 ? mb(t.size) + " MB" : Math.max(1, Math.round(t.size / 1000)) + " KB");
    return out.filter(Boolean).join(" · ");
  }
  function switches(t) {
    if (typeof t.allow_comments !== "boolean") return "";
    return ["comments", "duet", "stitch"].map(function (n) { return n + " " + (t["allow_" + n] ? "on" : "off"); }).join(" · ");
  }
  // Upload speed from successive bytes_sent samples (the last ~20 s), per task.
  var samples = {};
  function sample(t) {
    if (t.state !== "uploading" || typeof t.bytes_sent !== "number") { delete samples[t.id]; return null; }
    var list = samples[t.id] || (samples[t.id] = []), now = Date.now();
    if (!list.length || list[list.length - 1].b !== t.bytes_sent) list.push({ t: now, b: t.bytes_sent });
    while (list.length > 2 && now - list[0].t > 20000) list.shift();
    if (list.length < 2) return null;
    var first = list[0], last = list[list.length - 1], dt = (last.t - first.t) / 1000;
    return dt > 0 && last.b > first.b ? (last.b - first.b) / dt : null;
  }
  function left(secs) {
    if (secs < 60) return Math.max(1, Math.round(secs)) + " s left";
    if (secs < 5400) return Math.round(secs / 60) + " min left";
    return Math.round(secs / 3600) + " h left";
  }
  function progressText(t, p, rate) {
    var out = [Math.round(p * 100) + " %"];
    if (typeof t.size === "number") {
      var sent = typeof t.bytes_sent === "number" ? t.bytes_sent : Math.floor(p * t.size);
      out.push(mb(Math.min(sent, t.size)) + " of " + mb(t.size) + " MB");
      if (rate) out.push(mb(rate) + " MB/s", left((t.size - sent) / rate));
    }
    // each part on one line ("9 s left", never "9 / s left"); lines break only between parts
    return out.map(function (part) { return part.replace(/ /g, "\u00a0"); }).join(" · ");
  }
  function statusText(t) {  // mirrors views._status_text
    if (t.state === "uploading" && typeof t.progress !== "number") return "Starting the upload to TikTok.";
    if (t.state === "processing") return "Uploaded. TikTok is processing the video (step: PROCESSING_UPLOAD); it goes out when TikTok is done.";
    if (t.state === "in_inbox") return "Sent to your TikTok inbox as a draft: open the TikTok app and tap the inbox notification to finish and post it.";
    if (t.state === "published") {
      if (t.privacy === "SELF_ONLY") return "Private: only you can see it, in the TikTok app under Profile → the lock tab (private videos).";
      if (t.mode === "draft") return "Posted from your TikTok inbox.";
      if (!t.post_url && t.privacy === "PUBLIC_TO_EVERYONE") return "TikTok has not given the post's public address yet; the link appears here when it does.";
    }
    return "";
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
  function zoned(parent, iso) {
    parent.appendChild(el("time", { "class": "dual", datetime: iso }, localTime(iso)));
    parent.appendChild(document.createTextNode(" "));
    parent.appendChild(el("span", { "class": "zone" }, tz));
  }
  function cells(t, shown, note, thumb) {
    var name = t.video || t.sidecar || shown || ("task " + t.id);
    var id = encodeURIComponent(t.id);
    var vid = el("td", { "data-label": "Video", "class": "c-video" });
    // the row's thumbnail is kept across redraws: it is sent no-store, so a new <img> would fetch it again
    if (t.has_video) vid.appendChild(thumb || el("img", { "class": "thumb", src: "/tasks/" + id + "/thumbnail",
                                                          alt: "", loading: "lazy", width: "48", height: "64" }));
    vid.appendChild(el("span", { "class": "name" }, name));
    var f = facts(t);
    if (f) vid.appendChild(el("span", { "class": "facts-line" }, f));
    if (t.has_video) {
      vid.appendChild(el("a", { "class": "preview", href: "/tasks/" + id + "/video", "aria-label": "Preview " + name,
        "data-who": several ? whos[t.account] || "" : null, "data-title": t.title || "", "data-privacy": privacyLabels[t.privacy] || t.privacy || "",
        "data-mode": t.mode || "", "data-switches": switches(t) }, "Preview"));
    }
    var due = el("td", { "data-label": "Due", "class": "c-due" });
    if (t.due) {
      zoned(due, t.due);
      due.appendChild(document.createTextNode(" "));
      due.appendChild(el("span", { "class": "rel" }, relative(t.due)));
    }
    var st = el("td", { "data-label": "State", "class": "c-state" });
    st.appendChild(el("span", { "class": "badge s-" + String(t.state).replace(/[^a-z_]/g, "") }, t.state));
    var rate = sample(t);
    if (t.state === "uploading" && typeof t.progress === "number") {
      var p = Math.min(1, Math.max(0, t.progress));
      st.appendChild(el("progress", { max: "1", value: p.toFixed(3) }, Math.round(p * 100) + " %"));
      st.appendChild(el("span", { "class": "progress-text" }, progressText(t, p, rate)));
    }
    if (t.state === "published" && t.published_at) {
      var when = el("p", { "class": "when" }, "Published ");
      zoned(when, t.published_at);
      st.appendChild(when);
    }
    var say = statusText(t);
    if (say) st.appendChild(el("p", { "class": "status-text" }, say));
    if (t.error) st.appendChild(el("p", { "class": "error" }, t.error));
    if (note) st.appendChild(el("p", { "class": "note" }, note));  // rendered by the server; kept on redraws
    var url = t.post_url || (t.post_id && /^[0-9]{1,30}$/.test(String(t.post_id)) ? postBase + t.post_id : null);
    if (url && /^https:\/\/www\.tiktok\.com\//.test(url)) {
      st.appendChild(el("a", { "class": "post", href: url, rel: "noopener noreferrer", target: "_blank",
                               "aria-label": "View " + name + " on TikTok" }, "View on TikTok"));
    }
    if (t.mode === "draft" && t.title && t.state !== "cancelled") {
      st.appendChild(el("button", { type: "button", "class": "copy", "data-caption": t.title,
                                    "aria-label": "Copy caption of " + name }, "Copy caption"));
    }
    var files = filesThere.indexOf(t.state) >= 0 ? [t.video, t.sidecar].filter(Boolean).join(" and ") : "";
    var act = el("td", { "class": "c-actions" });
    actions(t).forEach(function (a) {
      var f = el("form", { method: "post", action: "/tasks/" + id + "/" + a, "class": "inline" });
      if (a === "cancel") f.setAttribute("data-confirm", "Cancel " + name + "? Both files will be deleted from the inbox: " + (files || name) + ".");
      f.appendChild(el("input", { type: "hidden", name: "csrf", value: csrf }));
      var l = label(a, name);
      f.appendChild(el("button", { type: "submit", "class": a === "cancel" ? "danger" : "", "aria-label": l[1] }, l[0]));
      act.appendChild(f);
      act.appendChild(document.createTextNode(" "));  // the same gap as the server's markup
    });
    var out = [vid];
    if (several) out.push(el("td", { "data-label": "Account", "class": "c-short c-account" }, t.account || ""));
    return out.concat([
            el("td", { "data-label": "Title", "class": "c-title" }, t.title || ""),
            el("td", { "data-label": "Privacy", "class": "c-short" }, privacyLabels[t.privacy] || t.privacy || ""),
            el("td", { "data-label": "Mode", "class": "c-short" }, t.mode || ""), due, st, act]);
  }
  function render(tasks) {
    var seen = {};
    tasks.forEach(function (t) {
      var id = String(t.id), key = JSON.stringify(t);
      seen[id] = true;
      var row = document.getElementById("task-" + id);
      if (!row) { row = el("tr", { id: "task-" + id, "data-id": id }); }
      if (row.getAttribute("data-json") !== key) {
        var thumb = row.querySelector("img.thumb");
        while (row.firstChild) row.removeChild(row.firstChild);
        cells(t, row.getAttribute("data-name"), row.getAttribute("data-note"), thumb).forEach(function (c) { row.appendChild(c); });
        row.setAttribute("data-json", key);
        row.setAttribute("data-name", t.video || t.sidecar || row.getAttribute("data-name") || "");
        row.className = attention.indexOf(t.state) >= 0 ? "attention" : "";
        dualTimes(row);
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
  // The filter links' and the header's counts: redone only when this page holds every task (unfiltered, one page).
  var filters = document.getElementById("filters");
  var counter = document.getElementById("counts");
  function recount(tasks) {
    if (!filters || state || Number(table.getAttribute("data-offset")) !== 0 ||
        tasks.length >= Number(table.getAttribute("data-limit"))) return;
    var counts = {};
    tasks.forEach(function (t) { counts[t.state] = (counts[t.state] || 0) + 1; });
    var states = (filters.getAttribute("data-states") || "").split(" ");
    while (filters.firstChild) filters.removeChild(filters.firstChild);
    var acc = accountName ? "account=" + encodeURIComponent(accountName) : "";
    filters.appendChild(el("a", { href: acc ? "/?" + acc : "/", "class": "current" }, "all (" + tasks.length + ")"));
    states.forEach(function (s) {
      if (counts[s]) filters.appendChild(el("a", { href: "/?state=" + encodeURIComponent(s) + (acc ? "&" + acc : "") }, s + " (" + counts[s] + ")"));
    });
    if (!counter) return;
    while (counter.firstChild) counter.removeChild(counter.firstChild);
    states.forEach(function (s) {
      if (!counts[s]) return;
      var li = el("li");
      li.appendChild(el("span", { "class": "badge s-" + s }, s));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", { "class": "n" }, counts[s]));
      counter.appendChild(li);
    });
    if (!tasks.length) counter.appendChild(el("li", { "class": "muted" }, "no tasks yet"));
  }
  function get(url, headers) {
    return fetch(url, { headers: headers || {}, credentials: "same-origin", cache: "no-store" });
  }
  var account = document.getElementById("account");
  var cards = Array.prototype.slice.call(document.querySelectorAll("#accounts .account-card"));
  var health = document.getElementById("health");
  var healthState = document.getElementById("health-state");
  var pausedState = document.getElementById("paused-state");
  var bannerPaused = document.getElementById("banner-paused");
  var bannerInbox = document.getElementById("banner-inbox");
  var busy = false;
  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    var h = { Accept: "application/json" };
    if (etag) h["If-None-Match"] = etag;
    var tasks = get("/api/tasks?" + query, h).then(function (r) {
      if (r.status === 200) { etag = r.headers.get("ETag"); return r.json().then(render); }
    });
    // A login or logout elsewhere (another tab, the token expiring): the page reloads to show it.
    var acct = cards.length ? get("/api/accounts", { Accept: "application/json" }).then(function (r) {
      if (r.status !== 200) return;
      return r.json().then(function (list) {
        var now = {};
        list.forEach(function (a) { now[a.name] = Boolean(a.logged_in); });
        var changed = cards.some(function (c) {
          return now[c.getAttribute("data-account")] !== (c.getAttribute("data-logged-in") === "yes");
        });
        if (changed) window.location.reload();
      });
    }) : get("/api/account", { Accept: "application/json" }).then(function (r) {
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
        if (bannerPaused && typeof d.paused === "boolean") bannerPaused.hidden = !d.paused;
        if (bannerInbox && typeof d.inbox_ok === "boolean") bannerInbox.hidden = d.inbox_ok;
      });
    });
    Promise.all([tasks, acct, hz]).catch(function () { /* service restarting: try again next tick */ })
      .then(function () { busy = false; });
  }
  window.setInterval(poll, 2000);
})();
