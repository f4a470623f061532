/**
 * `hat study` and the server's study job run this (docs/method.md §12): one study, or all of
 * them, on one SuperTransformer and one device, written as a JSON record and a self-contained
 * HTML report. Options are typed and checked by whoever took them in (the CLI's flags, the job's
 * schema); what needs the inputs (files, spaces, the predictor) is checked by the studies.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Texts } from "../data/texts.js";
import type { EvolutionSettings } from "./pipeline.js";
import { SearchInputError } from "./predictor-file.js";
import { proxyStudy, proxySection, proxySummary } from "./study.js";
import { evolutionStudy, evolutionSummary } from "./study-evolution.js";
import { latencyStudy, latencySummary } from "./study-latency.js";
import { evolutionSection, latencySection, studyPage } from "./study-report.js";
import type { StudyFinetune } from "./study-models.js";

export const STUDIES = ["proxy", "latency", "evolution", "all"] as const;
export type StudyName = (typeof STUDIES)[number];

export interface StudyOptions {
  study: StudyName;
  supernet: string;
  /** The device's latency predictor: needed by the latency and evolution studies. */
  predictor?: string;
  train: Texts;
  valid: Texts;
  test?: Texts;
  /** The fine-tuning budget and recipe, the same for every model (proxy, latency). */
  finetune: StudyFinetune;
  /** SubTransformers of the proxy check (default 8). */
  archs?: number;
  /** Constraints of the latency study (default three over the reachable range); the evolution study takes the middle one. */
  latencyMs?: number[];
  evolution: EvolutionSettings;
  /** Seeds of the evolution study (default [1, 2, 3]). */
  seeds?: number[];
  validMax?: number;
  bleuMax?: number;
  measure?: { runs?: number; warmup?: number };
  seed?: number;
  /** Training threads of each fine-tuning (default: every core). */
  threads?: number;
  record?: string;
  report?: string;
  log?: (line: string) => void;
  onProgress?: (p: { done: number; total: number; message: string }) => void;
}

export interface StudyRun {
  /** snake_case, per study: { proxy?, latency?, evolution? }. */
  summary: Record<string, unknown>;
  html: string;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export async function runStudy(o: StudyOptions): Promise<StudyRun> {
  const want = (s: StudyName) => o.study === s || o.study === "all";
  if ((want("latency") || want("evolution")) && o.predictor === undefined) throw new SearchInputError(`the ${o.study} study needs the device's latency predictor (--predictor)`);
  const parts = ["proxy", "latency", "evolution"].filter((s) => want(s as StudyName));
  // the order they run in (the latency study first: see below), which the progress follows
  const order = ["latency", "proxy", "evolution"].filter((s) => want(s as StudyName));
  const summary: Record<string, unknown> = {}, sections: Record<string, string> = {};
  const progress = (i: number) => (done: number, total: number, message: string) =>
    o.onProgress?.({ done: i * 1000 + Math.round((1000 * done) / total), total: order.length * 1000, message });
  const finetune = o.finetune;
  // the latency study first: its measurements come before any fine-tuning in this process (a quiet heap)
  if (want("latency")) {
    const s = await latencyStudy({
      supernet: o.supernet, predictor: o.predictor!, latencyMs: o.latencyMs, train: o.train, valid: o.valid, test: o.test, finetune,
      evolution: o.evolution, validMax: o.validMax, bleuMax: o.bleuMax, measure: o.measure, seed: o.seed, threads: o.threads, log: o.log, onProgress: progress(order.indexOf("latency")),
    });
    summary.latency = latencySummary(s);
    sections.latency = latencySection(s);
  }
  if (want("proxy")) {
    const s = await proxyStudy({
      supernet: o.supernet, archs: o.archs ?? 8, train: o.train, valid: o.valid, test: o.test, finetune,
      validMax: o.validMax, bleuMax: o.bleuMax, seed: o.seed, threads: o.threads, log: o.log, onProgress: progress(order.indexOf("proxy")),
    });
    summary.proxy = proxySummary(s);
    sections.proxy = proxySection(s);
  }
  if (want("evolution")) {
    const c = o.latencyMs;
    const s = await evolutionStudy({
      supernet: o.supernet, predictor: o.predictor!, latencyMs: c && c[Math.floor(c.length / 2)], valid: o.valid, validMax: o.validMax,
      evolution: o.evolution, seeds: o.seeds, log: o.log, onProgress: progress(order.indexOf("evolution")),
    });
    summary.evolution = evolutionSummary(s);
    sections.evolution = evolutionSection(s);
  }
  const html = studyPage(`HAT's evidence on your corpus: ${parts.join(", ")}`, parts.map((p) => sections[p]));
  if (o.record) write(o.record, JSON.stringify(summary, null, 2) + "\n");
  if (o.report) write(o.report, html);
  return { summary, html };
}
