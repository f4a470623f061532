/**
 * The shared runtime is host-neutral (docs/runtime.md, "In the browser"): every runtime/ module
 * but the named Node ones, data/bpe.ts and the page's modules (web/main.ts, worker.ts, translator.ts) bundle for the browser
 * with esbuild (platform "browser": a `node:` import, or any Node builtin, fails to resolve), and
 * none of our own files in their import graphs touches `process` or `Buffer` (which a browser
 * bundle would take and then fail on at run time). The Node list is checked both ways: a module
 * named there that has become neutral must leave it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { build, type Metafile } from "esbuild";
import { describe, expect, it } from "vitest";
import { smallestArch } from "../../runtime/arch-sample.js";
import { loadModelBytes } from "../../runtime/browser.js";
import { greedy } from "../../runtime/decode.js";
import { ModelFormatError } from "../../runtime/format.js";
import { HatModel, randomSuperTransformer } from "../../runtime/model.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { loadWasm, readWasmBuilds, wasmBuild } from "../../runtime/wasm-node.js";

/** The runtime modules that are Node's: files, the wasm on disk, processes, and what builds on them. */
const NODE_ONLY = [
  "arch-files.ts", // arch and space files
  "files.ts", // atomic writes
  "index.ts", // the package's Node entry: everything, Node parts included
  "model-files.ts", // .hatm files, the default wasm instance
  "node-entry.ts", // starting a module as a process
  "profile.ts", // latency measurement: the default build and its name (wasm-node.ts)
  "steady.ts", // over profile.ts
  "wasm-node.ts", // build/hat*.wasm on disk
];

async function browserBundle(entry: string): Promise<{ ok: true; inputs: string[] } | { ok: false; error: string }> {
  try {
    const r = await build({ entryPoints: [entry], bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent" });
    return { ok: true, inputs: Object.keys((r.metafile as Metafile).inputs) };
  } catch (e) {
    return { ok: false, error: (e as { errors?: { text: string }[] }).errors?.map((x) => x.text).join("; ") ?? String(e) };
  }
}

const NODE_GLOBALS = /\b(process\.|Buffer\.|Buffer\b(?=\s*[.(]))/;

describe("the shared runtime is host-neutral", () => {
  const shared = readdirSync("runtime").filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !NODE_ONLY.includes(f)).map((f) => `runtime/${f}`);

  it.each([...shared, "data/bpe.ts", "web/main.ts", "web/worker.ts", "web/translator.ts"])("%s bundles for the browser, no Node builtin or global in its graph", async (entry) => {
    const r = await browserBundle(entry);
    expect(r.ok ? "" : r.error).toBe("");
    if (!r.ok) return;
    const ours = r.inputs.filter((f) => !f.startsWith("node_modules/"));
    expect(ours).toContain(entry);
    const usesNode = ours.filter((f) => NODE_GLOBALS.test(readFileSync(f, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "")));
    expect(usesNode).toEqual([]);
  });

  it("the page's worker reaches the whole translation path (wasm, format, model, decode, bpe)", async () => {
    const r = await browserBundle("web/worker.ts");
    expect(r.ok).toBe(true);
    if (r.ok) for (const f of ["runtime/wasm.ts", "runtime/wasm-model.ts", "runtime/format.ts", "runtime/model.ts", "runtime/decode.ts", "data/bpe.ts"]) expect(r.inputs).toContain(f);
  });

  it("is the package's browser entry (hat-edge/browser)", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8"));
    expect(pkg.exports["./browser"]).toEqual({ types: "./dist/runtime/browser.d.ts", default: "./dist/runtime/browser.js" });
    expect(shared).toContain("runtime/browser.ts");
  });

  it.each(NODE_ONLY)("runtime/%s is Node's indeed (else: take it off the list)", async (f) => {
    const r = await browserBundle(`runtime/${f}`);
    expect(r.ok ? "bundles for the browser" : r.error).toMatch(/Could not resolve "node:/);
  });
});

describe("loadModelBytes (runtime/browser.ts): wasm bytes and model bytes in", () => {
  const bytes = randomSuperTransformer(DEMO_SPACE, 40, 5);
  const arch = smallestArch(DEMO_SPACE);
  const src = [[5, 9, 17, 2]];

  it("runs the first build this engine accepts, and decodes as the Node loader does", async () => {
    const builds = readWasmBuilds();
    const r = await loadModelBytes(builds, bytes);
    expect(r.build).toBe(wasmBuild()); // the same choice as Node's default
    const node = HatModel.fromBytes(bytes, loadWasm());
    expect(greedy(r.model.subnet(arch), src, { maxLen: 8 })).toEqual(greedy(node.subnet(arch), src, { maxLen: 8 }));
  });

  it("says so when no build runs here, and a bad model is a ModelFormatError with its code", async () => {
    await expect(loadModelBytes([{ name: "junk.wasm", bytes: new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]) }], bytes)).rejects.toThrow(/runs none of the wasm builds \(junk\.wasm\)/);
    await expect(loadModelBytes(readWasmBuilds(), bytes.subarray(0, 40))).rejects.toBeInstanceOf(ModelFormatError);
    await expect(loadModelBytes(readWasmBuilds(), bytes.subarray(0, 40))).rejects.toMatchObject({ code: "truncated" });
  });
});
