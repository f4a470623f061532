/**
 * `hat search` in-process, on a random tiny SuperTransformer carrying a real tokenizer and a real
 * predictor file (latency/predictor.ts's format: a linear model over HAT's 10 features, growing
 * with every dimension, so the smallest latency is the smallest SubTransformer's).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hat } from "./hat.js";
import { runSearch } from "../../search/pipeline.js";
import { validateArch } from "../../runtime/arch.js";
import { archParams } from "../../runtime/arch-features.js";
import { sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { randomSuperTransformer } from "../../runtime/model.js";
import type { Space } from "../../runtime/types.js";
import { Bpe } from "../../data/bpe.js";
import { demoTask } from "../../data/demo-task.js";
import type { DeviceInfo } from "../../latency/dataset.js";
import { Predictor } from "../../latency/predictor.js";
import { protocolOf, type Quant } from "../../runtime/protocol.js";
import { rng, TINY_SPACE } from "../helpers.js";
import { supernetWithTokenizer } from "../model-files.js";

/** A predictor file: total ms = b + w . (HAT's 10 features), its latencies "measured" at vocabulary `vocab`, of `quant` products. */
function linearPredictor(space: Space, device: string | DeviceInfo, vocab: number, quant: Quant = "f32"): Predictor {
  const w = [0.002, 0.05, 0.0005, 0.01, 0.003, 0.1, 0.001, 0.01, 0.01, 0.02];
  const zeros = w.map(() => 0), ones = w.map(() => 1);
  return new Predictor({
    device, space, protocol: protocolOf({ runs: 3, warmup: 1, vocab, src_len: 4, tgt_len: 3, beam: 2, quant }),
    features: { kind: "hat", maxEncoderLayers: 0, maxDecoderLayers: 0, mean: zeros, std: ones, min: zeros, max: w.map(() => 1e4) },
    target: { kind: "total", mean: [0], std: [1] }, sizes: [10, 1],
    weights: [{ w: Float32Array.from(w), b: Float32Array.from([0.05]) }],
    testSet: { measured: [1, 2, 3, 4], predicted: [1.1, 1.9, 3.2, 3.9] },
  });
}

const space = { ...TINY_SPACE, endeLayerChoices: [1, 2] };
const dir = mkdtempSync(join(tmpdir(), "hat-search-"));
const task = demoTask({ seed: 1, train: 300, valid: 40, test: 20 });
const bpe = Bpe.train([...task.train.src, ...task.train.tgt], { vocabSize: 300 });
const V = bpe.vocab().size;
const supernet = join(dir, "super.hatm");
writeFileSync(supernet, supernetWithTokenizer(space, bpe, 5));
const lat = linearPredictor(space, "stand-in cpu", V);
const r0 = rng(1);
const all = Array.from({ length: 1000 }, () => sampleArch(space, r0));
const sorted = [...lat.predict(all)].sort((a, b) => a - b);
const limit = sorted[Math.floor(sorted.length / 3)];
const minMs = lat.predict([smallestArch(space)])[0];
const pred = join(dir, "pred.json");
writeFileSync(pred, JSON.stringify(lat.toJSON()));
const small = ["--generations", "3", "--population", "12", "--parents", "4", "--mutations", "4", "--crossovers", "4", "--valid-max", "20"];
const base = ["search", "--supernet", supernet, "--predictor", pred, "--demo", ...small];
const last = (out: string) => JSON.parse(out.trim().split("\n").pop()!);

describe("hat search", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reports each generation's numbers (best loss and latency, evaluations) beside its line", async () => {
    const seen: { done: number; total: number; data?: Record<string, number | null> }[] = [];
    await runSearch({
      supernet, predictors: [pred], latencyMs: [limit], valid: task.valid, validMax: 20,
      evolution: { generations: 3, population: 12, parents: 4, mutations: 4, crossovers: 4, mutationProb: 0.3, seed: 1 },
      onProgress: (p) => seen.push(p),
    });
    expect(seen.map((p) => p.done)).toEqual([1, 2, 3]);
    for (const p of seen) {
      expect(p.data!.generation).toBe(p.done);
      expect(p.data!.best_loss).toBeGreaterThan(0);
      expect(p.data!.best_ms).toBeLessThanOrEqual(limit);
      expect(p.data!.evaluations).toBeGreaterThan(0);
    }
    // the best so far never gets worse
    expect(seen[2].data!.best_loss).toBeLessThanOrEqual(seen[0].data!.best_loss!);
  });

  it("--json: the last line has arch, predicted_ms, valid_loss, evaluations; export, measure, report, random baseline", async () => {
    const out = join(dir, "arch.json"), sub = join(dir, "sub.hatm"), report = join(dir, "r.html"), rec = join(dir, "rec.json");
    const r = await hat(...base, "--latency-ms", String(limit), "--json", "--out", out, "--export", sub, "--report", report, "--record", rec,
      "--random-baseline", "--measure");
    expect(r.code, r.err).toBe(0);
    const j = last(r.out);
    const arch = validateArch(j.arch, space);
    expect(j.predicted_ms).toBeLessThanOrEqual(limit);
    expect(j.predicted_ms).toBeCloseTo(lat.predict([arch])[0], 9);
    expect(Number.isFinite(j.valid_loss)).toBe(true);
    expect(j.evaluations).toBeGreaterThan(12);
    expect(j.random.evaluations).toBe(j.evaluations);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(j.arch);
    // the export holds the SubTransformer's parameters only
    expect(j.params).toBe(archParams(arch, V));
    const info = last((await hat("info", "--model", sub, "--json")).out);
    expect(info.params).toBe(j.params);
    expect(info.kind).toBe("subtransformer");
    expect(j.measured_ms).toBeGreaterThan(0);
    expect(typeof j.over_constraint).toBe("boolean");
    expect(typeof j.measured_load1).toBe("number");
    // the closed loop: candidates measured here, predicted beside measured; the winner is the best that met it
    expect(["meets", "none_met"]).toContain(j.verdict);
    expect(j.constraint_ms).toBe(limit);
    expect(j.candidates.length).toBeGreaterThan(0);
    expect(j.candidates.length).toBeLessThanOrEqual(9); // --verify 3 x --verify-rounds 3
    for (const c of j.candidates) {
      expect(c.measured_ms).toBeGreaterThan(0);
      expect(c.meets).toBe(c.measured_ms <= limit);
      expect(c.speed).toBeGreaterThan(0); // measured steadily: the machine's speed factor beside it
    }
    const won = j.candidates.filter((c: { winner: boolean }) => c.winner);
    expect(won).toHaveLength(1);
    expect(won[0].arch).toEqual(j.arch);
    expect(won[0].measured_ms).toBe(j.measured_ms);
    type C = { valid_loss: number; measured_ms: number; meets: boolean };
    if (j.verdict === "meets") {
      expect(j.measured_ms).toBeLessThanOrEqual(limit);
      expect(won[0].valid_loss).toBe(Math.min(...j.candidates.filter((c: C) => c.meets).map((c: C) => c.valid_loss)));
    } else {
      expect(j.measured_ms).toBe(Math.min(...j.candidates.map((c: C) => c.measured_ms)));
    }
    expect(r.err).toMatch(/evolution generation 3\/3: best loss/);
    const html = readFileSync(report, "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain("Candidates measured before the winner was declared");
    expect(html).not.toMatch(/https?:\/\//);
    const record = JSON.parse(readFileSync(rec, "utf8"));
    expect(record.evolution.evaluations).toBe(j.evaluations);
    // measured with the predictor's protocol
    expect(record.winner.measured).toMatchObject({ protocol: { runs: 3, vocab: V, src_len: 4, tgt_len: 3, beam: 2 }, device: "stand-in cpu" });
    expect(r.err).toMatch(/stand-in cpu.*measuring here as if it were this one/); // a device named, no machine: said, not silent
    expect(record.predictorTests[0].measured).toEqual([1, 2, 3, 4]);
    // the report again from the record
    const again = join(dir, "again.html");
    const rr = await hat("report", "--record", rec, "--out", again);
    expect(rr.code, rr.err).toBe(0);
    expect(readFileSync(again, "utf8")).toBe(html); // same record, same page
    const bogus = join(dir, "bogus.json");
    writeFileSync(bogus, JSON.stringify({ version: 2 }));
    const rb = await hat("report", "--record", bogus, "--out", again);
    expect(rb.code).toBe(2);
    expect(rb.err).toMatch(/not a search record/);
  });

  it("is reproducible: the same seed gives the same winner", async () => {
    const a = last((await hat(...base, "--latency-ms", String(limit), "--seed", "4", "--json")).out);
    const b = last((await hat(...base, "--latency-ms", String(limit), "--seed", "4", "--json")).out);
    expect(b.arch).toEqual(a.arch);
    expect(b.valid_loss).toBe(a.valid_loss);
    expect(b.evaluations).toBe(a.evaluations);
  });

  it("--pareto returns the front", async () => {
    const r = await hat(...base, "--pareto", "--json");
    expect(r.code, r.err).toBe(0);
    const j = last(r.out);
    expect(j.front.length).toBeGreaterThan(1);
    for (let i = 1; i < j.front.length; i++) {
      expect(j.front[i].predicted_ms).toBeGreaterThanOrEqual(j.front[i - 1].predicted_ms);
      expect(j.front[i].valid_loss).toBeLessThan(j.front[i - 1].valid_loss);
    }
  });

  it("fine-tunes the winner and scores it with BLEU", async () => {
    const ft = join(dir, "ft.hatm");
    const r = await hat(...base, "--latency-ms", String(limit), "--json", "--finetune-steps", "2", "--finetune-out", ft, "--max-tokens", "400", "--bleu", "--bleu-max", "4");
    expect(r.code, r.err).toBe(0);
    const j = last(r.out);
    expect(j.finetuned.steps).toBe(2);
    expect(Number.isFinite(j.finetuned.valid_loss)).toBe(true);
    expect(j.bleu).toBeGreaterThanOrEqual(0);
    expect(existsSync(ft)).toBe(true);
    expect(last((await hat("info", "--model", ft, "--json")).out).params).toBe(j.params);
  });

  it("--quant int8: an int8 predictor's search, the winner measured here with int8 products", async () => {
    const int8Pred = join(dir, "int8-ok.json"), rec = join(dir, "int8-rec.json"), report = join(dir, "int8.html");
    writeFileSync(int8Pred, JSON.stringify(linearPredictor(space, "stand-in cpu", V, "int8").toJSON()));
    const r = await hat("search", "--supernet", supernet, "--predictor", int8Pred, "--demo", ...small, "--latency-ms", String(limit),
      "--quant", "int8", "--measure", "--verify", "0", "--record", rec, "--report", report, "--json");
    expect(r.code, r.err).toBe(0);
    const j = last(r.out);
    expect(j.quant).toBe("int8");
    expect(j.measured_ms).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(rec, "utf8")).winner.measured.protocol).toMatchObject({ quant: "int8", vocab: V, runs: 3 });
    expect(readFileSync(report, "utf8")).toMatch(/measured latency.*3 runs, int8 products/);
  });

  it("bad input: one clear line and exit code 2", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ not json");
    const other = join(dir, "other.json");
    writeFileSync(other, JSON.stringify(linearPredictor({ ...space, encoderFfnChoices: [48] }, "x", V).toJSON()));
    // latencies measured at another vocabulary (the campaign at 32768 for a model of 2000), and on another machine
    const otherVocab = join(dir, "other-vocab.json");
    writeFileSync(otherVocab, JSON.stringify(linearPredictor(space, "x", 32768).toJSON()));
    const pi = join(dir, "pi.json");
    writeFileSync(pi, JSON.stringify(linearPredictor(space, { cpu: "Cortex-A72", cores: 4, arch: "arm64", platform: "linux" }, V).toJSON()));
    // latencies of int8 products (a campaign at --quant int8) for a search that targets f32, and the other way round
    const int8Pred = join(dir, "int8.json");
    writeFileSync(int8Pred, JSON.stringify(linearPredictor(space, "x", V, "int8").toJSON()));
    const notPred = join(dir, "notpred.json");
    writeFileSync(notPred, JSON.stringify({ format: "something else" }));
    const sub = join(dir, "plain-sub.hatm");
    await hat("export", "--model", supernet, "--arch", writeArch(all[0]), "--out", sub);
    const noTok = join(dir, "notok.hatm");
    writeFileSync(noTok, randomSuperTransformer(space, 50, 1));
    const cases: [string[], RegExp][] = [
      [[...base, "--latency-ms", String(minMs * 0.9)], /infeasible latency constraint.*smallest predicted latency the space reaches, \d/],
      [["search", "--supernet", supernet, "--predictor", bad, "--demo", "--latency-ms", "1"], /bad\.json: not a predictor file: malformed JSON/],
      [["search", "--supernet", supernet, "--predictor", notPred, "--demo", "--latency-ms", "1"], /notpred\.json: not a latency predictor/],
      [["search", "--supernet", supernet, "--predictor", join(dir, "none.json"), "--demo", "--latency-ms", "1"], /none\.json: cannot read/],
      [["search", "--supernet", supernet, "--predictor", other, "--demo", "--latency-ms", "1"], /space differs.*encoderFfnChoices/],
      [["search", "--supernet", sub, "--predictor", pred, "--demo", "--latency-ms", "1"], /not a SuperTransformer/],
      [["search", "--supernet", supernet, "--predictor", otherVocab, "--demo", "--latency-ms", "1"], new RegExp(`measured at vocabulary 32768, but the SuperTransformer .* has vocabulary ${V}`)],
      [["search", "--supernet", supernet, "--predictor", pi, "--demo", ...small, "--latency-ms", String(limit), "--measure"], /--measure: the predictor .*pi\.json is for Cortex-A72 x4 \(arm64 linux\), and this machine is /],
      [[...base, "--latency-ms", String(limit), "--threads", "2"], /learnt latencies on 1 thread, but this search targets 2: search with --threads 1/],
      [[...base, "--latency-ms", String(limit), "--threads", "x"], /--threads must be an integer in 1\.\.16, got 'x'/],
      [[...base, "--latency-ms", String(limit), "--measure", "--vocab", "64", "--beam", "2"], new RegExp(`--measure: vocab 64 against the protocol the predictor .* learnt \\(vocab ${V}\\)`)],
      [["search", "--supernet", supernet, "--predictor", int8Pred, "--demo", "--latency-ms", "1"], /the predictor .*int8\.json learnt latencies of int8 products, but this search targets f32 products: .*--quant int8/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo", "--latency-ms", "1", "--quant", "int8"], /the predictor .*pred\.json learnt latencies of f32 products, but this search targets int8 products/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo", "--latency-ms", "1", "--quant", "int4"], /--quant must be one of f32, int8, linear8, kmeans8, kmeans4, got 'int4'/],
      [["search", "--supernet", supernet, "--predictor", int8Pred, "--demo", "--latency-ms", "1", "--quant", "kmeans4"], /the predictor .*int8\.json learnt latencies of int8 products, but this search targets kmeans4 products/],
      [["search", "--supernet", noTok, "--predictor", pred, "--demo", "--latency-ms", "1"], /no tokenizer/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo"], /--latency-ms is required/],
      [["search", "--supernet", supernet, "--predictor", pred, "--latency-ms", "1"], /--demo or --valid-src/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo", "--latency-ms", "0"], /positive number/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo", "--pareto", "--export", "x.hatm"], /--export goes with the single-objective/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo", "--latency-ms", "1", "--parents", "200"], /--parents/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo", "--latency-ms", "1", "--verify", "2"], /--verify goes with --measure/],
      [["search", "--supernet", supernet, "--predictor", pred, "--demo", "--latency-ms", "1", "--measure", "--verify-rounds", "0"], /--verify-rounds/],
      [["search", "--supernet", join(dir, "missing.hatm"), "--predictor", pred, "--demo", "--latency-ms", "1"], /ENOENT|no such file/],
    ];
    for (const [args, re] of cases) {
      const r = await hat(...args);
      expect(r.code, `${args.join(" ")}\n${r.err}`).toBe(2);
      expect(r.err.trim().split("\n").pop()).toMatch(re);
    }
  });
});

function writeArch(a: unknown): string {
  const f = join(dir, `a${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(a));
  return f;
}
