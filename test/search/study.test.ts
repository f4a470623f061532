/**
 * The proxy study (search/study.ts, `hat study proxy`): architectures spread over the space, each
 * one's inherited loss against its loss and BLEU after the same fine-tuning budget, Kendall tau,
 * the JSON and the HTML report; and its refusals.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { archParams } from "../../runtime/arch-features.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import { Bpe } from "../../data/bpe.js";
import { demoTask } from "../../data/demo-task.js";
import { kendallTau } from "../../latency/metrics.js";
import { spreadArchs } from "../../search/study.js";
import { hat } from "../cli/hat.js";
import { TINY_SPACE } from "../helpers.js";
import { supernetWithTokenizer } from "../model-files.js";

const space = { ...TINY_SPACE, endeLayerChoices: [1, 2] };
const dir = mkdtempSync(join(tmpdir(), "hat-study-"));
const task = demoTask({ seed: 1, train: 200, valid: 20, test: 10 });
const bpe = Bpe.train([...task.train.src, ...task.train.tgt], { vocabSize: 300 });
const V = bpe.vocab().size;
const supernet = join(dir, "super.hatm");
writeFileSync(supernet, supernetWithTokenizer(space, bpe, 5));
const files: string[] = [];
for (const s of ["train", "valid", "test"] as const) for (const side of ["src", "tgt"] as const) {
  const p = join(dir, `${s}.${side}`);
  writeFileSync(p, task[s][side].join("\n") + "\n");
  files.push(`--${s}-${side}`, p);
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("spreadArchs", () => {
  it("spreads by parameters from the smallest to the largest, without duplicates", () => {
    const a = spreadArchs(space, V, 6, 2);
    expect(a.length).toBe(6);
    const p = a.map((x) => archParams(x, V));
    expect(p).toEqual([...p].sort((x, y) => x - y));
    expect(p[0]).toBe(archParams(smallestArch(space), V));
    expect(p[p.length - 1]).toBe(archParams(largestArch(space), V));
    expect(new Set(a.map((x) => JSON.stringify(x))).size).toBe(6);
    expect(() => spreadArchs(space, V, 1)).toThrow(/2\.\.100/);
  });
});

describe("hat study proxy", () => {
  it("fine-tunes each architecture with the same budget and reports Kendall tau, JSON and HTML", async () => {
    const report = join(dir, "study.html");
    const r = await hat("study", "proxy", "--supernet", supernet, ...files, "--finetune-steps", "2", "--archs", "4", "--valid-max", "10", "--bleu-max", "5", "--report", report, "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.rows.length).toBe(4);
    for (const row of j.rows) {
      expect(row.steps).toBe(2);
      expect(row.inherited_loss).toBeGreaterThan(0);
      expect(row.finetuned_loss).toBeGreaterThan(0);
      expect(row.bleu).toBeGreaterThanOrEqual(0);
    }
    // the reported tau is the rows' tau
    expect(j.kendall_tau_loss).toBeCloseTo(kendallTau(j.rows.map((x: { inherited_loss: number }) => x.inherited_loss), j.rows.map((x: { finetuned_loss: number }) => x.finetuned_loss)), 9);
    expect(j.test_sentences).toBe(5);
    const html = readFileSync(report, "utf8");
    expect(html).toMatch(/<svg/);
    expect(html).toContain(j.kendall_tau_loss.toFixed(3));
  });

  it("refuses a study without a budget, an unknown study and a model that is not a SuperTransformer", async () => {
    expect((await hat("study", "proxy", "--supernet", supernet, ...files)).err).toMatch(/--finetune-steps/);
    expect((await hat("study", "ablation")).err).toMatch(/unknown study 'ablation'/);
    expect((await hat("study", "proxy", "--supernet", supernet, ...files, "--finetune-steps", "1", "--archs", "2")).err).toMatch(/--archs must be >= 3/);
    const notSuper = join(dir, "x.txt");
    writeFileSync(notSuper, "nope");
    const r = await hat("study", "proxy", "--supernet", notSuper, ...files, "--finetune-steps", "1");
    expect(r.code).toBe(2);
  });
});
