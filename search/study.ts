/**
 * HAT's evidence on the user's corpus (docs/method.md §12): the proxy check. The search ranks
 * SubTransformers by their inherited validation loss (§6) on the SuperTransformer's weights; the
 * check is whether that ranking is the ranking of the models one would ship, after each is
 * fine-tuned with the same budget (paper: Table 5 / Fig 11, Kendall tau).
 *
 *   1. N architectures spread over the space: 40 · N sampled, sorted by parameters, and the ones at
 *      evenly spaced ranks taken (the smallest and the largest SubTransformer included);
 *   2. each one's inherited validation loss (the search's fitness);
 *   3. each one fine-tuned from its inherited weights with the same budget (steps, or minutes),
 *      its validation loss after, and its test BLEU (beam 4);
 *   4. Kendall tau of inherited loss against fine-tuned loss, and against -BLEU: 1 is the same
 *      ranking, 0 none.
 */
import { archKey, archParams } from "../runtime/arch-features.js";
import { largestArch, sampleArch, smallestArch } from "../runtime/arch-sample.js";
import { InputError } from "../runtime/errors.js";
import type { DecodedModel } from "../runtime/format.js";
import { readModelFile } from "../runtime/model-files.js";
import { loadWasm } from "../runtime/wasm-node.js";
import { HatModel } from "../runtime/model.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { Bpe } from "../data/bpe.js";
import { tokenizeTexts, type Texts } from "../data/texts.js";
import { kendallTau } from "../latency/metrics.js";
import { bleuOfModel, finetuneWinner } from "./after.js";
import { InheritedLoss } from "./fitness.js";
import { chart, esc } from "./svg.js";
import { budgetText, studyPage } from "./study-report.js";
import type { StudyFinetune } from "./study-models.js";

export interface ProxyStudyOptions {
  /** The SuperTransformer file (with its tokenizer). */
  supernet: string;
  /** Architectures compared (>= 3). */
  archs: number;
  train: Texts;
  valid: Texts;
  /** Test pairs for BLEU (optional). */
  test?: Texts;
  /** The fine-tuning budget (and recipe), the same for every architecture. */
  finetune: StudyFinetune;
  /** Validation pairs of the inherited loss and of the fine-tuned models' losses. */
  validMax?: number;
  /** Test sentences scored (default 200). */
  bleuMax?: number;
  seed?: number;
  /** Training threads of each fine-tuning (default: the trainer's, every core). */
  threads?: number;
  log?: (line: string) => void;
  onProgress?: (done: number, total: number, message: string) => void;
}

export interface ProxyRow {
  arch: ValidArch;
  params: number;
  inheritedLoss: number;
  finetunedLoss: number;
  bleu?: number;
  steps: number;
  seconds: number;
}

export interface ProxyStudy {
  rows: ProxyRow[];
  /** Kendall tau of inherited loss against fine-tuned loss, and against -BLEU (when scored). */
  tauLoss: number;
  tauBleu?: number;
  validPairs: number;
  testSentences?: number;
  finetune: StudyFinetune;
  seconds: number;
}

/** `n` architectures spread over the space by parameter count (the smallest and the largest included). */
export function spreadArchs(space: Space, vocab: number, n: number, seed = 1): ValidArch[] {
  if (!(Number.isInteger(n) && n >= 2 && n <= 100)) throw new RangeError(`archs must be an integer 2..100, got ${n}`);
  const r = mulberry32(seed);
  const pool = new Map<string, ValidArch>();
  for (const a of [smallestArch(space), largestArch(space), ...Array.from({ length: 40 * n }, () => sampleArch(space, r))]) pool.set(archKey(a), a);
  const sorted = [...pool.values()].sort((a, b) => archParams(a, vocab) - archParams(b, vocab));
  if (sorted.length <= n) return sorted;
  const picked = new Map<string, ValidArch>();
  for (let i = 0; i < n; i++) {
    const a = sorted[Math.round((i * (sorted.length - 1)) / (n - 1))];
    picked.set(archKey(a), a);
  }
  return [...picked.values()];
}

export async function proxyStudy(o: ProxyStudyOptions): Promise<ProxyStudy> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  if (o.finetune.steps === undefined && o.finetune.minutes === undefined) throw new RangeError("give the fine-tuning budget: steps or minutes");
  const file: DecodedModel = await readModelFile(o.supernet);
  if (file.header.kind !== "supertransformer" || !file.header.space) throw new InputError(`${o.supernet} is not a SuperTransformer`);
  if (!file.header.tokenizer) throw new InputError(`${o.supernet} carries no tokenizer: it was not trained on text`);
  const space = file.header.space, V = file.header.vocab.size;
  const bpe = Bpe.fromJSON(file.header.tokenizer);
  const valid = tokenizeTexts(bpe, o.valid).slice(0, o.validMax ?? 200);
  const validTexts = { src: o.valid.src.slice(0, valid.length), tgt: o.valid.tgt.slice(0, valid.length) };
  const train = tokenizeTexts(bpe, o.train);
  const model = HatModel.fromDecoded(file, loadWasm());
  const inherited = new InheritedLoss(model, valid);
  const archs = spreadArchs(space, V, o.archs, o.seed ?? 1);
  const bleuMax = o.bleuMax ?? 200;
  const test = o.test && { src: o.test.src.slice(0, bleuMax), tgt: o.test.tgt.slice(0, bleuMax) };
  const rows: ProxyRow[] = [];
  for (const [i, arch] of archs.entries()) {
    const inheritedLoss = inherited.loss(arch);
    const ft = await finetuneWinner({
      supernet: file, arch, mode: "finetune", train, valid: tokenizeTexts(bpe, validTexts),
      ...o.finetune, threads: o.threads, seed: o.seed ?? 1, log: () => {},
    });
    let bleu: number | undefined;
    if (test) bleu = bleuOfModel(HatModel.fromBytes(ft.bytes, loadWasm()), bpe, test.src, test.tgt).result.score;
    const row: ProxyRow = { arch, params: archParams(arch, V), inheritedLoss, finetunedLoss: ft.result.validLoss, bleu, steps: ft.result.steps, seconds: ft.result.seconds };
    rows.push(row);
    o.onProgress?.(i + 1, archs.length, `SubTransformer ${i + 1}/${archs.length} fine-tuned and scored`);
    log(`[${i + 1}/${archs.length}] ${(row.params / 1e6).toFixed(2)} M parameters: inherited loss ${inheritedLoss.toFixed(4)}, after ${row.steps} updates ${row.finetunedLoss.toFixed(4)}${bleu !== undefined ? `, BLEU ${bleu.toFixed(2)}` : ""}`);
  }
  const tauLoss = kendallTau(rows.map((r) => r.inheritedLoss), rows.map((r) => r.finetunedLoss));
  const tauBleu = test ? kendallTau(rows.map((r) => r.inheritedLoss), rows.map((r) => -r.bleu!)) : undefined;
  return { rows, tauLoss, tauBleu, validPairs: valid.length, testSentences: test?.src.length, finetune: o.finetune, seconds: (performance.now() - t0) / 1000 };
}

/** The study as JSON (`hat study --json`). */
export function proxySummary(s: ProxyStudy): Record<string, unknown> {
  return {
    kendall_tau_loss: s.tauLoss, kendall_tau_bleu: s.tauBleu ?? null, valid_pairs: s.validPairs, test_sentences: s.testSentences ?? null,
    finetune: s.finetune, seconds: s.seconds,
    rows: s.rows.map((r) => ({ arch: r.arch, params: r.params, inherited_loss: r.inheritedLoss, finetuned_loss: r.finetunedLoss, bleu: r.bleu ?? null, steps: r.steps, seconds: r.seconds })),
  };
}

/** A self-contained HTML page: the table and the two scatter plots. */
export function renderProxyStudy(s: ProxyStudy, title = "Proxy check: inherited loss against fine-tuned models"): string {
  return studyPage(title, [proxySection(s)]);
}

/** The proxy check's section of a study page (./study-report.ts). */
export function proxySection(s: ProxyStudy): string {
  const pts = (y: (r: ProxyRow) => number) => s.rows.map((r) => [r.inheritedLoss, y(r)] as const);
  const titles = s.rows.map((r) => `${(r.params / 1e6).toFixed(2)} M parameters`);
  const plots = [chart({
    title: `Fine-tuned validation loss (Kendall tau ${s.tauLoss.toFixed(2)})`, xLabel: "inherited validation loss", yLabel: "validation loss after fine-tuning",
    series: [{ name: "SubTransformers", points: pts((r) => r.finetunedLoss), color: "#1f77b4", kind: "points", titles }],
  })];
  if (s.tauBleu !== undefined) {
    plots.push(chart({
      title: `Test BLEU (Kendall tau ${s.tauBleu.toFixed(2)}, against -BLEU)`, xLabel: "inherited validation loss", yLabel: "BLEU after fine-tuning",
      series: [{ name: "SubTransformers", points: pts((r) => r.bleu!), color: "#d62728", kind: "points", titles }],
    }));
  }
  const budget = budgetText(s.finetune);
  const rows = s.rows.map((r) => `<tr><td>${(r.params / 1e6).toFixed(2)} M</td><td>${r.inheritedLoss.toFixed(4)}</td><td>${r.finetunedLoss.toFixed(4)}</td><td>${r.bleu?.toFixed(2) ?? "-"}</td><td>${r.steps}</td><td><code>${esc(JSON.stringify(r.arch))}</code></td></tr>`).join("");
  return `<h2>Proxy check: inherited loss against fine-tuned models (paper Table 5 / Fig 11)</h2>
<p>${s.rows.length} SubTransformers spread over the space by parameters, each fine-tuned from its inherited weights for ${esc(budget)}; inherited and fine-tuned losses on ${s.validPairs} validation pairs${s.testSentences ? `, BLEU on ${s.testSentences} test sentences (beam 4)` : ""}. Kendall tau of the inherited loss against the fine-tuned loss: <b>${s.tauLoss.toFixed(3)}</b>${s.tauBleu !== undefined ? `; against -BLEU: <b>${s.tauBleu.toFixed(3)}</b>` : ""}. ${s.seconds.toFixed(0)} s.</p>
${plots.join("\n")}
<table><tr><th>parameters</th><th>inherited loss</th><th>fine-tuned loss</th><th>BLEU</th><th>updates</th><th>architecture</th></tr>${rows}</table>`;
}
