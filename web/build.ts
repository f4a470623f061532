/**
 * `hat web`'s capability (Node): write the static page that translates in the browser
 * (docs/runtime.md, "In the browser"). Into `out`:
 *
 *   index.html  the page (web/page.ts): its CSS inline, its settings as JSON
 *   hat-web.js  web/main.ts and the host-neutral runtime bundled by esbuild for the browser
 *               (one classic script, so it loads from file:// too), the wasm builds and the
 *               worker that translates (web/worker.ts) inlined
 *   model.hatm  the model, checked here first as `hat translate` checks it
 *
 * The model is fetched by the page, which a browser allows over http(s) only: serve the folder
 * (web/serve.ts, `hat web --serve PORT`, or any static server); from file:// the page asks for
 * the model file instead.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bpe } from "../data/bpe.js";
import { loadArch } from "../runtime/arch-files.js";
import { InputError } from "../runtime/errors.js";
import { HatModel } from "../runtime/model.js";
import { readModelFile } from "../runtime/model-files.js";
import { MAX_THREADS } from "../runtime/threads.js";
import { loadWasm, readWasmBuilds } from "../runtime/wasm-node.js";
import type { PageConfig } from "./main.js";
import { pageHtml } from "./page.js";

/** The files `writeWebPage` writes, the only ones web/serve.ts serves. */
export const WEB_FILES = ["index.html", "hat-web.js", "model.hatm"] as const;

export interface WebPageOptions {
  /** The model file (`.hatm` with a tokenizer). */
  model: string;
  /** The folder to write (created if missing; the three files replaced). */
  out: string;
  /** A SubTransformer arch file to run on a SuperTransformer (default: the model's own or its largest). */
  arch?: string;
  /** Decoding, as `hat translate`'s flags: beam 4, lenpen 0.6, batch 32. */
  beam?: number;
  lenpen?: number;
  batch?: number;
  /** Timed translations per shown latency (the median is shown): default 3. */
  runs?: number;
  /** Milliseconds of no typing before a translation: default 200. */
  debounceMs?: number;
  /** Threads the page's worker runs the products on (default 1; more: the threaded builds are
   *  inlined too, used where the page is cross-origin isolated, as `hat web --serve` serves it). */
  threads?: number;
}

export interface WebPage {
  out: string;
  files: { name: string; bytes: number }[];
  /** The wasm builds inlined in the bundle, preferred first. */
  builds: string[];
}

/** The error vocabulary of `writeWebPage`: an option out of range, named. */
export class WebOptionError extends InputError {
  override name = "WebOptionError";
}

function intIn(field: string, v: number | undefined, dflt: number, lo: number, hi: number): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < lo || x > hi) throw new WebOptionError(`${field} must be an integer ${lo}-${hi}, got ${v}`);
  return x;
}

/** web/NAME.ts from the sources (tsx, tests), web/NAME.js when compiled (dist/). */
function entry(name: string): string {
  const self = fileURLToPath(import.meta.url);
  return join(self, "..", `${name}${self.endsWith(".ts") ? ".ts" : ".js"}`);
}

/**
 * The page's script: web/main.ts with the runtime, `builds` inlined as base64, and the worker
 * (web/worker.ts, the runtime again) inlined as source text that the page starts from a blob: URL.
 */
export async function bundlePage(builds: readonly { name: string; bytes: Uint8Array }[], threadBuilds: readonly { name: string; bytes: Uint8Array }[] = []): Promise<string> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    throw new Error("hat web needs the esbuild package to bundle the page (npm install esbuild)");
  }
  const bundle = async (name: string, call: string) => {
    const e = entry(name);
    const r = await esbuild.build({
      stdin: { contents: `import * as m from ${JSON.stringify(e)};\n${call}\n`, resolveDir: join(e, ".."), loader: "ts", sourcefile: `hat-web-${name}-entry.ts` },
      bundle: true, platform: "browser", format: "iife", target: "es2022", minify: true, write: false, logLevel: "silent", legalComments: "none",
    });
    return r.outputFiles[0].text;
  };
  const worker = await bundle("worker", "m.serveRequests(self);");
  const inline = (bs: readonly { name: string; bytes: Uint8Array }[]) => bs.map((b) => ({ name: b.name, base64: Buffer.from(b.bytes).toString("base64") }));
  return bundle("main", `m.start(${JSON.stringify(inline(builds))}, ${JSON.stringify(worker)}, ${JSON.stringify(inline(threadBuilds))});`);
}

/** Check the model (as `hat translate` would run it) and write the page into `o.out`. */
export async function writeWebPage(o: WebPageOptions): Promise<WebPage> {
  const beam = intIn("beam", o.beam, 4, 1, 64), batch = intIn("batch", o.batch, 32, 1, 1024), runs = intIn("runs", o.runs, 3, 1, 100);
  const debounceMs = intIn("debounceMs", o.debounceMs, 200, 0, 10_000);
  const lenpen = o.lenpen ?? 0.6;
  if (!Number.isFinite(lenpen) || lenpen < 0 || lenpen > 10) throw new WebOptionError(`lenpen must be a number 0-10, got ${o.lenpen}`);

  const file = await readModelFile(o.model);
  if (!file.header.tokenizer) throw new InputError(`${o.model}: this model carries no tokenizer: it was not trained on text`);
  Bpe.fromJSON(file.header.tokenizer);
  const model = HatModel.fromDecoded(file, loadWasm());
  const arch = o.arch ? loadArch(o.arch, file.header.space) : undefined;
  model.subnet(arch ?? model.defaultArch); // the tensors fit the arch the page will run
  if (2 * beam > file.header.vocab.size) throw new WebOptionError(`beam ${beam} too large for the model's vocabulary of ${file.header.vocab.size}`);

  const threads = intIn("threads", o.threads, 1, 1, MAX_THREADS);
  const builds = readWasmBuilds(), threadBuilds = threads > 1 ? readWasmBuilds(true) : [];
  const script = await bundlePage(builds, threadBuilds);
  const config: PageConfig = { model: "model.hatm", modelName: basename(o.model), arch, beam, lenpen, batch, runs, debounceMs, threads };
  const contents: Record<(typeof WEB_FILES)[number], string | Uint8Array> = {
    "index.html": pageHtml(config), "hat-web.js": script, "model.hatm": new Uint8Array(readFileSync(o.model)),
  };
  mkdirSync(o.out, { recursive: true });
  const files = WEB_FILES.map((name) => {
    writeFileSync(join(o.out, name), contents[name]);
    return { name, bytes: typeof contents[name] === "string" ? Buffer.byteLength(contents[name]) : contents[name].byteLength };
  });
  return { out: o.out, files, builds: [...builds, ...threadBuilds].map((b) => b.name) };
}
