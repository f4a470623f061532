/**
 * What the page's worker (web/worker.ts) does with a model: load it into its own wasm instance and
 * translate lines as `hat translate` does (translateLinesWithTokens), timing each of `runs`
 * translations. Host-neutral; plain data in and out, so that it crosses postMessage.
 */
import { Bpe } from "../data/bpe.js";
import {
  createThreadedWasm, HatModel, instantiateWasm, ModelFormatError, translateLinesWithTokens, validateArch, webWorkerSpawner,
  type HatWasm, type Translation, type ValidArch, type WasmSubTransformer,
} from "../runtime/browser.js";

export interface LoadRequest {
  /** The compiled runtime (a WebAssembly.Module posts to a worker). */
  module: WebAssembly.Module;
  bytes: Uint8Array;
  /** The model's file name, for messages. */
  name: string;
  /** The arch to run (a SuperTransformer's SubTransformer), else the model's default. */
  arch?: unknown;
  /** More than 1: run on this many threads, with `threadModule` (a threaded build; docs/runtime.md "Threads"). */
  threads?: number;
  threadModule?: WebAssembly.Module;
}

export interface ModelInfo {
  name: string;
  kind: string;
  params: number;
  vocab: number;
  arch: ValidArch;
  loadMs: number;
  /** The threads its products run on. */
  threads: number;
}

export interface TranslateRequest {
  lines: string[];
  beam: number;
  lenpen: number;
  batch: number;
  runs: number;
}

export interface TranslateResult {
  translations: Translation[];
  /** Milliseconds of each run (performance.now() around the whole translation). */
  times: number[];
  srcTokens: number;
}

/** An error as it crosses postMessage: its message and, for a bad model file, its ModelFormatError code. */
export interface PlainError {
  message: string;
  code?: string;
}

export const plainError = (e: unknown): PlainError =>
  e instanceof ModelFormatError ? { message: e.message, code: e.code } : { message: e instanceof Error ? e.message : String(e) };

export class PageTranslator {
  private constructor(private readonly sub: WasmSubTransformer, private readonly bpe: Bpe, readonly wasm: HatWasm) {}

  /** Decode, check and upload the model into a fresh instance of `module` (of `threadModule` on
   *  r.threads threads, its workers Web Workers started from this worker). */
  static async load(r: LoadRequest): Promise<{ translator: PageTranslator; info: ModelInfo }> {
    const t0 = performance.now();
    const threads = r.threads ?? 1;
    if (threads > 1 && !r.threadModule) throw new Error("threads > 1 needs the threaded build");
    const wasm = threads > 1 ? await createThreadedWasm(r.threadModule!, threads, webWorkerSpawner()) : instantiateWasm(r.module);
    try {
      const model = HatModel.fromBytes(r.bytes, wasm);
      if (!model.header.tokenizer) throw new Error(`${r.name} carries no tokenizer: it was not trained on text, so it cannot translate text`);
      const bpe = Bpe.fromJSON(model.header.tokenizer);
      const arch = r.arch !== undefined ? validateArch(r.arch, model.header.space) : model.defaultArch;
      const sub = model.subnet(arch);
      const h = model.header;
      return { translator: new PageTranslator(sub, bpe, wasm), info: { name: r.name, kind: h.kind, params: model.params, vocab: h.vocab.size, arch, loadMs: performance.now() - t0, threads } };
    } catch (e) {
      wasm.close();
      throw e;
    }
  }

  translate(r: TranslateRequest): TranslateResult {
    const times: number[] = [];
    let translations: Translation[] = [];
    for (let i = 0; i < r.runs; i++) {
      const t0 = performance.now();
      translations = translateLinesWithTokens(this.sub, this.bpe, r.lines, { beam: r.beam, lenpen: r.lenpen, batch: r.batch });
      times.push(performance.now() - t0);
    }
    const srcTokens = r.lines.reduce((n, l) => n + (l.trim() ? this.bpe.encode(l).length : 0), 0);
    return { translations, times, srcTokens };
  }
}
