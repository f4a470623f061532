/**
 * The dashboard's script (inlined in ./page.ts; plain ES2020 in the browser, no library). It holds
 * the admin token in memory and in this tab's sessionStorage, and sends it only as the
 * `Authorization` header to this server's /v1 API — never in a URL. Views (the hash says which):
 *
 *   #jobs          every job: state, progress (polled)
 *   #job/ID        one job, live from GET /v1/jobs/ID/events (SSE read with fetch: EventSource
 *                  cannot send the header): progress numbers, a training job's loss and learning
 *                  rate curves, a campaign's rows (GET /v1/campaigns/ID/rows: a histogram and the
 *                  latest), a search's winner and candidates (predicted against measured) and its
 *                  HTML report in a sandboxed frame, the artifacts, the log
 *   #agents        the fleet: hardware, state, last heartbeat, deployment, lease
 *   #deployments   each deployment: every agent's measured latency against the constraint
 *
 * Everything shown is set as text (textContent, attributes): nothing from the server is parsed as HTML.
 * Kept free of backquotes, dollar-brace and the sequence "</" (it lives in a template literal and a
 * script element); test/server/dashboard.test.ts checks that it parses.
 */
export const DASHBOARD_SCRIPT = String.raw`
"use strict";
(function () {
  var KEY = "hat.admin-token";
  var token = null;
  try { token = sessionStorage.getItem(KEY); } catch (e) { token = null; }
  var view = document.getElementById("view");
  var nav = document.getElementById("nav");
  var signoutButton = document.getElementById("signout");
  var cleanup = [];
  var gen = 0;
  var SVGNS = "http://www.w3.org/2000/svg";
  var FINISHED = { done: true, failed: true, cancelled: true };

  // ---- small helpers

  function el(tag, props) {
    var n = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) return;
        if (k === "text") n.textContent = String(v);
        else if (k === "class") n.className = v;
        else if (k === "on") Object.keys(v).forEach(function (ev) { n.addEventListener(ev, v[ev]); });
        else if (k === "style") Object.keys(v).forEach(function (s) { n.style[s] = v[s]; });
        else n.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(n, arguments[i]);
    return n;
  }
  function add(n, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(n, x); }); return; }
    n.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  function svg(tag, attrs) {
    var n = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, String(attrs[k])); });
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) n.appendChild(arguments[i]);
    return n;
  }
  function say(text, isError) {
    var s = document.getElementById("status");
    s.textContent = text;
    s.className = isError ? "error" : "";
  }
  function num(x) { return typeof x === "number" && isFinite(x); }
  // not Math.min.apply: a campaign's 100,000 rows would overflow the argument stack
  function least(a) { var m = Infinity; for (var i = 0; i < a.length; i++) if (a[i] < m) m = a[i]; return m; }
  function most(a) { var m = -Infinity; for (var i = 0; i < a.length; i++) if (a[i] > m) m = a[i]; return m; }
  function fmt(x, d) { return num(x) ? x.toFixed(d === undefined ? 2 : d) : "\u2014"; }
  function ms(x) { return num(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) + " ms" : "\u2014"; }
  function pct(f) { return num(f) ? (100 * f).toFixed(f < 0.1 ? 1 : 0) + " %" : "\u2014"; }
  function sci(x) { return num(x) ? x.toExponential(2) : "\u2014"; }
  function short(s, n) { s = String(s == null ? "" : s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function ago(t) {
    if (!num(t)) return "never";
    var s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 60) return Math.round(s) + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return (s / 3600).toFixed(1) + " h ago";
    return new Date(t).toISOString().slice(0, 16).replace("T", " ");
  }
  function dur(s) {
    if (!num(s) || s < 0) return "\u2014";
    s = Math.round(s);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  function iso(t) { return num(t) ? new Date(t).toISOString() : ""; }
  function badge(text, cls) { return el("span", { class: "badge " + (cls || text), text: text }); }
  function bar(fraction, big) {
    var b = el("div", { class: "bar" + (big ? " big" : ""), role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 });
    var s = el("span");
    var f = num(fraction) ? Math.max(0, Math.min(1, fraction)) : null;
    s.style.width = f === null ? "0%" : (100 * f).toFixed(1) + "%";
    if (f !== null) b.setAttribute("aria-valuenow", (100 * f).toFixed(0));
    b.appendChild(s);
    return b;
  }
  function table(headers, rows, o) {
    o = o || {};
    var nums = o.num || {};
    return el("table", { id: o.id || null },
      el("thead", null, el("tr", null, headers.map(function (h, i) { return el("th", { class: nums[i] ? "num" : null, text: h }); }))),
      el("tbody", null, rows));
  }
  function kv(obj, keys) {
    var rows = [];
    (keys || Object.keys(obj)).forEach(function (k) {
      var v = obj[k];
      if (v === undefined || (v !== null && typeof v === "object")) return;
      rows.push(el("tr", null, el("th", { text: k }), el("td", { class: "mono", text: num(v) ? String(+v.toPrecision(6)) : String(v) })));
    });
    return el("table", { class: "kv" }, el("tbody", null, rows));
  }
  function stats(items) {
    var d = el("div", { class: "stats" });
    items.forEach(function (it) { if (it) d.appendChild(el("div", { title: it[2] || null }, el("b", { text: it[1] }), el("span", { text: it[0] }))); });
    return d;
  }

  // ---- the API: the token as the bearer header, nowhere else

  function httpError(status, message) { var e = new Error(message); e.status = status; return e; }
  function api(path, o) {
    o = o || {};
    var headers = { authorization: "Bearer " + token };
    if (o.body !== undefined) headers["content-type"] = "application/json";
    return fetch(path, { method: o.method || "GET", headers: headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), cache: "no-store", signal: o.signal })
      .then(function (res) {
        if (res.status === 401) { signOut("The server refused the token (401): sign in again."); throw httpError(401, "not signed in"); }
        if (o.raw) { if (!res.ok) throw httpError(res.status, path + ": HTTP " + res.status); return res; }
        return res.text().then(function (t) {
          var body = null;
          try { body = t ? JSON.parse(t) : null; } catch (e) { body = null; }
          if (!res.ok) throw httpError(res.status, body && body.error ? body.error.message : path + ": HTTP " + res.status);
          return body;
        });
      });
  }

  /** A job's events: the SSE stream read with fetch (the header), reconnecting with Last-Event-ID until the job ends. */
  function follow(id, onEvent, finished) {
    var ctl = new AbortController(), last = null, stopped = false, tries = 0, timer = null;
    cleanup.push(function () { stopped = true; ctl.abort(); clearTimeout(timer); });
    function retry() {
      if (stopped || finished()) return;
      tries++;
      timer = setTimeout(connect, Math.min(10000, 500 * Math.pow(2, Math.min(tries, 5))));
    }
    function connect() {
      if (stopped) return;
      var headers = { authorization: "Bearer " + token, accept: "text/event-stream" };
      if (last !== null) headers["last-event-id"] = last;
      fetch("/v1/jobs/" + encodeURIComponent(id) + "/events", { headers: headers, signal: ctl.signal, cache: "no-store" }).then(function (res) {
        if (res.status === 401) { signOut("The server refused the token (401): sign in again."); stopped = true; return; }
        if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
        tries = 0;
        var reader = res.body.getReader(), dec = new TextDecoder(), buf = "";
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) return;
            buf += dec.decode(r.value, { stream: true }).replace(/\r/g, "");
            var i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              var block = buf.slice(0, i), ev = { id: null, event: "message", data: [] };
              buf = buf.slice(i + 2);
              block.split("\n").forEach(function (line) {
                if (!line || line.charAt(0) === ":") return;
                var c = line.indexOf(":");
                var f = c < 0 ? line : line.slice(0, c), v = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
                if (f === "id") ev.id = v; else if (f === "event") ev.event = v; else if (f === "data") ev.data.push(v);
              });
              if (ev.id !== null) last = ev.id;
              if (ev.data.length) {
                var d;
                try { d = JSON.parse(ev.data.join("\n")); } catch (e) { d = { line: ev.data.join("\n") }; }
                if (!stopped) onEvent(ev.event, d);
              }
            }
            return pump();
          });
        }
        return pump();
      }).then(retry, function (e) {
        if (stopped) return;
        say("event stream of " + id + ": " + e.message + " (reconnecting)", true);
        retry();
      });
    }
    connect();
  }

  /** Runs f now and then every ms milliseconds while this view is shown (never two at once). */
  function every(msEach, f) {
    var g = gen, t = null, alive = true;
    function tick() {
      if (!alive || g !== gen) return;
      Promise.resolve().then(f).catch(function (e) { if (e.status !== 401) say(e.message, true); })
        .then(function () { if (alive && g === gen) t = setTimeout(tick, msEach); });
    }
    cleanup.push(function () { alive = false; clearTimeout(t); });
    tick();
  }

  /** An artifact fetched with the token: its bytes as a blob: URL (revoked when the view changes). */
  function artifactUrl(sha, type) {
    return api("/v1/artifacts/" + sha, { raw: true }).then(function (res) {
      var name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
      return res.blob().then(function (b) {
        var url = URL.createObjectURL(type ? new Blob([b], { type: type }) : b);
        cleanup.push(function () { URL.revokeObjectURL(url); });
        return { url: url, name: name ? name[1] : sha.slice(0, 12) };
      });
    });
  }
  function download(sha) {
    artifactUrl(sha).then(function (a) {
      var link = el("a", { href: a.url, download: a.name });
      document.body.appendChild(link);
      link.click();
      link.remove();
    }).catch(function (e) { say(e.message, true); });
  }

  // ---- plots (SVG)

  function ticks(lo, hi, n) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n))), err = span / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var t = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9 && t.length < 20; v += step) t.push(+v.toPrecision(12));
    return t;
  }
  function tickText(v) {
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(1) : String(+v.toPrecision(4));
  }
  function thin(points, n) {
    if (points.length <= n) return points;
    var out = [], step = points.length / n;
    for (var i = 0; i < n; i++) out.push(points[Math.floor(i * step)]);
    out.push(points[points.length - 1]);
    return out;
  }
  /**
   * A plot: series of [x, y] points (line and/or dots), optional horizontal and vertical marks,
   * the diagonal y = x. o: { title, width, height, series: [{ points, color, line, dots, label, r }], hlines, vlines, diagonal, xlabel, ylabel, id }.
   */
  function plot(o) {
    var W = o.width || 460, H = o.height || 230, L = 56, R = 14, T = 12, B = 34;
    var xs = [], ys = [];
    o.series.forEach(function (s) { s.points.forEach(function (p) { if (num(p[0]) && num(p[1])) { xs.push(p[0]); ys.push(p[1]); } }); });
    (o.hlines || []).forEach(function (h) { ys.push(h.y); });
    (o.vlines || []).forEach(function (v) { xs.push(v.x); });
    var box = el("div", { class: "chart", id: o.id || null }, el("div", { class: "title", text: o.title }));
    if (!xs.length) { box.appendChild(el("div", { class: "muted small", style: { width: W + "px", padding: "30px 10px" }, text: o.empty || "no points yet" })); return box; }
    var x0 = least(xs), x1 = most(xs), y0 = least(ys), y1 = most(ys);
    if (o.diagonal) { x0 = y0 = Math.min(x0, y0); x1 = y1 = Math.max(x1, y1); }
    if (o.ymin !== undefined) y0 = Math.min(y0, o.ymin);
    if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
    if (y1 === y0) { var dy = Math.abs(y0) * 0.1 || 1; y0 -= dy; y1 += dy; }
    var py = (y1 - y0) * 0.06; y1 += py; if (o.ymin === undefined) y0 -= py;
    if (o.diagonal) { var px = (x1 - x0) * 0.06; x0 -= px; x1 += px; y0 = x0; y1 = x1; }
    var sx = function (v) { return L + ((v - x0) / (x1 - x0)) * (W - L - R); };
    var sy = function (v) { return H - B - ((v - y0) / (y1 - y0)) * (H - T - B); };
    var g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": o.title });
    ticks(x0, x1, 5).forEach(function (t) {
      g.appendChild(svg("line", { x1: sx(t), x2: sx(t), y1: T, y2: H - B, stroke: "#eef1f4" }));
      var tx = svg("text", { x: sx(t), y: H - B + 14, "text-anchor": "middle" }); tx.textContent = tickText(t); g.appendChild(tx);
    });
    ticks(y0, y1, 4).forEach(function (t) {
      g.appendChild(svg("line", { x1: L, x2: W - R, y1: sy(t), y2: sy(t), stroke: "#eef1f4" }));
      var ty = svg("text", { x: L - 6, y: sy(t) + 3, "text-anchor": "end" }); ty.textContent = tickText(t); g.appendChild(ty);
    });
    g.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#9aa5b1" }));
    g.appendChild(svg("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#9aa5b1" }));
    if (o.xlabel) { var xl = svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }); xl.textContent = o.xlabel; g.appendChild(xl); }
    if (o.ylabel) { var yl = svg("text", { x: 10, y: (T + H - B) / 2, "text-anchor": "middle", transform: "rotate(-90 10 " + (T + H - B) / 2 + ")" }); yl.textContent = o.ylabel; g.appendChild(yl); }
    if (o.diagonal) g.appendChild(svg("line", { x1: sx(x0), y1: sy(x0), x2: sx(x1), y2: sy(x1), stroke: "#9aa5b1", "stroke-dasharray": "3 3" }));
    (o.hlines || []).forEach(function (h) {
      g.appendChild(svg("line", { x1: L, x2: W - R, y1: sy(h.y), y2: sy(h.y), stroke: h.color || "#c62828", "stroke-dasharray": "5 3" }));
      if (h.label) { var ht = svg("text", { x: W - R - 2, y: sy(h.y) - 4, "text-anchor": "end", fill: h.color || "#c62828" }); ht.textContent = h.label; g.appendChild(ht); }
    });
    (o.vlines || []).forEach(function (v) {
      g.appendChild(svg("line", { x1: sx(v.x), x2: sx(v.x), y1: T, y2: H - B, stroke: v.color || "#c62828", "stroke-dasharray": "5 3" }));
    });
    o.series.forEach(function (s) {
      var pts = thin(s.points.filter(function (p) { return num(p[0]) && num(p[1]); }), 1200);
      if (s.line && pts.length > 1) {
        g.appendChild(svg("path", { d: pts.map(function (p, i) { return (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1); }).join(""), fill: "none", stroke: s.color, "stroke-width": 1.6 }));
      }
      if (s.dots || pts.length === 1) pts.forEach(function (p) { g.appendChild(svg("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: s.r || 3, fill: s.color, "fill-opacity": 0.85 })); });
    });
    box.appendChild(g);
    var named = o.series.filter(function (s) { return s.label; });
    if (named.length > 1 || (o.hlines || []).length) {
      var lg = el("div", { class: "legend" });
      named.forEach(function (s) { var i = el("i"); i.style.background = s.color; lg.append(i, s.label); });
      box.appendChild(lg);
    }
    return box;
  }
  /** A histogram of values: bins counts as bars, an optional mark (the constraint). */
  function histogram(values, o) {
    var W = o.width || 460, H = o.height || 230, L = 44, R = 14, T = 12, B = 34;
    var box = el("div", { class: "chart", id: o.id || null }, el("div", { class: "title", text: o.title }));
    if (!values.length) { box.appendChild(el("div", { class: "muted small", style: { width: W + "px", padding: "30px 10px" }, text: "no rows yet" })); return box; }
    var lo = least(values), hi = most(values);
    if (hi === lo) { lo -= 0.5; hi += 0.5; }
    var n = Math.max(5, Math.min(30, Math.round(Math.sqrt(values.length) * 2)));
    var width = (hi - lo) / n, counts = new Array(n).fill(0);
    values.forEach(function (v) { counts[Math.min(n - 1, Math.floor((v - lo) / width))]++; });
    var top = most(counts);
    var sx = function (v) { return L + ((v - lo) / (hi - lo)) * (W - L - R); };
    var sy = function (c) { return H - B - (c / top) * (H - T - B); };
    var g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": o.title });
    counts.forEach(function (c, i) {
      var rect = svg("rect", { x: sx(lo + i * width) + 0.5, y: sy(c), width: Math.max(1, sx(lo + (i + 1) * width) - sx(lo + i * width) - 1), height: H - B - sy(c), fill: "#0b63c5", "fill-opacity": 0.8 });
      var tip = svg("title"); tip.textContent = (lo + i * width).toFixed(2) + "\u2013" + (lo + (i + 1) * width).toFixed(2) + " ms: " + c; rect.appendChild(tip);
      g.appendChild(rect);
    });
    ticks(lo, hi, 5).forEach(function (t) { var tx = svg("text", { x: sx(t), y: H - B + 14, "text-anchor": "middle" }); tx.textContent = tickText(t); g.appendChild(tx); });
    ticks(0, top, 4).forEach(function (t) { if (t !== Math.round(t)) return; var ty = svg("text", { x: L - 6, y: sy(t) + 3, "text-anchor": "end" }); ty.textContent = String(t); g.appendChild(ty); });
    g.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#9aa5b1" }));
    var xl = svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }); xl.textContent = o.xlabel || ""; g.appendChild(xl);
    box.appendChild(g);
    return box;
  }

  // ---- views

  function jobsView() {
    var body = el("tbody"), count = el("span", { class: "muted" });
    view.append(el("div", { class: "row" }, el("h2", { text: "Jobs" }), count),
      el("table", { id: "jobs" }, el("thead", null, el("tr", null, ["Job", "Kind", "State", "Progress", "", "Message", "Created", "Ran"].map(function (h, i) { return el("th", { class: i === 4 ? "num" : null, text: h }); }))), body));
    every(2000, function () {
      return api("/v1/jobs").then(function (r) {
        body.textContent = "";
        count.textContent = r.jobs.length + " job" + (r.jobs.length === 1 ? "" : "s");
        if (!r.jobs.length) body.appendChild(el("tr", null, el("td", { colspan: 8, class: "muted", text: "No jobs yet: POST /v1/jobs/{kind} (docs/fleet.md), or hat demo --server URL." })));
        r.jobs.forEach(function (j) {
          var f = j.state === "done" ? 1 : j.progress;
          body.appendChild(el("tr", { class: "click", "data-job-id": j.id, "data-state": j.state, on: { click: function () { location.hash = "#job/" + j.id; } } },
            el("td", null, el("a", { href: "#job/" + j.id, class: "mono", text: j.id })),
            el("td", { text: j.kind }), el("td", null, badge(j.state)),
            el("td", null, bar(f)), el("td", { class: "num", text: pct(f) }),
            el("td", { class: "small", text: short(j.error ? j.error.split("\n")[0] : j.message || "", 140) }),
            el("td", { class: "small muted", title: iso(j.created_at), text: ago(j.created_at) }),
            el("td", { class: "small muted", text: j.started_at ? dur(((j.finished_at || Date.now()) - j.started_at) / 1000) : "" })));
        });
        say("jobs as of " + new Date().toLocaleTimeString());
      });
    });
  }

  function jobView(id) {
    var g = gen;
    var head = el("div", { class: "row" }), prog = el("div", { class: "card", id: "progress" }), panel = el("div", { id: "panel" });
    var arts = el("div"), logPre = el("pre", { class: "log", id: "log" }), details = el("div");
    view.append(el("p", null, el("a", { href: "#jobs", text: "\u2190 all jobs" })), head, prog, panel, arts, el("h3", { text: "Log" }), logPre, details);
    var job = null, last = null, curve = [], lines = 0, drawTimer = null, resultShown = false, campaignStarted = false;
    function live() { return g === gen; }
    function finished() { return job !== null && FINISHED[job.state] === true; }

    function drawHead() {
      head.textContent = "";
      head.append(el("h2", null, job.kind + " ", el("span", { class: "mono", text: job.id })), badge(job.state),
        el("span", { class: "muted small", text: "created " + ago(job.created_at) + (job.attempts > 1 ? ", attempt " + job.attempts : "") }));
      if (!finished()) {
        head.appendChild(el("button", { class: "danger", type: "button", text: "Cancel", on: { click: function () {
          if (!confirm("Cancel job " + job.id + "?")) return;
          api("/v1/jobs/" + job.id + "/cancel", { method: "POST" }).then(function (j) { job = j; drawAll(); }).catch(function (e) { say(e.message, true); });
        } } }));
      }
    }
    function drawProgress() {
      prog.textContent = "";
      var f = job.state === "done" ? 1 : job.progress;
      prog.append(el("div", { class: "row" }, el("div", { style: { flex: "1" } }, bar(f, true)), el("b", { id: "fraction", text: pct(f) })),
        el("div", { class: "small" + (job.error ? " error" : ""), id: "message", text: short(job.error || job.message || "", 400) }));
      var d = last;
      if (d && d.step !== undefined) {
        prog.appendChild(stats([
          ["step", d.step + " / " + (num(d.total_steps) ? d.total_steps : "?")], ["loss", fmt(d.loss, 3)],
          num(d.valid_loss) ? ["valid loss", fmt(d.valid_loss, 3)] : null, ["learning rate", sci(d.lr)],
          ["tokens/s", num(d.tokens_per_sec) ? Math.round(d.tokens_per_sec) : "\u2014"], ["elapsed", dur(d.elapsed_s)], ["left", num(d.eta_s) ? dur(d.eta_s) : "?"],
        ]));
      } else if (d && d.done !== undefined) {
        prog.appendChild(stats([["done", d.done + " / " + (num(d.total) ? d.total : "?")], num(d.agents) ? ["agents", d.agents] : null]));
      }
    }
    function drawCurves() {
      if (job.kind !== "train" && job.kind !== "finetune") return;
      var box = document.getElementById("curves") || el("div", { class: "charts", id: "curves" });
      box.textContent = "";
      var valid = curve.filter(function (p) { return num(p.valid_loss); });
      box.append(
        plot({ id: "loss-chart", title: "loss (training: running mean; validation: dots)", xlabel: "step", ylabel: "loss", series: [
          { label: "training", color: "#0b63c5", line: true, points: curve.map(function (p) { return [p.step, p.loss]; }) },
          { label: "validation", color: "#c25e00", dots: true, r: 4, points: valid.map(function (p) { return [p.step, p.valid_loss]; }) }] }),
        plot({ id: "lr-chart", title: "learning rate", xlabel: "step", ylabel: "lr", ymin: 0, series: [
          { color: "#6a3fb5", line: true, points: curve.map(function (p) { return [p.step, p.lr]; }) }] }));
      if (!box.parentNode) panel.prepend(box);
    }
    function scheduleDraw() {
      if (drawTimer) return;
      drawTimer = setTimeout(function () { drawTimer = null; if (!live()) return; drawHead(); drawProgress(); drawCurves(); }, 200);
    }
    cleanup.push(function () { clearTimeout(drawTimer); });

    function drawArtifacts() {
      arts.textContent = "";
      var roles = Object.keys(job.artifacts || {});
      if (!roles.length) return;
      arts.append(el("h3", { text: "Artifacts" }), table(["Role", "sha256", ""], roles.map(function (role) {
        var sha = job.artifacts[role];
        return el("tr", null, el("td", { text: role }), el("td", { class: "mono", title: sha, text: sha.slice(0, 16) + "\u2026" }),
          el("td", null, el("button", { type: "button", text: "Download", on: { click: function () { download(sha); } } }),
            role === "report" ? el("button", { type: "button", class: "primary", style: { marginLeft: "6px" }, text: "Show report", on: { click: function () { showReport(sha); } } }) : null));
      })));
    }
    function showReport(sha) {
      var holder = document.getElementById("report-holder");
      if (holder) { holder.scrollIntoView(); return; }
      holder = el("div", { id: "report-holder" }, el("h3", { text: "Report" }), el("p", { class: "muted small", text: "loading the report\u2026" }));
      arts.appendChild(holder);
      artifactUrl(sha, "text/html").then(function (a) {
        if (!live()) return;
        holder.lastChild.remove();
        // sandboxed: no script, no same-origin access, whatever the file holds
        holder.appendChild(el("iframe", { class: "report", id: "report", sandbox: "", referrerpolicy: "no-referrer", title: "search report", src: a.url }));
        holder.scrollIntoView();
      }).catch(function (e) { holder.lastChild.textContent = e.message; holder.lastChild.className = "error"; });
    }
    function drawDetails() {
      details.textContent = "";
      details.append(el("details", null, el("summary", { text: "params" }), el("pre", { class: "mono", text: JSON.stringify(job.params, null, 2) })));
      if (job.result !== null) details.append(el("details", null, el("summary", { text: "result (JSON)" }), el("pre", { class: "mono", text: JSON.stringify(job.result, null, 2) })));
    }
    function drawResult() {
      if (resultShown || job.result === null || typeof job.result !== "object") return;
      resultShown = true;
      var r = job.result, box = el("div", { id: "result" });
      if (job.kind === "search") searchResult(r, job, box);
      else if (job.kind !== "campaign") box.append(el("h3", { text: "Result" }), kv(r));
      panel.appendChild(box);
    }
    function drawAll() {
      drawHead(); drawProgress(); drawCurves(); drawArtifacts(); drawDetails(); drawResult();
      if (job.kind === "campaign" && !campaignStarted) { campaignStarted = true; campaignPanel(job, panel, finished); }
    }
    function onEvent(type, d) {
      if (!live()) return;
      if (type === "log") {
        logPre.appendChild(document.createTextNode((d.stream === "stderr" ? "! " : "") + d.line + "\n"));
        if (++lines > 600) logPre.removeChild(logPre.firstChild);
        logPre.scrollTop = logPre.scrollHeight;
      } else if (type === "progress") {
        if (num(d.fraction)) job.progress = d.fraction;
        if (d.message) job.message = d.message;
        if (d.data) {
          last = d.data;
          if (num(d.data.step) && num(d.data.loss)) curve.push(d.data);
        }
        scheduleDraw();
      } else if (type === "state") {
        job.state = d.state;
        if (d.error) job.error = d.error;
        scheduleDraw();
        if (FINISHED[d.state]) {
          api("/v1/jobs/" + encodeURIComponent(id)).then(function (j) { if (!live()) return; job = j; drawAll(); }).catch(function (e) { say(e.message, true); });
        }
      }
    }
    api("/v1/jobs/" + encodeURIComponent(id)).then(function (j) {
      if (!live()) return;
      job = j;
      drawAll();
      follow(id, onEvent, finished);
      say("following job " + id);
    }).catch(function (e) { if (live()) view.appendChild(el("p", { class: "error", text: e.message })); });
  }

  function campaignPanel(job, panel, finished) {
    var box = el("div", { id: "campaign" });
    panel.appendChild(box);
    var stopAfter = false;
    every(3000, function () {
      if (stopAfter) return;
      return api("/v1/campaigns/" + encodeURIComponent(job.id) + "/rows").then(function (r) {
        if (finished()) stopAfter = true;
        box.textContent = "";
        var agents = {};
        r.rows.forEach(function (x) { agents[x.agent_id] = (agents[x.agent_id] || 0) + 1; });
        var totals = r.rows.map(function (x) { return x.total_ms; });
        var sorted = totals.slice().sort(function (a, b) { return a - b; });
        var q = function (p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null; };
        box.append(el("h3", { text: "Measured rows" }),
          stats([["rows", r.rows.length + " / " + r.size], ["agents", Object.keys(agents).length], ["fastest", ms(sorted[0])], ["median", ms(q(0.5))], ["slowest", ms(sorted[sorted.length - 1])]]),
          el("div", { class: "charts" },
            histogram(totals, { id: "latency-histogram", title: "latency of the measured architectures (encoder + decoder)", xlabel: "ms" }),
            plot({ id: "enc-dec", title: "encoder against decoder latency", xlabel: "encoder ms", ylabel: "decoder ms", series: [
              { color: "#0b63c5", dots: true, points: r.rows.map(function (x) { return [x.encoder_ms, x.decoder_ms]; }) }] })));
        var latest = r.rows.slice().sort(function (a, b) { return b.measured_at - a.measured_at; }).slice(0, 12);
        box.append(el("h3", { text: "Latest rows" }), table(["#", "Agent", "Encoder", "Decoder", "Total", "Speed", "Load", "Measured"], latest.map(function (x) {
          return el("tr", null, el("td", { class: "num", text: x.idx }), el("td", { class: "mono small", text: x.agent_id }), el("td", { class: "num", text: ms(x.encoder_ms) }),
            el("td", { class: "num", text: ms(x.decoder_ms) }), el("td", { class: "num", text: ms(x.total_ms) }), el("td", { class: "num", text: fmt(x.speed) }),
            el("td", { class: "num", text: fmt(x.load1) }), el("td", { class: "small muted", title: iso(x.measured_at), text: ago(x.measured_at) }));
        }), { num: { 0: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1 }, id: "rows" }));
      });
    });
  }

  function searchResult(r, job, box) {
    var constraint = num(r.constraint_ms) ? r.constraint_ms : job.params && num(job.params.latency_ms) ? job.params.latency_ms : null;
    var verdict = r.verdict === "meets" ? badge("meets", "meets") : r.verdict === "none_met" ? badge("no candidate met the constraint", "misses") : null;
    box.append(el("h3", null, "Winner ", verdict),
      stats([
        ["validation loss", fmt(r.valid_loss, 4)], ["predicted", ms(r.predicted_ms)],
        num(r.measured_ms) ? ["measured" + (r.verified_on ? " on " + r.verified_on : ""), ms(r.measured_ms)] : null,
        ["constraint", ms(constraint)], num(r.bleu) ? ["BLEU", fmt(r.bleu, 1)] : null,
        num(r.params) ? ["parameters", (r.params / 1e6).toFixed(2) + " M"] : null, num(r.evaluations) ? ["evaluations", r.evaluations] : null,
        num(r.search_seconds) ? ["search time", dur(r.search_seconds)] : null,
      ]));
    if (r.over_constraint === true) box.appendChild(el("p", { class: "warn", text: "The winner's measured latency is OVER THE CONSTRAINT." }));
    if (r.random && num(r.random.valid_loss)) box.appendChild(el("p", { class: "small muted", text: "Random search at the same budget: best loss " + fmt(r.random.valid_loss, 4) + ", predicted " + ms(r.random.predicted_ms) + "." }));
    if (r.arch) box.appendChild(el("details", null, el("summary", { text: "the winner's architecture" }), el("pre", { class: "mono", text: JSON.stringify(r.arch, null, 2) })));
    var cands = Array.isArray(r.candidates) ? r.candidates : [];
    if (!cands.length) return;
    var hl = constraint !== null ? [{ y: constraint, label: "constraint " + ms(constraint) }] : [];
    // what "meets" compares: the measurement at the machine's usual speed (measured / speed factor), the raw one when there is no factor
    var usual = function (c) { return num(c.usual_ms) ? c.usual_ms : c.measured_ms; };
    box.append(el("h3", { text: "Candidates measured before the winner was declared" }),
      el("div", { class: "charts" }, plot({ id: "candidates-chart", title: "measured (at the usual speed) against predicted (dashed: equal; red: the constraint)", xlabel: "predicted ms", ylabel: "measured ms", diagonal: true, hlines: hl,
        vlines: constraint !== null ? [{ x: constraint }] : [],
        series: [
          { label: "candidate", color: "#0b63c5", dots: true, r: 4, points: cands.filter(function (c) { return !c.winner; }).map(function (c) { return [c.predicted_ms, usual(c)]; }) },
          { label: "winner", color: "#1a7f37", dots: true, r: 6, points: cands.filter(function (c) { return c.winner; }).map(function (c) { return [c.predicted_ms, usual(c)]; }) }] })),
      table(["Round", "Loss", "Predicted", "Measured", "At usual speed", "Error", "Speed", "Meets", ""], cands.map(function (c) {
        var u = usual(c), err = num(u) && num(c.predicted_ms) ? (100 * (c.predicted_ms - u)) / u : null;
        return el("tr", null, el("td", { class: "num", text: c.round }), el("td", { class: "num", text: fmt(c.valid_loss, 4) }), el("td", { class: "num", text: ms(c.predicted_ms) }),
          el("td", { class: "num", text: ms(c.measured_ms) }), el("td", { class: "num", text: ms(u) }), el("td", { class: "num", text: err === null ? "\u2014" : (err > 0 ? "+" : "") + err.toFixed(1) + " %" }),
          el("td", { class: "num", text: fmt(c.speed) }), el("td", null, c.meets === true ? badge("meets") : c.meets === false ? badge("over", "misses") : ""),
          el("td", null, c.winner ? el("b", { text: "winner" }) : ""));
      }), { num: { 0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1 }, id: "candidates" }));
  }

  function agentsView() {
    var body = el("tbody"), count = el("span", { class: "muted" });
    view.append(el("div", { class: "row" }, el("h2", { text: "Agents" }), count),
      el("table", { id: "agents" }, el("thead", null, el("tr", null, ["Agent", "Class", "Hardware", "State", "Last heartbeat", "Deployment", "Lease"].map(function (h) { return el("th", { text: h }); }))), body));
    every(5000, function () {
      return api("/v1/agents").then(function (r) {
        body.textContent = "";
        count.textContent = r.agents.length + " agent" + (r.agents.length === 1 ? "" : "s") + ", " + r.agents.filter(function (a) { return a.online; }).length + " online";
        if (!r.agents.length) body.appendChild(el("tr", null, el("td", { colspan: 7, class: "muted", text: "No agent has enrolled: POST /v1/enrolment-tokens, then hat agent --server URL --token T on the device." })));
        r.agents.forEach(function (a) {
          var hw = a.hardware || {};
          var simd = hw.wasm_relaxed_simd ? "relaxed SIMD" : hw.wasm_simd ? "SIMD" : "no SIMD";
          var state = a.revoked ? "revoked" : a.online ? "online" : "offline";
          body.appendChild(el("tr", { "data-agent-id": a.id },
            el("td", null, el("b", { text: a.name }), el("div", { class: "mono small muted", text: a.id })),
            el("td", { text: a.device_class }),
            el("td", { class: "small" }, el("div", { text: hw.cpu || "?" }),
              el("div", { class: "muted", text: hw.cores + " cores \u00b7 " + hw.arch + "/" + hw.platform + " \u00b7 " + (num(hw.memory_bytes) ? (hw.memory_bytes / 1073741824).toFixed(1) + " GiB" : "?") + " \u00b7 " + simd + " \u00b7 node " + hw.node + " \u00b7 agent " + hw.agent_version })),
            el("td", null, badge(state)),
            el("td", { class: "small", title: iso(a.last_seen_at), text: ago(a.last_seen_at) }),
            el("td", { class: "small" }, a.deployment ? [el("span", { class: "mono", text: a.deployment.id }), " ", ms(a.deployment.measured_ms)] : "\u2014"),
            el("td", { class: "small" }, a.lease ? [el("a", { href: "#job/" + a.lease.campaign_id, class: "mono", text: a.lease.campaign_id }), " until " + new Date(a.lease.expires_at).toLocaleTimeString()] : "\u2014")));
        });
        say("agents as of " + new Date().toLocaleTimeString());
      });
    });
  }

  function deploymentsView() {
    var list = el("div", { id: "deployments" }), count = el("span", { class: "muted" });
    view.append(el("div", { class: "row" }, el("h2", { text: "Deployments" }), count), list);
    every(5000, function () {
      return api("/v1/deployments").then(function (r) {
        list.textContent = "";
        count.textContent = r.deployments.length + " deployment" + (r.deployments.length === 1 ? "" : "s");
        if (!r.deployments.length) list.appendChild(el("p", { class: "muted", text: "Nothing deployed yet: POST /v1/deployments {device_class, model: {job}}." }));
        r.deployments.forEach(function (d) {
          var verdict = d.meets_constraint === true ? badge("meets", "meets") : d.meets_constraint === false ? badge("misses", "misses") : badge("not measured yet", "unknown");
          // what meets_constraint compares: the measurement at the agent's usual speed (usual_ms), the raw one from servers without it
          var usual = function (a) { return num(a.usual_ms) ? a.usual_ms : a.measured_ms; };
          var measured = d.agents.map(usual).filter(num);
          var scale = most(measured.concat([num(d.constraint_ms) ? d.constraint_ms : 0, 1e-9])) * 1.15;
          list.appendChild(el("div", { class: "card", "data-deployment-id": d.id },
            el("div", { class: "row" }, el("h3", { style: { margin: "0" } }, el("span", { class: "mono", text: d.id })), d.current ? badge("current", "active") : badge("superseded"), verdict,
              el("span", { class: "muted small", text: "class " + d.device_class + " \u00b7 " + d.model_kind + " model " + d.model_sha256.slice(0, 12) + "\u2026 (" + (d.model_bytes / 1048576).toFixed(2) + " MiB) \u00b7 " + ago(d.created_at) })),
            el("p", { class: "small" }, "constraint ", el("b", { text: ms(d.constraint_ms) }),
              d.source_job ? [" from search ", el("a", { href: "#job/" + d.source_job, class: "mono", text: d.source_job })] : null,
              " \u00b7 " + d.counts.active + " active, " + d.counts.pending + " pending, " + d.counts.failed + " failed"),
            table(["Agent", "State", "Measured", "At usual speed", "against the constraint", "Encoder / decoder", "Speed", "Meets", "Updated"], d.agents.map(function (a) {
              var b = el("div", { class: "bar" + (a.meets_constraint === false ? " over" : a.meets_constraint === true ? " under" : "") });
              var fill = el("span"); fill.style.width = num(usual(a)) ? ((100 * usual(a)) / scale).toFixed(1) + "%" : "0%"; b.appendChild(fill);
              if (num(d.constraint_ms)) { var lim = el("i", { class: "limit", title: "constraint " + ms(d.constraint_ms) }); lim.style.left = ((100 * d.constraint_ms) / scale).toFixed(1) + "%"; b.appendChild(lim); }
              return el("tr", { "data-agent-id": a.agent_id }, el("td", { text: a.name }), el("td", null, badge(a.state)), el("td", { class: "num", text: ms(a.measured_ms) }),
                el("td", { class: "num", text: ms(usual(a)) }), el("td", null, b),
                el("td", { class: "num small", text: ms(a.encoder_ms) + " / " + ms(a.decoder_ms) }),
                el("td", { class: "num", title: "the machine's speed when measured (runtime/steady.ts; above 1: slower than usual)", text: fmt(a.speed) }),
                el("td", null, a.meets_constraint === true ? badge("meets") : a.meets_constraint === false ? badge("over", "misses") : "\u2014"),
                el("td", { class: "small" + (a.error ? " error" : " muted"), text: a.error ? short(a.error, 160) : ago(a.updated_at) }));
            }), { num: { 2: 1, 3: 1, 5: 1, 6: 1 } })));
        });
        say("deployments as of " + new Date().toLocaleTimeString());
      });
    });
  }

  // ---- signing in and out, routing

  function stop() {
    gen++;
    cleanup.splice(0).forEach(function (f) { try { f(); } catch (e) { /* a view's cleanup must not stop the next */ } });
  }
  function signOut(message) {
    token = null;
    try { sessionStorage.removeItem(KEY); } catch (e) { /* not kept */ }
    route();
    document.getElementById("signin-error").textContent = message || "";
  }
  function route() {
    stop();
    var signedIn = token !== null;
    document.getElementById("signin-view").hidden = signedIn;
    view.hidden = !signedIn;
    nav.hidden = !signedIn;
    signoutButton.hidden = !signedIn;
    view.textContent = "";
    say("");
    if (!signedIn) { document.getElementById("token").focus(); return; }
    var h = location.hash.replace(/^#/, ""), m = /^job\/([A-Za-z0-9_-]{1,80})$/.exec(h);
    var name = m ? "jobs" : h === "agents" || h === "deployments" ? h : "jobs";
    Array.prototype.forEach.call(nav.querySelectorAll("a"), function (a) { a.className = a.getAttribute("data-nav") === name ? "on" : ""; });
    if (m) jobView(m[1]);
    else if (h === "agents") agentsView();
    else if (h === "deployments") deploymentsView();
    else jobsView();
  }
  document.getElementById("signin").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = document.getElementById("token"), error = document.getElementById("signin-error");
    var t = input.value.trim();
    if (!t) { error.textContent = "Type the admin token."; return; }
    error.textContent = "checking\u2026";
    fetch("/v1/jobs?state=running", { headers: { authorization: "Bearer " + t }, cache: "no-store" }).then(function (res) {
      if (res.status === 401 || res.status === 403) { error.textContent = res.status === 403 ? "That is an agent's token, not the admin token." : "The server does not know this token."; return; }
      if (!res.ok) { error.textContent = "The server answered HTTP " + res.status + "."; return; }
      token = t;
      input.value = "";
      error.textContent = "";
      try { sessionStorage.setItem(KEY, t); } catch (e2) { /* memory only */ }
      route();
    }, function (err) { error.textContent = "The server cannot be reached: " + err.message; });
  });
  signoutButton.addEventListener("click", function () { signOut(""); });
  window.addEventListener("hashchange", route);
  route();
})();
`;
