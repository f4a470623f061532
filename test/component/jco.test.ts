/**
 * build/hat-component.wasm under Node through `jco transpile`'s bindings (the JS host of the
 * component model; WASI's clock from @bytecodealliance/preview2-shim): translations equal the Node
 * host's (runtime/decode.ts on build/hat.wasm), an error result is thrown as a ComponentError
 * carrying the WIT error (code and message). Needs no Python, so it runs wherever npm does.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Bpe } from "../../data/bpe.js";
import { translateLines } from "../../runtime/decode.js";
import { HatModel } from "../../runtime/model.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { repoRoot } from "../helpers.js";
import { COMPONENT, ensureComponent } from "./build.js";
import { supernetWithTokenizer } from "../model-files.js";


interface Bindings {
  load(bytes: Uint8Array): number;
  open(path: string): number;
  translate(model: number, text: string, o: { beam: number; lenpen: number; maxLen?: number }): string;
  unload(model: number): void;
}

const texts = ["the cat sat on the mat", "a dog runs in the park", "hello world", "über alles, 42"];
const bpe = Bpe.train(texts, { vocabSize: 300, byteFallback: true, minFrequency: 1 });
const model = supernetWithTokenizer(DEMO_SPACE, bpe, 7);

let c: Bindings;
let out = "";

describe("the component under Node (jco transpile)", () => {
  beforeAll(async () => {
    await ensureComponent();
    // under build/, so that the bindings' import of @bytecodealliance/preview2-shim resolves to node_modules
    mkdirSync(join(repoRoot, "build", "tmp"), { recursive: true });
    out = mkdtempSync(join(repoRoot, "build", "tmp", "jco-"));
    execFileSync("npx", ["jco", "transpile", COMPONENT, "-o", out, "--quiet"], { cwd: repoRoot, stdio: "pipe" });
    c = (await import(pathToFileURL(join(out, "hat-component.js")).href)) as Bindings;
  }, 200_000);
  afterAll(() => { if (out) rmSync(out, { recursive: true, force: true }); });

  it("translates as the Node host does", () => {
    const m = HatModel.fromBytes(model, loadWasm(new Uint8Array(readFileSync(join(repoRoot, "build", "hat.wasm")))));
    const sub = m.subnet(m.defaultArch);
    const h = c.load(model), got: string[] = [];
    for (const line of ["the cat runs", "hello park", "über 42 dogs", "🙂"]) {
      got.push(c.translate(h, line, { beam: 4, lenpen: 0.6 }));
      expect(got.at(-1)).toBe(translateLines(sub, bpe, [line], { beam: 4, lenpen: 0.6, batch: 1 })[0]);
    }
    expect(got.join("").length).toBeGreaterThan(0);
    c.unload(h);
  });

  it("opens a model file through WASI's filesystem (preview2-shim preopens / as /)", () => {
    const path = join(mkdtempSync(join(tmpdir(), "hat-jco-")), "m.hatm");
    writeFileSync(path, model);
    const h = c.open(path);
    expect(c.translate(h, "hello park", { beam: 4, lenpen: 0.6 })).toBe(c.translate(c.load(model), "hello park", { beam: 4, lenpen: 0.6 }));
    let thrown: unknown;
    try { c.open(path + ".missing"); } catch (e) { thrown = e; }
    expect((thrown as { payload?: unknown }).payload).toMatchObject({ code: "io", message: expect.stringContaining("no-entry") });
  });

  it("an error result is a ComponentError with the WIT error as its payload", () => {
    let thrown: unknown;
    try {
      c.load(model.subarray(0, 100));
    } catch (e) {
      thrown = e;
    }
    expect((thrown as { payload?: unknown }).payload).toMatchObject({ code: "truncated", message: expect.stringContaining("truncated") });
    expect(() => c.translate(12345, "x", { beam: 4, lenpen: 0.6 })).toThrow();
  });
});
