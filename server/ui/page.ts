/**
 * The dashboard page served at GET /: one HTML document with its CSS and script inline (no CDN, no
 * build step, nothing fetched but this server's /v1 API). The script is ./script.ts; the page's
 * Content-Security-Policy allows exactly that script (by its sha256), connections to this origin
 * only, and blob: frames (a search report shown sandboxed). No token is in it: the user types one.
 */
import { createHash } from "node:crypto";
import { DASHBOARD_SCRIPT } from "./script.js";

const STYLE = String.raw`
:root { --fg: #1d232a; --muted: #5f6b76; --line: #d8dee4; --bg: #f6f8fa; --card: #fff; --accent: #0b63c5;
  --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --run: #0b63c5; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 18px; padding: 10px 20px; background: #14202e; color: #fff; }
header h1 { font-size: 17px; margin: 0; letter-spacing: .02em; }
header nav { display: flex; gap: 4px; }
header nav a { color: #cfe0f5; text-decoration: none; padding: 4px 10px; border-radius: 6px; }
header nav a.on, header nav a:hover { background: #2a3d55; color: #fff; }
header .spacer { flex: 1; }
header button { background: transparent; color: #cfe0f5; border: 1px solid #4a5d75; }
main { padding: 18px 20px 40px; max-width: 1280px; margin: 0 auto; }
h2 { font-size: 18px; margin: 4px 0 12px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 14px; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: 6px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.click { cursor: pointer; } tr.click:hover td { background: #f0f6ff; }
.muted { color: var(--muted); } .small { font-size: 12px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
pre.log { background: #0f1720; color: #d7e1ea; padding: 10px 12px; border-radius: 6px; max-height: 320px; overflow: auto; margin: 0; white-space: pre-wrap; word-break: break-word; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); }
.badge.done, .badge.online, .badge.active, .badge.meets { background: var(--ok); }
.badge.failed, .badge.cancelled, .badge.revoked, .badge.misses { background: var(--bad); }
.badge.running, .badge.pending { background: var(--run); }
.badge.queued, .badge.offline, .badge.superseded, .badge.unknown { background: #8a96a3; }
.bar { position: relative; height: 10px; background: #e6ebf0; border-radius: 5px; overflow: hidden; min-width: 120px; }
.bar > span { position: absolute; left: 0; top: 0; bottom: 0; background: var(--accent); }
.bar.big { height: 14px; }
.bar .limit { position: absolute; top: -2px; bottom: -2px; width: 2px; background: var(--bad); }
.bar.over > span { background: var(--bad); } .bar.under > span { background: var(--ok); }
.stats { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 8px 0; }
.stats div b { display: block; font-size: 17px; font-variant-numeric: tabular-nums; }
.stats div span { color: var(--muted); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
.chart svg { display: block; }
.chart .title { font-size: 12px; color: var(--muted); margin: 0 0 4px 4px; }
svg text { font: 10px system-ui, sans-serif; fill: #5f6b76; }
.error { color: var(--bad); }
.warn { color: var(--warn); font-weight: 600; }
button { font: inherit; padding: 5px 12px; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--bad); border-color: #e5b3b3; }
#signin-view { max-width: 440px; margin: 60px auto; }
#signin-view input { width: 100%; padding: 8px 10px; font: inherit; border: 1px solid var(--line); border-radius: 6px; margin: 6px 0 12px; }
iframe.report { width: 100%; height: 860px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
.row { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.legend { font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin: 0 4px 0 10px; vertical-align: -1px; }
footer { position: fixed; bottom: 0; left: 0; right: 0; padding: 3px 20px; font-size: 12px; color: var(--muted); background: #eef2f5; border-top: 1px solid var(--line); }
`;

const BODY = `
<header>
  <h1>hat-edge</h1>
  <nav id="nav" hidden><a href="#jobs" data-nav="jobs">Jobs</a><a href="#agents" data-nav="agents">Agents</a><a href="#deployments" data-nav="deployments">Deployments</a></nav>
  <span class="spacer"></span>
  <button id="signout" type="button" hidden>Sign out</button>
</header>
<main>
  <section id="signin-view" class="card" hidden>
    <h2>Sign in</h2>
    <form id="signin" autocomplete="off">
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
      <button class="primary" type="submit">Sign in</button>
      <p id="signin-error" class="error" role="alert"></p>
    </form>
    <p class="muted small">The token <code>hat serve</code> was started with (<code>--admin-token</code>, <code>$HAT_ADMIN_TOKEN</code>,
      or the file <code>DATA/admin-token</code>). It stays in this tab (sessionStorage) and goes to this server only, as the
      <code>Authorization</code> header; never in a URL.</p>
  </section>
  <section id="view" hidden></section>
</main>
<footer id="status"></footer>`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>hat-edge dashboard</title>
<style>${STYLE}</style>
</head>
<body>${BODY}
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

const scriptHash = createHash("sha256").update(DASHBOARD_SCRIPT, "utf8").digest("base64");

/** The page's policy: its own script only, this origin's API, report frames from blob: URLs. */
export const DASHBOARD_CSP = [
  "default-src 'none'", `script-src 'sha256-${scriptHash}'`, "style-src 'unsafe-inline'", "connect-src 'self'",
  "img-src 'self' data: blob:", "frame-src blob:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join("; ");
