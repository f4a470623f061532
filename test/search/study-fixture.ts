/**
 * The studies' test inputs (test/search/study-*.test.ts, test/slow/study.slow.ts): a random tiny
 * SuperTransformer with a real tokenizer, the demo task's splits as files, and a linear predictor
 * file (total ms = b + w . HAT's 10 features: growing with every dimension) whose protocol is a
 * tiny workload at the model's vocabulary.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { protocolOf } from "../../runtime/protocol.js";
import type { Space } from "../../runtime/types.js";
import { Bpe } from "../../data/bpe.js";
import { demoTask } from "../../data/demo-task.js";
import { Predictor } from "../../latency/predictor.js";
import { TINY_SPACE } from "../helpers.js";
import { supernetWithTokenizer } from "../model-files.js";

export function linearPredictor(space: Space, vocab: number): Predictor {
  const w = [0.002, 0.05, 0.0005, 0.01, 0.003, 0.1, 0.001, 0.01, 0.01, 0.02];
  const zeros = w.map(() => 0), ones = w.map(() => 1);
  return new Predictor({
    device: "stand-in cpu", space, protocol: protocolOf({ runs: 3, warmup: 1, vocab, src_len: 4, tgt_len: 3, beam: 2 }),
    features: { kind: "hat", maxEncoderLayers: 0, maxDecoderLayers: 0, mean: zeros, std: ones, min: zeros, max: w.map(() => 1e4) },
    target: { kind: "total", mean: [0], std: [1] }, sizes: [10, 1],
    weights: [{ w: Float32Array.from(w), b: Float32Array.from([0.05]) }],
    testSet: { measured: [1, 2], predicted: [1.1, 1.9] },
  });
}

export interface StudyFixture {
  dir: string;
  space: Space;
  vocab: number;
  supernet: string;
  predictor: Predictor;
  predictorFile: string;
  /** --train-src F --train-tgt F ... for the three splits. */
  files: string[];
  /** A tiny evolution's flags. */
  small: string[];
}

export function studyFixture(prefix: string): StudyFixture {
  const space = { ...TINY_SPACE, endeLayerChoices: [1, 2] };
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const task = demoTask({ seed: 1, train: 200, valid: 20, test: 10 });
  const bpe = Bpe.train([...task.train.src, ...task.train.tgt], { vocabSize: 300 });
  const vocab = bpe.vocab().size;
  const supernet = join(dir, "super.hatm");
  writeFileSync(supernet, supernetWithTokenizer(space, bpe, 5));
  const predictor = linearPredictor(space, vocab);
  const predictorFile = join(dir, "pred.json");
  writeFileSync(predictorFile, JSON.stringify(predictor.toJSON()));
  const files: string[] = [];
  for (const s of ["train", "valid", "test"] as const) for (const side of ["src", "tgt"] as const) {
    const p = join(dir, `${s}.${side}`);
    writeFileSync(p, task[s][side].join("\n") + "\n");
    files.push(`--${s}-${side}`, p);
  }
  const small = ["--generations", "2", "--population", "8", "--parents", "3", "--mutations", "3", "--crossovers", "3", "--valid-max", "10"];
  return { dir, space, vocab, supernet, predictor, predictorFile, files, small };
}
