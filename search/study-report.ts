/**
 * The studies' HTML (docs/method.md §12): one self-contained page, a section per study, inline
 * SVG plots (./svg.ts): the latency study's quality against measured latency for the searched
 * models and both baseline families (paper Fig 7) and its table against the largest
 * SubTransformer (Table 4); evolution against random search, best loss by evaluations (Fig 9).
 */
import { chart, esc, type Series } from "./svg.js";
import type { StudyFinetune } from "./study-models.js";
import type { EvolutionStudy } from "./study-evolution.js";
import { atEqualLatency, type LatencyStudy, type ModelRole, type StudyModel } from "./study-latency.js";

const ROLE_STYLE: Record<ModelRole, { name: string; color: string }> = {
  searched: { name: "HAT (searched)", color: "#d62728" },
  layers: { name: "scaled by layers", color: "#1f77b4" },
  dimension: { name: "scaled by dimension", color: "#2ca02c" },
  largest: { name: "largest SubTransformer", color: "#7f7f7f" },
};

const M = (n: number) => `${(n / 1e6).toFixed(3)} M`;
const G = (n: number) => `${(n / 1e9).toFixed(3)} G`;

/** A page of sections. */
export function studyPage(title: string, sections: readonly string[]): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}code{font-size:11px}</style></head><body>
<h1>${esc(title)}</h1>
${sections.join("\n")}
</body></html>`;
}

/** The fine-tuning every model got, as a phrase. */
export function budgetText(f: StudyFinetune): string {
  const recipe = [f.maxTokens !== undefined && `batches of ${f.maxTokens} tokens`, f.lr !== undefined && `peak rate ${f.lr}`, f.warmup !== undefined && `${f.warmup} warm-up updates`, f.dropout !== undefined && `dropout ${f.dropout}`].filter(Boolean);
  return `${f.steps !== undefined ? `${f.steps} updates` : `${f.minutes} minutes`}${recipe.length ? ` (${recipe.join(", ")})` : ""}`;
}

/** Quality against measured latency, one series per role (a line through each family, by latency). */
function qualityChart(s: LatencyStudy, y: (m: StudyModel) => number | undefined, yLabel: string): string {
  const series: Series[] = (["searched", "layers", "dimension"] as const).map((role) => {
    const ms = s.models.filter((m) => m.roles.includes(role) && y(m) !== undefined).sort((a, b) => a.usualMs - b.usualMs);
    return { name: ROLE_STYLE[role].name, color: ROLE_STYLE[role].color, kind: "line" as const, points: ms.map((m) => [m.usualMs, y(m)!] as const) };
  });
  for (const role of ["searched", "layers", "dimension", "largest"] as const) {
    const ms = s.models.filter((m) => m.roles.includes(role) && y(m) !== undefined);
    series.push({ name: `${ROLE_STYLE[role].name} (models)`, color: ROLE_STYLE[role].color, kind: "points", size: 5, opacity: 0.9, points: ms.map((m) => [m.usualMs, y(m)!] as const), titles: ms.map((m) => `${M(m.params)} parameters, ${m.usualMs.toFixed(3)} ms`) });
  }
  return chart({
    title: `${yLabel} against measured latency`, xLabel: `measured latency here, ms (${s.device})`, yLabel, series,
    refs: s.constraintsMs.map((c) => ({ axis: "x" as const, value: c, label: `${c} ms`, color: "#d62728" })),
  });
}

export function latencySection(s: LatencyStudy): string {
  const plots = [];
  if (s.testSentences) plots.push(qualityChart(s, (m) => m.bleu, "test BLEU after fine-tuning"));
  plots.push(qualityChart(s, (m) => m.finetunedLoss, "validation loss after fine-tuning"));
  const p = s.protocol;
  const rows = [...s.models].sort((a, b) => a.usualMs - b.usualMs).map((m) => `<tr><td>${m.roles.map((r) => ROLE_STYLE[r].name).join(", ")}${m.searchedAtMs.length ? ` (at ${m.searchedAtMs.join(", ")} ms)` : ""}</td><td>${M(m.params)}</td><td>${G(m.flops)}</td><td>${m.predictedMs.toFixed(3)}</td><td>${m.measuredMs.toFixed(3)}</td><td>${m.usualMs.toFixed(3)}</td><td>${m.inheritedLoss.toFixed(4)}</td><td>${m.finetunedLoss.toFixed(4)}</td><td>${m.bleu?.toFixed(2) ?? "-"}</td><td><code>${esc(JSON.stringify(m.arch))}</code></td></tr>`).join("");
  const q = (m: StudyModel | null) => (m ? `${s.testSentences ? `BLEU ${m.bleu!.toFixed(2)}` : `loss ${m.finetunedLoss.toFixed(4)}`} at ${m.usualMs.toFixed(3)} ms` : "none as fast");
  const eq = atEqualLatency(s).map((e) => `<tr><td>${q(e.searched)}</td><td>${q(e.layers)}</td><td>${q(e.dimension)}</td></tr>`).join("");
  const largest = s.models.find((m) => m.roles.includes("largest"))!;
  const t4 = [largest, ...s.models.filter((m) => m.roles.includes("searched") && m !== largest)].map((m) => `<tr><td>${m === largest ? "largest SubTransformer" : `HAT at ${m.searchedAtMs.join(", ")} ms`}</td><td>${M(m.params)} (${(largest.params / m.params).toFixed(2)}x smaller)</td><td>${G(m.flops)}</td><td>${m.usualMs.toFixed(3)} ms (${(largest.usualMs / m.usualMs).toFixed(2)}x faster)</td><td>${m.finetunedLoss.toFixed(4)}</td><td>${m.bleu?.toFixed(2) ?? "-"}</td></tr>`).join("");
  return `<h2>BLEU against measured latency: searched models and scaled baselines (paper Fig 7)</h2>
<p>Device: ${esc(s.device)}. The search at ${s.constraintsMs.map((c) => `${c} ms`).join(", ")}; baselines scaled by layer count (the largest widths, fewer layers) and by dimension (every layer, smaller embed / FFN / heads), the members predicted to meet each constraint. Every model fine-tuned from its inherited weights for ${esc(budgetText(s.finetune))}, losses on ${s.validPairs} validation pairs${s.testSentences ? `, BLEU on ${s.testSentences} test sentences (beam 4)` : ""}; every model measured here with one protocol (${p.runs} runs after ${p.warmup} warm-up, src ${p.src_len}, tgt ${p.tgt_len}, beam ${p.beam}, vocab ${p.vocab}, ${p.quant}, framed by the reference architecture: "usual" is the latency at the machine's usual speed). ${s.seconds.toFixed(0)} s.</p>
${plots.join("\n")}
<h3>At equal measured latency</h3>
<table><tr><th>searched</th><th>best scaled by layers, no slower</th><th>best scaled by dimension, no slower</th></tr>${eq}</table>
<h3>Searched against the largest SubTransformer (paper Table 4)</h3>
<table><tr><th>model</th><th>parameters</th><th>FLOPs (one protocol run)</th><th>measured (usual)</th><th>fine-tuned loss</th><th>BLEU</th></tr>${t4}</table>
<h3>Every model</h3>
<table><tr><th>model</th><th>parameters</th><th>FLOPs</th><th>predicted ms</th><th>measured ms</th><th>usual ms</th><th>inherited loss</th><th>fine-tuned loss</th><th>BLEU</th><th>architecture</th></tr>${rows}</table>`;
}

export function evolutionSection(s: EvolutionStudy): string {
  const series: Series[] = s.runs.flatMap((r) => [
    { name: `evolution, seed ${r.seed}`, color: "#d62728", kind: "line" as const, points: r.evolution.evaluations.map((e, i) => [e, r.evolution.bestLoss[i]] as const) },
    { name: `random, seed ${r.seed}`, color: "#1f77b4", kind: "line" as const, points: r.random.evaluations.map((e, i) => [e, r.random.bestLoss[i]] as const) },
  ]);
  const plot = chart({ title: "Best inherited loss against evaluations", xLabel: "distinct architectures evaluated", yLabel: "best inherited validation loss", series });
  const rows = s.runs.map((r) => `<tr><td>${r.seed}</td><td>${r.evaluations}</td><td>${r.evolutionBest.toFixed(4)}</td><td>${r.randomBest.toFixed(4)}</td><td>${(r.randomBest - r.evolutionBest).toFixed(4)}</td></tr>`).join("");
  return `<h2>Evolution against random search at equal evaluations (paper Fig 9)</h2>
<p>Device: ${esc(s.device)}, constraint ${s.constraintMs} ms (predicted); inherited loss on ${s.validPairs} validation pairs. Evolution ended lower in <b>${s.wins}</b> of ${s.runs.length} seeds, level in ${s.ties}, higher in ${s.losses}. ${s.seconds.toFixed(0)} s.</p>
${plot}
<table><tr><th>seed</th><th>evaluations (each)</th><th>evolution best</th><th>random best</th><th>random - evolution</th></tr>${rows}</table>`;
}
