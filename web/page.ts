/**
 * The HTML of the page `hat web` writes (web/build.ts): one document with its CSS inline and one
 * script, the bundle beside it (hat-web.js). Its Content-Security-Policy lets it load that script,
 * compile wasm, fetch its own folder and start its worker from the bundle (a blob: URL), nothing
 * else: no network beyond its own files.
 */
import type { PageConfig } from "./main.js";

const STYLE = String.raw`
:root { --fg: #1d232a; --muted: #5f6b76; --line: #d8dee4; --bg: #f6f8fa; --card: #fff; --accent: #0b63c5; --bad: #c62828;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 14px; padding: 10px 22px; background: #14202e; color: #fff; }
header h1 { font-size: 17px; margin: 0; letter-spacing: .02em; }
header span { color: #cfe0f5; font-size: 13px; }
main { max-width: 1100px; margin: 0 auto; padding: 18px 22px 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 14px; }
.panes { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
@media (max-width: 760px) { .panes { grid-template-columns: 1fr; } }
label.pane { display: block; font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; margin-bottom: 6px; }
textarea { width: 100%; min-height: 190px; resize: vertical; font: inherit; padding: 10px 12px; border: 1px solid var(--line); border-radius: 6px; }
textarea:focus { outline: 2px solid #b6d4f5; border-color: var(--accent); }
#out { min-height: 190px; padding: 10px 12px; border: 1px solid var(--line); border-radius: 6px; background: #fbfcfd; }
#out p { margin: 0; min-height: 1.5em; white-space: pre-wrap; }
#latency { margin-top: 10px; color: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; }
#latency b { color: var(--fg); font-size: 16px; margin-right: 4px; }
.row { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; font-size: 13px; }
.row input[type=number] { width: 64px; font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 5px; }
.muted { color: var(--muted); } .small { font-size: 12px; }
#status { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: #8a96a3; }
#status[data-state=ready] { background: #1a7f37; } #status[data-state=busy] { background: var(--accent); } #status[data-state=error] { background: var(--bad); }
#error { color: var(--bad); background: #fdf0f0; border: 1px solid #efc7c7; border-radius: 6px; padding: 8px 12px; margin-bottom: 14px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
`;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page: `config` travels as JSON in a non-executed script element (escaped so it cannot close it). */
export function pageHtml(config: PageConfig, title = "hat-edge: translate in the browser"): string {
  const json = JSON.stringify(config).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; worker-src blob:; style-src 'unsafe-inline'; img-src 'self' data:">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>hat-edge</h1><span>the SubTransformer runtime in your browser: nothing leaves this page</span></header>
<main>
  <div id="error" role="alert" hidden></div>
  <section class="card">
    <div class="row"><span id="status" data-state="loading">loading…</span><span id="model" class="muted">${esc(config.modelName)}</span></div>
  </section>
  <section class="panes">
    <div class="card"><label class="pane" for="src">Source (a sentence a line)</label><textarea id="src" spellcheck="false" autofocus placeholder="type here: it translates as you type"></textarea></div>
    <div class="card"><label class="pane">Translation</label><div id="out" aria-live="polite"></div><div id="latency"></div></div>
  </section>
  <section class="card row">
    <label>beam <input id="beam" type="number" min="1" max="64" step="1"></label>
    <label>lenpen <input id="lenpen" type="number" min="0" max="10" step="0.1"></label>
    <label>runs <input id="runs" type="number" min="1" max="100" step="1"></label>
    <span class="muted small">batch ${config.batch} · wasm <code id="build">…</code> on <span id="threads">…</span> in <span id="where">…</span></span>
    <label class="small">another model: <input id="file" type="file" accept=".hatm"></label>
  </section>
  <p class="muted small">Latency: the median of <i>runs</i> translations of the whole text, timed in the page's worker around the same decoding <code>hat translate</code> runs (docs/runtime.md, "In the browser").</p>
</main>
<script id="hat-config" type="application/json">${json}</script>
<script src="hat-web.js"></script>
</body>
</html>
`;
}
