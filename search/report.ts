/**
 * The search report: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched)
 * from a SearchRecord, the JSON summary `hat search --record` writes. Plots:
 *   1. inherited loss against predicted latency of every evaluated candidate, with the Pareto
 *      front of what was evaluated, the latency constraint and the winner (and its measured latency);
 *   2. best loss against evaluations: evolution against random search at equal budget (HAT Fig. 9);
 *   3. predicted against measured latency of the predictor's held-out test set.
 */
import { readFileSync } from "node:fs";
import type { FormRecord } from "./forms.js";
import { readProtocol, type Protocol } from "../runtime/protocol.js";
import type { Arch, Space } from "../runtime/types.js";
import { nonDominatedSort } from "./nsga2.js";
import { SearchInputError } from "./predictor-file.js";
import type { Evaluated, GenerationStats, SearchResult } from "./problem.js";
import { chart, esc, type RefLine, type Series } from "./svg.js";

/** One search run, as recorded. */
export interface RunRecord {
  method: SearchResult["method"];
  evaluations: number;
  seconds: number;
  history: GenerationStats[];
  /** Every evaluated candidate: loss, predicted latency per device, generation. */
  points: { loss: number; latency: number[]; generation: number }[];
  best: { arch: Arch; loss: number; latency: number[] };
  /** Multi-objective runs: the front, by latency on the first device. */
  front?: { arch: Arch; loss: number; latency: number[] }[];
  warnings: string[];
}

export interface WinnerRecord {
  arch: Arch;
  validLoss: number;
  predictedMs: number[];
  /** Parameters of the SubTransformer (not the SuperTransformer's). */
  params: number;
  superParams?: number;
  exported?: { path: string; bytes: number; params: number };
  finetuned?: { path: string; mode: "finetune" | "scratch"; steps: number; seconds: number; validLoss: number };
  /** Real latency in this machine's wasm runtime (or on `measuredOn`), with the protocol (its build the one that ran). */
  measured?: MeasuredRecord;
  bleu?: { score: number; sentences: number; beam: number; lenpen: number; model: "inherited" | "finetuned" };
}

export interface MeasuredRecord {
  /** The device (of the search's devices) the measurement stands for. */
  device: string;
  totalMs: number;
  encoderMs: number;
  decoderMs: number;
  protocol: Protocol;
  overConstraint: boolean;
  /** Where it was measured, when not in the search's process (the demo: "the 'x' agent"). */
  measuredOn?: string;
  /** 1-minute load average and logical cores when measured: a busy machine measures slow. */
  load1?: number;
  cores?: number;
}

/**
 * A record's measurement, older records' too: they had `runs` and `build` ("hat.wasm on the 'x'
 * agent" in the demo's) beside a protocol of vocab, srcLen, tgtLen and beam, and did not record
 * the warm-up (it was the default, 5 runs).
 */
export function measuredRecord(m: MeasuredRecord): MeasuredRecord {
  type Old = Omit<MeasuredRecord, "protocol"> & { runs: number; build?: string; protocol: { vocab: number; srcLen?: number; tgtLen: number; beam: number } };
  const old = m as unknown as Old;
  if (old.protocol.srcLen === undefined) return m;
  const { runs, build, protocol: p, ...rest } = old;
  const [b, ...on] = (build ?? "").split(" on ");
  return {
    ...rest, ...(on.length ? { measuredOn: on.join(" on ") } : {}),
    protocol: readProtocol({ runs, warmup: 5, vocab: p.vocab, src_len: p.srcLen, tgt_len: p.tgtLen, beam: p.beam, ...(b ? { build: b } : {}) }),
  };
}

/** The closed loop after the search (./closed-loop.ts): every candidate measured, predicted beside measured. */
export interface VerificationRecord {
  /** The device (of the search's devices) the candidates were measured for, and where they were measured. */
  device: string;
  where: string;
  maxMs: number;
  /** Candidates per round, rounds run, and each round's search constraint. */
  k: number;
  rounds: number;
  targets: number[];
  verdict: "meets" | "none_met" | "unverified";
  stopped: string;
  candidates: { arch: Arch; round: number; validLoss: number; predictedMs: number; measuredMs?: number; usualMs?: number; meets?: boolean; speed?: number }[];
  /** Index of the winner in candidates. */
  winner?: number;
}

export interface SearchRecord {
  version: 1;
  createdAt: string;
  supernet?: string;
  space: Space;
  devices: { name: string; maxMs?: number }[];
  settings: Record<string, unknown>;
  evolution?: RunRecord;
  random?: RunRecord;
  nsga2?: RunRecord;
  winner?: WinnerRecord;
  verification?: VerificationRecord;
  predictorTests?: { device: string; measured: number[]; predicted: number[] }[];
  validPairs?: number;
  /** The searched model in each deployed form: file size and latency measured here (./forms.ts; `hat report --model`). */
  forms?: FormRecord[];
  wallSeconds: number;
}

const slim = (e: Evaluated) => ({ arch: e.arch, loss: e.loss, latency: e.latency });

/** A search record file (`hat search --record`); a SearchInputError naming it when it is not one. */
export function readSearchRecord(path: string): SearchRecord {
  let rec: SearchRecord;
  try {
    rec = JSON.parse(readFileSync(path, "utf8")) as SearchRecord;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code) throw e;
    throw new SearchInputError(`${path}: not a search record: malformed JSON (${err.message})`);
  }
  if (rec?.version !== 1 || !Array.isArray(rec.devices) || typeof rec.space !== "object") throw new SearchInputError(`${path}: not a search record (hat search --record writes one)`);
  return rec;
}

/** A run's record (what the report and the JSON need, without the cache's internals). */
export function runRecord(r: SearchResult): RunRecord {
  return {
    method: r.method, evaluations: r.evaluations, seconds: r.seconds, history: r.history,
    points: r.evaluated.map((e) => ({ loss: e.loss, latency: e.latency, generation: e.generation })),
    best: slim(r.best), front: r.front?.map(slim), warnings: r.warnings,
  };
}

const COLORS = { evolution: "#1f77b4", random: "#ff7f0e", nsga2: "#2ca02c", front: "#d62728", constraint: "#9467bd", winner: "#000", measured: "#e377c2" };

function lossLatencyChart(rec: SearchRecord, device: number): string {
  // runs over fewer devices (evolution and random search for the first) have no latency here
  const runs = [rec.evolution, rec.random, rec.nsga2].filter((r): r is RunRecord => !!r && r.points.length > 0 && r.points[0].latency.length > device);
  const series: Series[] = runs.map((r) => ({
    name: `${r.method} (${r.points.length})`, color: COLORS[r.method], kind: "points" as const, size: 2.5, opacity: 0.45,
    points: r.points.map((p) => [p.latency[device], p.loss] as const),
  }));
  // the front of everything evaluated (and feasible), loss against this device's latency
  const dev = rec.devices[device];
  const pts = runs.flatMap((r) => r.points.map((p) => [p.latency[device], p.loss]))
    .filter(([ms]) => dev.maxMs === undefined || ms <= dev.maxMs);
  const front = (nonDominatedSort(pts)[0] ?? []).map((i) => pts[i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  series.push({ name: `Pareto front (${front.length})`, color: COLORS.front, kind: "step", points: front });
  const refs: RefLine[] = [];
  if (dev.maxMs !== undefined) refs.push({ axis: "x", value: dev.maxMs, label: `constraint ${dev.maxMs} ms`, color: COLORS.constraint });
  const w = rec.winner;
  if (w && w.predictedMs.length > device) {
    series.push({ name: "winner (predicted)", color: COLORS.winner, kind: "points", size: 6, opacity: 1, points: [[w.predictedMs[device], w.validLoss]], titles: ["winner"] });
    if (w.measured && w.measured.device === dev.name) {
      series.push({ name: "winner (measured)", color: COLORS.measured, kind: "points", size: 6, opacity: 1, points: [[w.measured.totalMs, w.validLoss]], titles: [`measured ${w.measured.totalMs.toFixed(2)} ms`] });
    }
  }
  return chart({ title: `Inherited validation loss against predicted latency (${dev.name})`, xLabel: `predicted latency on ${dev.name} (ms)`, yLabel: "inherited validation loss", series, refs });
}

function progressChart(rec: SearchRecord): string {
  const runs = [rec.evolution, rec.random, rec.nsga2].filter((r): r is RunRecord => !!r);
  const series: Series[] = runs.map((r) => ({
    name: r.method, color: COLORS[r.method], kind: "line" as const,
    points: r.history.map((h) => [h.evaluations, h.bestLoss] as const),
  }));
  return chart({ title: "Best inherited loss against evaluations", xLabel: "architectures evaluated", yLabel: "best inherited validation loss", series });
}

function predictorChart(t: { device: string; measured: number[]; predicted: number[] }): string {
  const n = Math.min(t.measured.length, t.predicted.length);
  let se = 0, ae = 0;
  for (let i = 0; i < n; i++) { const d = t.predicted[i] - t.measured[i]; se += d * d; ae += Math.abs(d) / Math.max(1e-12, Math.abs(t.measured[i])); }
  const rmse = Math.sqrt(se / Math.max(1, n)), mape = (100 * ae) / Math.max(1, n);
  return chart({
    title: `Latency predictor on its test set (${t.device}): RMSE ${rmse.toFixed(3)} ms, mean error ${mape.toFixed(1)} %`,
    xLabel: "measured latency (ms)", yLabel: "predicted latency (ms)", diagonal: true,
    series: [{ name: `test set (${n})`, color: COLORS.evolution, kind: "points", size: 3, opacity: 0.6, points: Array.from({ length: n }, (_, i) => [t.measured[i], t.predicted[i]] as const) }],
  });
}

function table(rows: [string, string][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("")}</table>`;
}

const ms = (v: number) => `${v.toFixed(3)} ms`;

function archLine(a: Arch): string {
  return esc(`enc ${a.encoderLayers}x${a.encoderEmbedDim} ffn [${a.encoderFfnDims}] heads [${a.encoderHeads}]; dec ${a.decoderLayers}x${a.decoderEmbedDim} ffn [${a.decoderFfnDims}] self [${a.decoderSelfHeads}] cross [${a.decoderCrossHeads}] ende [${a.decoderEndeLayers}]`);
}

const VERDICT: Record<VerificationRecord["verdict"], string> = {
  meets: "the winner's measured latency meets the constraint",
  none_met: "NO CANDIDATE MET THE CONSTRAINT when measured: the fastest measured is the one handed on",
  unverified: "no candidate could be measured: the winner is unverified",
};

/** The closed loop: every candidate measured, predicted beside measured, and the verdict. */
function verificationSection(v: VerificationRecord): string {
  const verdict = v.verdict === "meets" ? esc(VERDICT.meets) : `<span class="warn">${esc(VERDICT[v.verdict])}</span>`;
  const head = table([
    ["verdict", verdict],
    ["measured on", `${esc(v.where)} for ${esc(v.device)}, constraint ${ms(v.maxMs)}`],
    ["rounds", `${v.rounds} (at most ${v.k} candidates each); search constraint per round: ${v.targets.map(ms).join(", ")}; ${esc(v.stopped)}`],
  ]);
  const rows = v.candidates.map((c, i) => {
    const measured = c.measuredMs === undefined ? "(failed)" : ms(c.measuredMs);
    const err = c.measuredMs === undefined ? "" : `${(((c.predictedMs - c.measuredMs) / c.measuredMs) * 100).toFixed(1)} %`;
    const mark = c.meets === false ? ` <span class="warn">over</span>` : "";
    return `<tr><td>${c.round + 1}</td><td>${c.validLoss.toFixed(4)}</td><td>${ms(c.predictedMs)}</td><td>${measured}${mark}</td><td>${err}</td><td>${c.speed !== undefined ? `${c.speed.toFixed(2)}: ${ms(c.usualMs ?? c.measuredMs! / c.speed)} at the usual speed` : ""}</td><td>${i === v.winner ? "<b>winner</b>" : ""}</td><td>${archLine(c.arch)}</td></tr>`;
  }).join("");
  return `<h2>Candidates measured before the winner was declared</h2>${head}<table class="front"><tr><th>round</th><th>loss</th><th>predicted</th><th>measured</th><th>prediction error</th><th>machine speed</th><th></th><th>architecture</th></tr>${rows}</table>`;
}

/** Each deployed form's file size and measured latency, against f32's. */
function formsSection(forms: FormRecord[]): string {
  const f32 = forms.find((f) => f.quant === "f32");
  const p = forms[0].protocol;
  const rows = forms.map((f) => `<tr><td>${esc(f.quant)}</td><td>${(f.bytes / 1024).toFixed(1)} KiB</td><td>${f.smaller.toFixed(2)}x</td><td>${ms(f.totalMs)}</td><td>${ms(f.encoderMs)} + ${ms(f.decoderMs)}</td><td>${f32 ? `${(f32.totalMs / f.totalMs).toFixed(2)}x` : ""}</td></tr>`).join("");
  return `<h2>The model in each form</h2><p>File of each form (hat quantize; int8: the linear8 file, int8 products) and its latency measured here, the fastest of interleaved rounds: ${p.runs} runs, ${esc(p.build ?? "?")}, vocab ${p.vocab}, src ${p.src_len}, tgt ${p.tgt_len}, beam ${p.beam}.</p>`
    + `<table class="front"><tr><th>form</th><th>file</th><th>smaller than f32</th><th>measured latency</th><th>encoder + decoder</th><th>speed-up over f32</th></tr>${rows}</table>`;
}

/** The report as one HTML document. */
export function renderReport(rec: SearchRecord): string {
  const sections: string[] = [];
  const summary: [string, string][] = [
    ["created", esc(rec.createdAt)],
    ["SuperTransformer", esc(rec.supernet ?? "-")],
    ["devices", esc(rec.devices.map((d) => `${d.name}${d.maxMs !== undefined ? ` (<= ${d.maxMs} ms)` : ""}`).join(", "))],
    ["settings", esc(Object.entries(rec.settings).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", "))],
    ["wall time", `${rec.wallSeconds.toFixed(1)} s`],
  ];
  if (rec.validPairs !== undefined) summary.push(["validation subset", `${rec.validPairs} sentence pairs`]);
  for (const r of [rec.evolution, rec.random, rec.nsga2]) {
    if (!r) continue;
    summary.push([`${r.method}`, `best loss ${r.best.loss.toFixed(4)} at ${r.best.latency.map(ms).join(" / ")} predicted; ${r.evaluations} evaluations in ${r.seconds.toFixed(1)} s`]);
    for (const w of r.warnings) summary.push([`${r.method} warning`, `<span class="warn">${esc(w)}</span>`]);
  }
  sections.push(`<h2>Search</h2>${table(summary)}`);

  const w = rec.winner;
  if (w) {
    const rows: [string, string][] = [
      ["architecture", archLine(w.arch)],
      ["inherited validation loss", w.validLoss.toFixed(4)],
      ["predicted latency", w.predictedMs.map((v, i) => `${ms(v)} (${esc(rec.devices[i]?.name ?? "?")})`).join(", ")],
      ["parameters (SubTransformer)", `${(w.params / 1e6).toFixed(3)} M${w.superParams ? ` (SuperTransformer: ${(w.superParams / 1e6).toFixed(3)} M)` : ""}`],
    ];
    if (w.measured) {
      const m = measuredRecord(w.measured), p = m.protocol, maxMs = rec.devices.find((d) => d.name === m.device)?.maxMs;
      const flag = m.overConstraint ? ` <span class="warn">OVER THE CONSTRAINT (${maxMs} ms)</span>` : maxMs !== undefined ? ` (within ${maxMs} ms)` : "";
      const busy = m.load1 !== undefined && m.cores !== undefined && m.load1 > m.cores ? ` <span class="warn">measured on a busy machine (load ${m.load1.toFixed(1)} on ${m.cores} cores)</span>` : m.load1 !== undefined ? `; load ${m.load1.toFixed(1)}${m.cores ? ` on ${m.cores} cores` : ""}` : "";
      rows.push(["measured latency", `${ms(m.totalMs)} = encoder ${ms(m.encoderMs)} + decoder ${ms(m.decoderMs)}; ${p.runs} runs${p.quant !== "f32" ? `, ${p.quant} products` : ""}, ${esc(p.build ?? "?")}${m.measuredOn ? ` on ${esc(m.measuredOn)}` : ""}, vocab ${p.vocab}, src ${p.src_len}, tgt ${p.tgt_len}, beam ${p.beam}${p.rounds > 1 ? `, ${p.keep} of ${p.rounds}` : ""}${flag}${busy}`]);
      const predicted = w.predictedMs[rec.devices.findIndex((d) => d.name === m.device)];
      if (predicted !== undefined) rows.push(["prediction error", `${(((predicted - m.totalMs) / m.totalMs) * 100).toFixed(1)} %`]);
    }
    if (w.exported) rows.push(["exported", `${esc(w.exported.path)}: ${(w.exported.bytes / 2 ** 20).toFixed(2)} MiB, ${(w.exported.params / 1e6).toFixed(3)} M parameters`]);
    if (w.finetuned) rows.push([w.finetuned.mode === "scratch" ? "trained from scratch" : "fine-tuned", `${esc(w.finetuned.path)}: ${w.finetuned.steps} updates in ${w.finetuned.seconds.toFixed(0)} s, validation loss ${w.finetuned.validLoss.toFixed(4)}`]);
    if (w.bleu) rows.push(["BLEU", `${w.bleu.score.toFixed(2)} (${w.bleu.model} weights, ${w.bleu.sentences} test sentences, beam ${w.bleu.beam}, lenpen ${w.bleu.lenpen})`]);
    sections.push(`<h2>The winner</h2>${table(rows)}`);
  }
  if (rec.verification) sections.push(verificationSection(rec.verification));
  if (rec.forms?.length) sections.push(formsSection(rec.forms));

  sections.push(`<h2>Loss against latency</h2>`);
  rec.devices.forEach((_, i) => sections.push(lossLatencyChart(rec, i)));
  const front = rec.nsga2?.front;
  if (front && front.length > 0) {
    const rows = front.map((f) => `<tr><td>${f.latency.map((v) => v.toFixed(3)).join(" / ")}</td><td>${f.loss.toFixed(4)}</td><td>${archLine(f.arch)}</td></tr>`).join("");
    sections.push(`<h3>Pareto front (NSGA-II)</h3><table class="front"><tr><th>predicted ms (${esc(rec.devices.map((d) => d.name).join(" / "))})</th><th>loss</th><th>architecture</th></tr>${rows}</table>`);
  }
  if (rec.evolution || rec.random || rec.nsga2) sections.push(`<h2>Search progress</h2>${progressChart(rec)}`);
  if (rec.predictorTests?.length) {
    sections.push(`<h2>Latency predictor</h2>`);
    for (const t of rec.predictorTests) sections.push(predictorChart(t));
  }

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hat search report</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1000px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f4f4f4; }
.warn { color: #b00; font-weight: bold; }
svg.chart { display: block; margin: 12px 0; border: 1px solid #ddd; }
</style></head><body>
<h1>Hardware-aware search report</h1>
${sections.join("\n")}
</body></html>
`;
}
