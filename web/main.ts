/**
 * The page `hat web` writes (docs/runtime.md, "In the browser"): the runtime translating as you
 * type, in the browser, with nothing but its own files. Bundled by web/build.ts with the wasm
 * builds and the worker's source inlined; the model is fetched from the page's folder
 * (`model.hatm`) or, where fetch cannot reach it (a page opened from file://), picked from disk.
 * The model lives in a worker (web/worker.ts, web/translator.ts), so typing never waits for a
 * decode. The host-neutral runtime only (runtime/browser.ts, data/bpe.ts):
 * test/runtime/host-neutral.test.ts bundles these files for the browser, no Node builtin allowed.
 *
 * What the page shows of each translation: its text, and its latency as the median of `runs`
 * timed translations (performance.now() in the worker around the same translateLinesWithTokens
 * `hat translate` runs), with the decoding settings (greedy or beam, lenpen, batch) and the build.
 */
import { pickWasmBuild } from "../runtime/browser.js";
import type { LoadRequest, ModelInfo, PlainError, TranslateRequest, TranslateResult } from "./translator.js";
import { RequestHandler, type WorkerReply, type WorkerRequest } from "./worker.js";

/** What `hat web` writes into the page (a JSON script element, id "hat-config"). */
export interface PageConfig {
  /** The model's URL relative to the page. */
  model: string;
  /** The model's file name where it was read (shown). */
  modelName: string;
  /** The SubTransformer to run (a SuperTransformer's), else the model's default. */
  arch?: unknown;
  beam: number;
  lenpen: number;
  batch: number;
  runs: number;
  /** Milliseconds of no typing before a translation starts. */
  debounceMs: number;
  /** Threads the products run on (the threaded build, in the worker; 1 where the page is not
   *  cross-origin isolated: SharedArrayBuffer needs it, `hat web --serve` sends the headers). */
  threads?: number;
}

/** A wasm build inlined in the bundle. */
export interface InlineBuild {
  name: string;
  base64: string;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

function bytesOf(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64), b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const fmtMs = (ms: number): string => (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0));

/**
 * Where the model runs: a worker made from the bundled worker source (typing never waits for a
 * decode), or, where the page cannot start one, this thread (the same code, RequestHandler).
 */
interface Backend {
  where: string;
  load(r: LoadRequest): Promise<ModelInfo>;
  translate(r: TranslateRequest): Promise<TranslateResult>;
}

class RequestError extends Error {
  constructor(readonly plain: PlainError) {
    super(plain.message);
  }
}

function workerBackend(source: string): Backend {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url);
  let next = 0;
  const waiting = new Map<number, { ok: (r: WorkerReply) => void; fail: (e: Error) => void }>();
  worker.onmessage = (ev: MessageEvent<WorkerReply>) => {
    const w = waiting.get(ev.data.id);
    waiting.delete(ev.data.id);
    w?.ok(ev.data);
  };
  worker.onerror = (ev) => {
    for (const w of waiting.values()) w.fail(new Error(`the worker failed: ${ev.message}`));
    waiting.clear();
  };
  const ask = (req: WorkerRequest, transfer: Transferable[] = []) => new Promise<WorkerReply>((ok, fail) => {
    waiting.set(req.id, { ok, fail });
    worker.postMessage(req, transfer);
  });
  const unwrap = <K extends "info" | "result">(r: WorkerReply, k: K) => {
    if ("error" in r) throw new RequestError(r.error);
    return (r as Record<K, unknown>)[k];
  };
  return {
    where: "a worker",
    load: async (r) => unwrap(await ask({ id: ++next, load: r }, [r.bytes.buffer as ArrayBuffer]), "info") as ModelInfo,
    translate: async (r) => unwrap(await ask({ id: ++next, translate: r }), "result") as TranslateResult,
  };
}

function sameThreadBackend(): Backend {
  const h = new RequestHandler();
  let next = 0;
  const unwrap = (r: WorkerReply) => {
    if ("error" in r) throw new RequestError(r.error);
    return r;
  };
  return {
    where: "this page's thread",
    // one thread here: a page's own thread may not wait on atomics (memory.atomic.wait)
    load: async (r) => (unwrap(await h.answer({ id: ++next, load: { ...r, threads: 1 } })) as { info: ModelInfo }).info,
    translate: async (r) => (unwrap(await h.answer({ id: ++next, translate: r })) as { result: TranslateResult }).result,
  };
}

/** Settings the user can change on the page, checked (a bad value is shown, never run). */
function readSettings(): { beam: number; lenpen: number; runs: number } | string {
  const beam = Number(($("beam") as HTMLInputElement).value), lenpen = Number(($("lenpen") as HTMLInputElement).value), runs = Number(($("runs") as HTMLInputElement).value);
  if (!Number.isInteger(beam) || beam < 1 || beam > 64) return `beam must be an integer 1-64, got "${($("beam") as HTMLInputElement).value}"`;
  if (!Number.isFinite(lenpen) || lenpen < 0 || lenpen > 10) return `lenpen must be a number 0-10, got "${($("lenpen") as HTMLInputElement).value}"`;
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) return `runs must be an integer 1-100, got "${($("runs") as HTMLInputElement).value}"`;
  return { beam, lenpen, runs };
}

/** Start the page: called by the bundle's entry with the inlined wasm builds and the worker's source. */
export async function start(builds: readonly InlineBuild[], workerSource: string, threadBuilds: readonly InlineBuild[] = []): Promise<void> {
  const status = $("status"), error = $("error"), out = $("out"), latency = $("latency"), src = $("src") as HTMLTextAreaElement;
  const setStatus = (state: "loading" | "ready" | "busy" | "error", text: string) => {
    status.dataset.state = state;
    status.textContent = text;
  };
  const showError = (msg: string) => {
    error.textContent = msg;
    error.hidden = false;
  };
  const clearError = () => {
    error.textContent = "";
    error.hidden = true;
  };

  let cfg: PageConfig;
  try {
    cfg = JSON.parse($("hat-config").textContent ?? "") as PageConfig;
  } catch (e) {
    setStatus("error", "not started");
    showError(`the page's configuration (#hat-config) is not JSON: ${(e as Error).message}`);
    return;
  }
  ($("beam") as HTMLInputElement).value = String(cfg.beam);
  ($("lenpen") as HTMLInputElement).value = String(cfg.lenpen);
  ($("runs") as HTMLInputElement).value = String(cfg.runs);

  // the wasm: the relaxed-SIMD build where this browser accepts it, else the baseline
  setStatus("loading", "compiling the runtime…");
  const decoded = builds.map((b) => ({ name: b.name, bytes: bytesOf(b.base64) }));
  const build = pickWasmBuild(decoded);
  if (!build) {
    setStatus("error", "no runtime");
    showError(`this browser runs none of the wasm builds (${builds.map((b) => b.name).join(", ")}): WebAssembly SIMD is needed`);
    return;
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(build.bytes);
  } catch (e) {
    setStatus("error", "no runtime");
    showError(`the wasm runtime (${build.name}) did not compile: ${(e as Error).message}`);
    return;
  }
  // threads: the threaded build of the same kind (relaxed or not), where the page may share memory
  let threads = Math.max(1, Math.floor(cfg.threads ?? 1)), threadModule: WebAssembly.Module | undefined, threadBuild = "", threadNote = "";
  if (threads > 1) {
    const tb = pickWasmBuild(threadBuilds.map((b) => ({ name: b.name, bytes: bytesOf(b.base64) })));
    if (!globalThis.crossOriginIsolated) threadNote = " (1 thread: the page is not cross-origin isolated, so it cannot share memory; serve it with hat web --serve)";
    else if (!tb) threadNote = " (1 thread: this browser runs no threaded build)";
    else {
      try {
        threadModule = await WebAssembly.compile(tb.bytes);
        threadBuild = tb.name;
      } catch (e) {
        threadNote = ` (1 thread: the threaded build did not compile: ${(e as Error).message})`;
      }
    }
    if (!threadModule) threads = 1;
  }
  $("build").textContent = build.name; // the threaded build's once a model runs on it (a page-thread fallback runs one thread)

  let backend: Backend;
  try {
    backend = workerBackend(workerSource);
  } catch {
    backend = sameThreadBackend();
  }
  $("where").textContent = backend.where;

  let ready = false, busy = false, again = false;

  /** Load `bytes` in the backend (a fresh wasm instance: a new model replaces the old). */
  const load = async (bytes: Uint8Array, name: string): Promise<void> => {
    ready = false;
    out.replaceChildren();
    latency.textContent = "";
    setStatus("loading", `loading ${name}…`);
    try {
      const m = await backend.load({ module, bytes, name, arch: cfg.arch, threads, threadModule });
      const a = m.arch;
      $("threads").textContent = `${m.threads} thread${m.threads === 1 ? "" : "s"}${threadNote}`;
      $("build").textContent = m.threads > 1 ? threadBuild : build.name;
      $("model").textContent = `${name} · ${m.kind} · ${(m.params / 1e6).toFixed(2)} M parameters · vocabulary ${m.vocab} · encoder ${a.encoderLayers}×${a.encoderEmbedDim}, decoder ${a.decoderLayers}×${a.decoderEmbedDim} · loaded in ${fmtMs(m.loadMs)} ms`;
      ready = true;
      clearError();
      setStatus("ready", "ready");
      void translate();
    } catch (e) {
      const code = e instanceof RequestError && e.plain.code ? ` (${e.plain.code})` : "";
      setStatus("error", "no model");
      showError(`${name} cannot be used${code}: ${(e as Error).message}`);
    }
  };

  let seq = 0;
  /** Translate the text now (each line a sentence, as `hat translate`); while one runs, once more after it. */
  const translate = async (): Promise<void> => {
    if (!ready) return;
    if (busy) {
      again = true;
      return;
    }
    const settings = readSettings();
    if (typeof settings === "string") {
      showError(settings);
      return;
    }
    const text = src.value, lines = text.split(/\r?\n/);
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    if (lines.every((l) => l.trim() === "")) {
      out.replaceChildren();
      out.dataset.source = text;
      latency.textContent = "";
      return;
    }
    const id = ++seq;
    busy = true;
    setStatus("busy", "translating…");
    let r: TranslateResult;
    try {
      r = await backend.translate({ lines, beam: settings.beam, lenpen: settings.lenpen, batch: cfg.batch, runs: settings.runs });
    } catch (e) {
      setStatus("error", "failed");
      showError(`translation failed: ${(e as Error).message}`);
      return;
    } finally {
      busy = false;
    }
    clearError();
    out.replaceChildren(...r.translations.map((t) => {
      const p = document.createElement("p");
      p.textContent = t.text;
      p.dataset.tokens = t.tokens.join(" ");
      return p;
    }));
    out.dataset.seq = String(id);
    out.dataset.source = text; // what was translated (the tests wait for it to equal the textarea)
    const times = r.times, med = median(times);
    const outTokens = r.translations.reduce((n, t) => n + t.tokens.length, 0);
    latency.dataset.ms = String(med);
    latency.dataset.times = times.join(" ");
    const decoding = settings.beam === 1 ? "greedy (beam 1)" : `beam ${settings.beam}`;
    latency.innerHTML = "";
    const b = document.createElement("b");
    b.textContent = `${fmtMs(med)} ms`;
    latency.append(b, ` median of ${settings.runs} run${settings.runs === 1 ? "" : "s"}${settings.runs > 1 ? ` (min ${fmtMs(Math.min(...times))}, max ${fmtMs(Math.max(...times))})` : ""} · ${decoding}, lenpen ${settings.lenpen} · ${lines.length} line${lines.length === 1 ? "" : "s"}, ${r.srcTokens} → ${outTokens} tokens · ${build.name}`);
    setStatus("ready", "ready");
    if (again) {
      again = false;
      void translate();
    }
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void translate(), cfg.debounceMs);
  };
  src.addEventListener("input", later);
  for (const id of ["beam", "lenpen", "runs"]) $(id).addEventListener("change", () => void translate());

  // a model from disk: the way in for a page opened from file://, or to try another model
  ($("file") as HTMLInputElement).addEventListener("change", async (ev) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (f) await load(new Uint8Array(await f.arrayBuffer()), f.name);
  });

  setStatus("loading", `fetching ${cfg.modelName}…`);
  let bytes: Uint8Array;
  try {
    const res = await fetch(cfg.model);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    setStatus("error", "no model");
    const fileUrl = location.protocol === "file:" ? " A page opened from file:// cannot fetch: serve its folder (hat web --serve PORT, or any static server), or pick the model file below." : "";
    showError(`could not fetch ${cfg.model}: ${(e as Error).message}.${fileUrl}`);
    return;
  }
  await load(bytes, cfg.modelName);
}
