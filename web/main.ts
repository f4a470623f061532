/**
 * The page `hat web` writes (docs/runtime.md, "In the browser"): the runtime translating as you
 * type, in the browser, with nothing but its own files. Bundled by web/build.ts with the wasm
 * builds inlined; the model is fetched from the page's folder (`model.hatm`) or, where fetch
 * cannot reach it (a page opened from file://), picked from disk. The host-neutral runtime only
 * (runtime/browser.ts and data/bpe.ts): test/runtime/host-neutral.test.ts bundles this file for
 * the browser with no Node builtin allowed.
 *
 * What the page shows of each translation: its text, and its latency as the median of `runs`
 * timed translations (performance.now() around the same translateLinesWithTokens `hat translate`
 * runs), with the decoding settings (greedy or beam, lenpen, batch) and the wasm build.
 */
import { Bpe } from "../data/bpe.js";
import {
  HatModel, instantiateWasm, ModelFormatError, pickWasmBuild, translateLinesWithTokens, validateArch,
  type HatWasm, type Translation, type ValidArch, type WasmSubTransformer,
} from "../runtime/browser.js";

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

/** The model loaded and ready to translate. */
interface Loaded {
  model: HatModel;
  sub: WasmSubTransformer;
  bpe: Bpe;
  arch: ValidArch;
}

/** Settings the user can change on the page, checked (a bad value is shown, never run). */
function readSettings(): { beam: number; lenpen: number; runs: number } | string {
  const beam = Number(($("beam") as HTMLInputElement).value), lenpen = Number(($("lenpen") as HTMLInputElement).value), runs = Number(($("runs") as HTMLInputElement).value);
  if (!Number.isInteger(beam) || beam < 1 || beam > 64) return `beam must be an integer 1-64, got "${($("beam") as HTMLInputElement).value}"`;
  if (!Number.isFinite(lenpen) || lenpen < 0 || lenpen > 10) return `lenpen must be a number 0-10, got "${($("lenpen") as HTMLInputElement).value}"`;
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) return `runs must be an integer 1-100, got "${($("runs") as HTMLInputElement).value}"`;
  return { beam, lenpen, runs };
}

/** Start the page: called by the bundle's entry with the inlined wasm builds. */
export async function start(builds: readonly InlineBuild[]): Promise<void> {
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
  $("build").textContent = build.name;

  let loaded: Loaded | undefined;

  /** Decode, check and upload `bytes` (a fresh instance each time: a new model replaces the old). */
  const load = (bytes: Uint8Array, name: string): void => {
    loaded = undefined;
    out.replaceChildren();
    latency.textContent = "";
    try {
      const wasm: HatWasm = instantiateWasm(module);
      const t0 = performance.now();
      const model = HatModel.fromBytes(bytes, wasm);
      if (!model.header.tokenizer) throw new Error(`${name} carries no tokenizer: it was not trained on text, so it cannot translate text`);
      const bpe = Bpe.fromJSON(model.header.tokenizer);
      const arch = cfg.arch !== undefined ? validateArch(cfg.arch, model.header.space) : model.defaultArch;
      const sub = model.subnet(arch);
      loaded = { model, sub, bpe, arch };
      const h = model.header;
      $("model").textContent = `${name} · ${h.kind} · ${(model.params / 1e6).toFixed(2)} M parameters · vocabulary ${h.vocab.size} · encoder ${arch.encoderLayers}×${arch.encoderEmbedDim}, decoder ${arch.decoderLayers}×${arch.decoderEmbedDim} · loaded in ${fmtMs(performance.now() - t0)} ms`;
      clearError();
      setStatus("ready", "ready");
      translate();
    } catch (e) {
      const code = e instanceof ModelFormatError ? ` (${e.code})` : "";
      setStatus("error", "no model");
      showError(`${name} cannot be used${code}: ${(e as Error).message}`);
    }
  };

  let seq = 0;
  /** Translate the text now: each line a sentence, as `hat translate` does. */
  const translate = (): void => {
    if (!loaded) return;
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
    setStatus("busy", "translating…");
    const times: number[] = [];
    let result: Translation[] = [];
    try {
      for (let r = 0; r < settings.runs; r++) {
        const t0 = performance.now();
        result = translateLinesWithTokens(loaded.sub, loaded.bpe, lines, { beam: settings.beam, lenpen: settings.lenpen, batch: cfg.batch });
        times.push(performance.now() - t0);
      }
    } catch (e) {
      setStatus("error", "failed");
      showError(`translation failed: ${(e as Error).message}`);
      return;
    }
    clearError();
    out.replaceChildren(...result.map((t) => {
      const p = document.createElement("p");
      p.textContent = t.text;
      p.dataset.tokens = t.tokens.join(" ");
      return p;
    }));
    out.dataset.seq = String(id);
    out.dataset.source = text; // what was translated (the tests wait for it to equal the textarea)
    const med = median(times), srcTokens = lines.reduce((n, l) => n + (l.trim() ? loaded!.bpe.encode(l).length : 0), 0);
    const outTokens = result.reduce((n, t) => n + t.tokens.length, 0);
    latency.dataset.ms = String(med);
    latency.dataset.times = times.join(" ");
    const decoding = settings.beam === 1 ? "greedy (beam 1)" : `beam ${settings.beam}`;
    latency.innerHTML = "";
    const b = document.createElement("b");
    b.textContent = `${fmtMs(med)} ms`;
    latency.append(b, ` median of ${settings.runs} run${settings.runs === 1 ? "" : "s"}${settings.runs > 1 ? ` (min ${fmtMs(Math.min(...times))}, max ${fmtMs(Math.max(...times))})` : ""} · ${decoding}, lenpen ${settings.lenpen} · ${lines.length} line${lines.length === 1 ? "" : "s"}, ${srcTokens} → ${outTokens} tokens · ${build.name}`);
    setStatus("ready", "ready");
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(translate, cfg.debounceMs);
  };
  src.addEventListener("input", later);
  for (const id of ["beam", "lenpen", "runs"]) $(id).addEventListener("change", translate);

  // a model from disk: the way in for a page opened from file://, or to try another model
  ($("file") as HTMLInputElement).addEventListener("change", async (ev) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (f) load(new Uint8Array(await f.arrayBuffer()), f.name);
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
  load(bytes, cfg.modelName);
}
