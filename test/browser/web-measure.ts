/**
 * `node --experimental-wasm-relaxed-simd --import tsx test/browser/web-measure.ts MODEL [--arch FILE]
 *  [--sentence TEXT] [--rounds 7] [--runs 5] [--beam 4] [--lenpen 0.6] [--screenshot docs/web.png --show FILE]`:
 * the page's translation latency in headless Chromium against Node's for the same sentence, model
 * and settings: `translateLinesWithTokens`, what `hat translate` runs for a line, timed in this
 * process (no process start, no model load) and in the page (its own timing, the `runs` it shows).
 * Interleaved: each round times `runs` in Node, then `runs` in the page; medians over all of them,
 * and their ratio. Checks the two translations are the same tokens. With --screenshot, a PNG of
 * the page after the last round, showing --show FILE's lines if given (else the sentence). Not part of the test suite. Needs `chromium` ($CHROMIUM).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Bpe } from "../../data/bpe.js";
import { loadArch } from "../../runtime/arch-files.js";
import { translateLinesWithTokens } from "../../runtime/decode.js";
import { loadModelFile } from "../../runtime/model-files.js";
import { wasmBuild } from "../../runtime/wasm-node.js";
import { writeWebPage } from "../../web/build.js";
import { serveWebPage } from "../../web/serve.js";
import { Browser, findChromium } from "./cdp.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { arch: { type: "string" }, sentence: { type: "string" }, rounds: { type: "string" }, runs: { type: "string" }, beam: { type: "string" }, lenpen: { type: "string" }, screenshot: { type: "string" }, show: { type: "string" } },
});
const modelPath = positionals[0];
if (!modelPath) throw new Error("usage: web-measure.ts MODEL [--arch FILE] [--sentence TEXT] [--rounds 7] [--runs 5] [--screenshot PNG]");
const chromium = findChromium();
if (!chromium) throw new Error("no chromium on this machine (Debian: apt-get install chromium; or set $CHROMIUM)");
const rounds = Number(values.rounds ?? 7), runs = Number(values.runs ?? 5), beam = Number(values.beam ?? 4), lenpen = Number(values.lenpen ?? 0.6);
const sentence = values.sentence ?? "the small dog saw the old teachers in the garden yesterday";

const model = await loadModelFile(modelPath);
const arch = values.arch ? loadArch(values.arch, model.header.space) : model.defaultArch;
const sub = model.subnet(arch), bpe = Bpe.fromJSON(model.header.tokenizer);
const nodeOnce = () => {
  const t0 = performance.now();
  const r = translateLinesWithTokens(sub, bpe, [sentence], { beam, lenpen });
  return { ms: performance.now() - t0, r: r[0] };
};

const dir = mkdtempSync(join(tmpdir(), "hat-web-measure-"));
const served = await serveWebPage((await writeWebPage({ model: modelPath, out: dir, arch: values.arch, beam, lenpen, runs, debounceMs: 0 })).out, { port: 0 });
const browser = await Browser.launch(chromium, { width: 1100, height: 640 });
try {
  const page = await browser.newPage({ width: 1100, height: 640 });
  await page.goto(served.url);
  await page.waitFor(`document.getElementById("status").dataset.state === "ready"`, 60_000);
  const pageBuild = await page.eval<string>(`document.getElementById("build").textContent`);
  const node: number[] = [], web: number[] = [];
  let tokens = { node: "", web: "" };
  nodeOnce(); // warm-up, both sides
  for (let i = 0; i < rounds; i++) {
    for (let r = 0; r < runs; r++) {
      const { ms, r: t } = nodeOnce();
      node.push(ms);
      tokens.node = t.tokens.join(" ");
    }
    // a fresh translation in the page: clear, then type the sentence (translated after 0 ms of debounce)
    await page.eval(`(() => { const s = document.getElementById("src"); s.value = ""; s.dispatchEvent(new Event("input")); })()`);
    await page.waitFor(`document.getElementById("out").dataset.source === ""`);
    await page.type("#src", sentence);
    await page.waitFor(`document.getElementById("out").dataset.source === document.getElementById("src").value`, 120_000);
    const got = await page.eval<{ times: string; tokens: string }>(`({ times: document.getElementById("latency").dataset.times, tokens: document.querySelector("#out p").dataset.tokens })`);
    if (i > 0) web.push(...got.times.split(" ").map(Number)); // round 0: the page's warm-up
    tokens.web = got.tokens;
  }
  const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const out = tokens.node.split(" ").filter(Boolean).length;
  console.log(JSON.stringify({
    model: modelPath, arch: values.arch ?? "default", sentence, beam, lenpen, src_tokens: bpe.encode(sentence).length, out_tokens: out,
    same_tokens: tokens.node === tokens.web, build: { node: wasmBuild(), page: pageBuild }, chromium: (await browser.send("Browser.getVersion")).product,
    node_ms_median: +med(node).toFixed(3), page_ms_median: +med(web).toFixed(3), page_over_node: +(med(web) / med(node)).toFixed(3), n: { node: node.length, page: web.length },
  }));
  if (values.screenshot) {
    if (values.show) {
      await page.eval(`(() => { const s = document.getElementById("src"); s.value = ""; s.dispatchEvent(new Event("input")); })()`);
      await page.waitFor(`document.getElementById("out").dataset.source === ""`);
      await page.type("#src", readFileSync(values.show, "utf8").trimEnd());
      await page.waitFor(`document.getElementById("out").dataset.source === document.getElementById("src").value`, 120_000);
    }
    await page.screenshot(values.screenshot);
  }
} finally {
  await browser.close();
  await served.close();
  rmSync(dir, { recursive: true, force: true });
}
