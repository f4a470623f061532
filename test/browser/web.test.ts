/**
 * `hat web`'s page (web/) in headless Chromium, served by `hat web --serve`'s server on 127.0.0.1
 * (web/serve.ts): it loads the wasm and a small model (random weights, a real BPE tokenizer),
 * translates what is typed, and its translation equals `hat translate`'s on the same model and
 * settings, token for token, decoding in its worker; it asks for nothing but its own files; a damaged model shows its
 * error on the page; opened from file:// it says why it cannot fetch and takes the model from a
 * file picker. Skips with a message where there is no Chromium (Debian: apt-get install chromium;
 * .ci/run installs it when root). Driven over the DevTools pipe (./cdp.ts). The Node side
 * (writeWebPage's checks, the server's whitelist) is tested whether or not Chromium is there.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bpe } from "../../data/bpe.js";
import { superDims } from "../../runtime/arch.js";
import { largestArch } from "../../runtime/arch-sample.js";
import { translateLinesWithTokens } from "../../runtime/decode.js";
import { encodeModel } from "../../runtime/format.js";
import { loadModelFile } from "../../runtime/model-files.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { wasmBuild } from "../../runtime/wasm-node.js";
import { randomTensors, superTensorShapes } from "../../runtime/weights.js";
import { WEB_FILES, writeWebPage } from "../../web/build.js";
import { serveWebPage, type ServingPage } from "../../web/serve.js";
import { hat } from "../cli/hat.js";
import { Browser, findChromium, type Page } from "./cdp.js";
import { supernetWithTokenizer } from "../model-files.js";

const chromium = findChromium();
if (!chromium) console.warn("web page browser test skipped: no `chromium` on this machine (Debian: apt-get install chromium; or set $CHROMIUM)");

const dir = mkdtempSync(join(tmpdir(), "hat-web-"));
const corpus = ["the cat sat on the mat", "a dog runs in the park", "hello world", "the quick brown fox jumps", "over the lazy dog", "we translate lines of text"];
const bpe = Bpe.train(corpus, { vocabSize: 60, byteFallback: false, minFrequency: 1 });
const d = superDims(DEMO_SPACE);
const modelPath = join(dir, "demo.hatm");
writeFileSync(modelPath, supernetWithTokenizer(DEMO_SPACE, bpe, 2));
// with these weights (seed 2) and this arch, beam 3 ends one sentence at once and runs the others
// to the length cap, while greedy runs all three: beam, lenpen and the arch all show in the tokens
const SENTENCES = ["the cat runs in the park", "hello lazy dog", "over the mat"];
const ARCH = largestArch(DEMO_SPACE); // the page runs the arch of an --arch file
const archPath = join(dir, "arch.json");
writeFileSync(archPath, JSON.stringify(ARCH));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `hat translate` on `lines` (in-process, the same CLI code), and Node's tokens for them. */
async function nodeTranslation(lines: string[], flags: string[], o: { beam: number; lenpen: number }): Promise<{ text: string[]; tokens: string[] }> {
  const input = join(dir, `in-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(input, lines.join("\n") + "\n");
  const r = await hat("translate", "--model", modelPath, "--arch", archPath, "--input", input, ...flags);
  expect(r.code, r.err).toBe(0);
  const model = await loadModelFile(modelPath);
  const t = translateLinesWithTokens(model.subnet(ARCH), Bpe.fromJSON(model.header.tokenizer), lines, o);
  return { text: r.out.split("\n").slice(0, -1), tokens: t.map((x) => x.tokens.join(" ")) };
}

describe("hat web: the page's files", () => {
  it("writes index.html, the bundle and the model, and refuses bad options and models naming the field", async () => {
    const out = join(dir, "files");
    const r = await hat("web", "--model", modelPath, "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("index.html");
    expect(readFileSync(join(out, "model.hatm"))).toEqual(readFileSync(modelPath));
    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).toContain(`<script src="hat-web.js"></script>`);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'/);
    const js = readFileSync(join(out, "hat-web.js"), "utf8");
    expect(js.length).toBeGreaterThan(20_000);
    expect(js).not.toMatch(/\brequire\(|node:/); // a browser bundle, nothing of Node in it

    await expect(writeWebPage({ model: modelPath, out, beam: 0 })).rejects.toThrow(/beam must be an integer 1-64, got 0/);
    await expect(writeWebPage({ model: modelPath, out, runs: 1000 })).rejects.toThrow(/runs must be an integer 1-100, got 1000/);
    await expect(writeWebPage({ model: modelPath, out, beam: 31 })).rejects.toThrow(/beam 31 too large for the model's vocabulary of 60/);
    const bad = join(dir, "bad.hatm");
    writeFileSync(bad, readFileSync(modelPath).subarray(0, 500));
    await expect(writeWebPage({ model: bad, out })).rejects.toMatchObject({ code: "truncated", message: expect.stringContaining(`${bad}: `) });
    const noTok = join(dir, "notok.hatm");
    writeFileSync(noTok, encodeModel({ kind: "supertransformer", space: DEMO_SPACE, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim }, vocab: bpe.vocab(), meta: {} },
      randomTensors(superTensorShapes(DEMO_SPACE, bpe.vocab().size), 1)));
    await expect(writeWebPage({ model: noTok, out })).rejects.toThrow(/carries no tokenizer/);
    const u = await hat("web", "--model", modelPath);
    expect(u.code).toBe(2);
    expect(u.err).toContain("--out is required");
  });

  it("--serve's server serves exactly the page's files, GET and HEAD only", async () => {
    const out = join(dir, "served");
    await writeWebPage({ model: modelPath, out });
    const s = await serveWebPage(out, { port: 0 });
    try {
      const index = await fetch(s.url);
      expect(index.status).toBe(200);
      expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
      for (const f of WEB_FILES) expect((await fetch(s.url + f)).status).toBe(200);
      expect((await fetch(s.url + "hat-web.js")).headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      for (const p of ["..%2fdemo.hatm", "%2e%2e/%2e%2e/etc/passwd", "nope.txt", "sub/index.html"]) expect((await fetch(s.url + p)).status, p).toBe(404);
      expect((await fetch(s.url, { method: "POST", body: "x" })).status).toBe(405);
    } finally {
      await s.close();
    }
  });
});

describe.skipIf(!chromium)("hat web: the page in Chromium", () => {
  let browser: Browser;
  let served: ServingPage;
  let page: Page;
  const BEAM = 3, LENPEN = 0.8;

  beforeAll(async () => {
    const out = join(dir, "page");
    const r = await hat("web", "--model", modelPath, "--arch", archPath, "--out", out, "--beam", String(BEAM), "--lenpen", String(LENPEN), "--runs", "2");
    expect(r.code, r.err).toBe(0);
    served = await serveWebPage(out, { port: 0 });
    browser = await Browser.launch(chromium!, { width: 1100, height: 720 });
    page = await browser.newPage({ width: 1100, height: 720 });
  });

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  const translated = (p: Page) => p.waitFor<boolean>(`(() => { const o = document.getElementById("out"); return o.dataset.source === document.getElementById("src").value && o.children.length > 0; })()`, 30_000);
  const lines = (p: Page) => p.eval<{ text: string; tokens: string }[]>(`[...document.querySelectorAll("#out p")].map((p) => ({ text: p.textContent, tokens: p.dataset.tokens }))`);

  it("translates what is typed as hat translate does, token for token, with the latency shown", async () => {
    await page.goto(served.url);
    await page.waitFor(`document.getElementById("status").dataset.state === "ready"`, 30_000);
    expect(await page.eval(`document.getElementById("model").textContent`)).toMatch(
      new RegExp(`^demo\\.hatm · supertransformer · 0\\.\\d+ M parameters · vocabulary 60 · encoder ${ARCH.encoderLayers}×${ARCH.encoderEmbedDim}, decoder ${ARCH.decoderLayers}×${ARCH.decoderEmbedDim} · loaded in`));
    // the same wasm build on both sides (relaxed SIMD where the engine has it), so the same arithmetic
    expect(await page.eval(`document.getElementById("build").textContent`)).toBe(wasmBuild());

    await page.type("#src", SENTENCES[0]);
    await translated(page);
    await page.type("#src", "\n" + SENTENCES.slice(1).join("\n")); // more typing: translated again, after the debounce
    await translated(page);
    const got = await lines(page);
    const want = await nodeTranslation(SENTENCES, ["--beam", String(BEAM), "--lenpen", String(LENPEN)], { beam: BEAM, lenpen: LENPEN });
    expect(got.map((l) => l.text)).toEqual(want.text);
    expect(got.map((l) => l.tokens)).toEqual(want.tokens);
    expect(want.tokens.map((t) => (t ? t.split(" ").length : 0))).toEqual([25, 25, 0]); // a real decode, of two lengths

    const lat = await page.eval<{ text: string; ms: number; times: string }>(`(() => { const l = document.getElementById("latency"); return { text: l.textContent, ms: Number(l.dataset.ms), times: l.dataset.times }; })()`);
    expect(lat.text).toMatch(new RegExp(`^[\\d.]+ ms median of 2 runs \\(min [\\d.]+, max [\\d.]+\\) · beam ${BEAM}, lenpen ${LENPEN} · 3 lines, \\d+ → \\d+ tokens · hat(-relaxed)?\\.wasm$`));
    expect(lat.times.split(" ")).toHaveLength(2);
    expect(Number.isFinite(lat.ms) && lat.ms >= 0).toBe(true);

    // greedy from the page's own control: again hat translate's output with --beam 1
    await page.eval(`(() => { const b = document.getElementById("beam"); b.value = "1"; b.dispatchEvent(new Event("change")); })()`);
    await page.waitFor(`document.getElementById("latency").textContent.includes("greedy (beam 1)")`);
    const greedy = await lines(page);
    const wantGreedy = await nodeTranslation(SENTENCES, ["--beam", "1", "--lenpen", String(LENPEN)], { beam: 1, lenpen: LENPEN });
    expect(greedy.map((l) => l.tokens)).toEqual(wantGreedy.tokens);
    expect(greedy.map((l) => l.text)).toEqual(wantGreedy.text);
    expect(wantGreedy.tokens).not.toEqual(want.tokens);

    // typing while a translation runs (beam 3, 100 runs of it: half a second or more): the latest text is translated once it ends
    await page.eval(`(() => { document.getElementById("beam").value = "3"; const b = document.getElementById("runs"); b.value = "100"; b.dispatchEvent(new Event("change")); })()`);
    await page.waitFor(`document.getElementById("status").dataset.state === "busy"`);
    await page.type("#src", "\nthe dog");
    await translated(page);
    const latest = await nodeTranslation([...SENTENCES, "the dog"], ["--beam", String(BEAM), "--lenpen", String(LENPEN)], { beam: BEAM, lenpen: LENPEN });
    expect((await lines(page)).map((l) => l.tokens)).toEqual(latest.tokens);
    expect(await page.eval(`document.getElementById("latency").textContent`)).toContain("median of 100 runs");

        // a bad setting is shown, not run
    await page.eval(`(() => { const b = document.getElementById("beam"); b.value = "0"; b.dispatchEvent(new Event("change")); })()`);
    await page.waitFor(`document.getElementById("error").textContent.includes('beam must be an integer 1-64, got "0"')`);

    // nothing but its own files, no error in the page
    // (and its worker, started from the bundle as a blob: URL of the page's origin)
    const [files, blobs] = [page.requests.filter((r) => !r.url.startsWith("blob:")), page.requests.filter((r) => r.url.startsWith("blob:"))];
    expect(files.map((r) => r.url).filter((u) => !u.startsWith(served.url))).toEqual([]);
    expect(files.map((r) => new URL(r.url).pathname).sort()).toEqual(["/", "/hat-web.js", "/model.hatm"]);
    expect(blobs).toHaveLength(1);
    expect(blobs[0].url.startsWith(`blob:${new URL(served.url).origin}/`)).toBe(true);
    expect(await page.eval(`document.getElementById("where").textContent`)).toBe("a worker");
    expect(page.errors).toEqual([]);
  });

  it("shows a damaged model's error on the page, not a blank page", async () => {
    const out = join(dir, "damaged");
    await writeWebPage({ model: modelPath, out });
    const bytes = readFileSync(modelPath);
    writeFileSync(join(out, "model.hatm"), bytes.subarray(0, bytes.length - 1000)); // cut short after hat web checked it
    const s = await serveWebPage(out, { port: 0 });
    try {
      const p = await browser.newPage();
      await p.goto(s.url);
      await p.waitFor(`document.getElementById("status").dataset.state === "error"`, 30_000);
      const err = await p.eval<string>(`document.getElementById("error").hidden ? "" : document.getElementById("error").textContent`);
      expect(err).toMatch(/^demo\.hatm cannot be used \(truncated\): file is truncated/);
      expect(await p.eval(`document.getElementById("status").textContent`)).toBe("no model");
      expect(p.errors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("--threads 2: the page's worker runs the threaded build on 2 threads (Web Workers sharing its memory), with hat translate's tokens", async () => {
    const out = join(dir, "threads");
    const r = await hat("web", "--model", modelPath, "--arch", archPath, "--out", out, "--beam", String(BEAM), "--lenpen", String(LENPEN), "--runs", "1", "--threads", "2");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/hat-threads/);
    const s = await serveWebPage(out, { port: 0 });
    try {
      const p = await browser.newPage();
      await p.goto(s.url);
      await p.waitFor(`document.getElementById("status").dataset.state === "ready"`, 30_000);
      expect(await p.eval(`document.getElementById("threads").textContent`)).toBe("2 threads");
      expect(await p.eval(`document.getElementById("build").textContent`)).toMatch(/^hat-threads(-relaxed)?\.wasm$/);
      await p.type("#src", SENTENCES.join("\n"));
      await translated(p);
      const want = await nodeTranslation(SENTENCES, ["--beam", String(BEAM), "--lenpen", String(LENPEN)], { beam: BEAM, lenpen: LENPEN });
      expect((await lines(p)).map((l) => l.tokens)).toEqual(want.tokens);
      expect(p.errors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("opened from file:// says why it cannot fetch, and translates a model picked from disk", async () => {
    const p = await browser.newPage();
    await p.goto(`file://${join(dir, "page", "index.html")}`);
    await p.waitFor(`document.getElementById("status").dataset.state === "error"`, 30_000);
    expect(await p.eval(`document.getElementById("error").textContent`)).toContain("A page opened from file:// cannot fetch: serve its folder (hat web --serve PORT");
    const { root } = await p.send("DOM.getDocument");
    const { nodeId } = await p.send("DOM.querySelector", { nodeId: root.nodeId, selector: "#file" });
    await p.send("DOM.setFileInputFiles", { nodeId, files: [modelPath] });
    await p.waitFor(`document.getElementById("status").dataset.state === "ready"`, 30_000);
    expect(await p.eval(`document.getElementById("error").hidden`)).toBe(true);
    await p.type("#src", SENTENCES.join("\n"));
    await translated(p);
    const want = await nodeTranslation(SENTENCES, ["--beam", String(BEAM), "--lenpen", String(LENPEN)], { beam: BEAM, lenpen: LENPEN });
    expect((await lines(p)).map((l) => l.tokens)).toEqual(want.tokens);
    expect(await p.eval(`document.getElementById("where").textContent`)).toBe("a worker");
  });
});
