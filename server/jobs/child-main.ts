/**
 * The job child: a process main that reads a job's spec (./spec.ts; its path is the one argument),
 * runs the pipeline the spec names, and writes what it returns to result.json beside the spec
 * (atomically: a kill never leaves half of it). Its log lines and progress go to the parent as
 * IPC messages (to stderr when run by hand, without a channel). Exit code 0 when done, 2 when the
 * input was at fault (an InputError), 1 for anything else; the reason is the last stderr line.
 * Started by server/jobs/child.ts runSpec.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isInputError } from "../../runtime/errors.js";
import { writeFileAtomic } from "../../runtime/files.js";
import { readModelFile, writeModelFile, writeQuantizedModel, writeSubTransformer } from "../../runtime/model-files.js";
import { readTexts, type Texts } from "../../data/texts.js";
import { fitPredictorFile } from "../../latency/fit-file.js";
import { fewShotFile } from "../../latency/transfer-file.js";
import { readDataset, type LatencyRow } from "../../latency/dataset.js";
import type { CandidateMeasurer } from "../../search/closed-loop.js";
import { runSearch } from "../../search/pipeline.js";
import { runStudy } from "../../search/study-run.js";
import { progressLine, trainModel, trainSummary, type Progress } from "../../train/pipeline.js";
import { quantAwareFinetune } from "../../train/quant-aware.js";
import { positionFraction, trainProgressData, type ProgressData } from "./progress.js";
import { RESULT_FILE, SPEC_COMMAND, type ChildMessage, type JobSpec, type ParentMessage, type TextFiles } from "./spec.js";

// When the server dies, end too, so a restarted server's re-run of the job is the only one writing
// its files. unref: the channel alone must not keep this process alive.
if (process.channel) {
  process.on("disconnect", () => process.exit(130));
  process.channel.unref();
}

function send(m: ChildMessage): void {
  if (process.send) process.send(m);
  else if (m.type === "log") process.stderr.write(`${m.line}\n`);
}

/** Resolves once every message sent before has been handed to the channel. */
function flush(): Promise<void> {
  return new Promise((resolve) => (process.send ? process.send({ type: "done" } satisfies ChildMessage, undefined, undefined, () => resolve()) : resolve()));
}

const log = (line: string) => send({ type: "log", line });
const progress = (fraction: number | undefined, message: string, data?: ProgressData) => send({ type: "progress", fraction, message, ...(data ? { data } : {}) });
const texts = (f: TextFiles): Texts => readTexts(f.src, f.tgt, log);

/** The trainer's progress: every update a progress message with its numbers, the validations also a log line. */
function trainProgress(p: Progress): void {
  const line = progressLine(p);
  progress(positionFraction(p.step, p.totalSteps), line, trainProgressData(p));
  if (p.validLoss !== undefined) log(line);
}

/**
 * The closed loop's candidates measured on the fleet: a `measure` request to the parent (the
 * search job), answered with the latency dataset the agents measured. The channel is held (ref)
 * while an answer is awaited: nothing else keeps this process alive meanwhile.
 */
function fleetMeasurer(where: string): CandidateMeasurer {
  let next = 1;
  return {
    where,
    measure(archs, round) {
      if (!process.send || !process.channel) return Promise.reject(new Error("no parent to measure on the fleet"));
      const id = next++, channel = process.channel;
      return new Promise<LatencyRow[]>((resolve, reject) => {
        const onMessage = (m: ParentMessage) => {
          if (m?.type !== "measured" || m.id !== id) return;
          process.off("message", onMessage);
          channel.unref();
          if (typeof m.dataset === "string") {
            try {
              resolve(readDataset(m.dataset).rows);
            } catch (e) {
              reject(e as Error);
            }
          } else reject(new Error(typeof m.error === "string" ? m.error : "the fleet measured nothing"));
        };
        process.on("message", onMessage);
        channel.ref();
        send({ type: "measure", id, archs: [...archs], round });
      });
    },
  };
}

async function run(spec: JobSpec): Promise<unknown> {
  switch (spec.kind) {
    case "train":
      return trainSummary(await trainModel({
        ...spec.settings, space: spec.space, data: { train: texts(spec.data.train), valid: texts(spec.data.valid) }, log, onProgress: trainProgress,
      }));
    case "finetune":
      return trainSummary(await trainModel({
        ...spec.settings, arch: spec.arch, init: spec.init !== undefined ? await readModelFile(spec.init) : undefined,
        data: { train: texts(spec.data.train), valid: texts(spec.data.valid) }, log, onProgress: trainProgress,
      }));
    case "export":
      return writeSubTransformer(await readModelFile(spec.supernet), spec.arch, spec.out);
    case "quantize": {
      const file = await readModelFile(spec.model);
      const f = spec.finetune;
      if (!f) return writeQuantizedModel(file, spec.options, spec.out);
      const o = spec.options;
      const r = await quantAwareFinetune({
        ...f, file, bits: o.bits, embedBits: o.embedBits, init: o.init, data: { train: texts(f.data.train), valid: texts(f.data.valid) },
        checkpoint: `${spec.out}.ckpt`, log, onProgress: trainProgress,
      });
      await writeModelFile(spec.out, r.bytes);
      const t = r.result;
      return { ...r.summary, bytes: r.bytes.length, f32Bytes: r.f32Bytes, finetuned: { steps: t.steps, seconds: t.seconds, tokens_per_sec: t.tokensPerSec, valid_loss: r.validLoss } };
    }
    case "predictor":
      if (spec.fewShot) {
        const { data, out, seed, outliers, space, features, device } = spec.options;
        return (await fewShotFile({ data, out, seed, outliers, space, features, device, ...spec.fewShot, log })).summary;
      }
      return (await fitPredictorFile({ ...spec.options, log })).summary;
    case "search": {
      const o = spec.options;
      const run = await runSearch({
        ...o, valid: texts(o.valid),
        finetune: o.finetune && { ...o.finetune, train: texts(o.finetune.train) },
        bleu: o.bleu && { test: texts(o.bleu.test), max: o.bleu.max },
        verify: o.verify && { ...o.verify, measurer: fleetMeasurer(o.verify.where) },
        log, onProgress: (p) => progress(positionFraction(p.done, p.total), p.message, { done: p.done, total: p.total > 0 ? p.total : null, ...p.data }),
      });
      return run.summary;
    }
    case "study": {
      const o = spec.options;
      const run = await runStudy({
        ...o, train: texts(o.train), valid: texts(o.valid), test: o.test && texts(o.test),
        log, onProgress: (p) => progress(positionFraction(p.done, p.total), p.message, { done: p.done, total: p.total }),
      });
      return run.summary;
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown job spec kind ${JSON.stringify((never as { kind?: unknown }).kind)}`);
    }
  }
}

const specFile = process.argv[2];
let what = "job child";
try {
  if (!specFile) throw new Error("usage: child-main SPEC.json");
  const spec = JSON.parse(readFileSync(specFile, "utf8")) as JobSpec;
  what = SPEC_COMMAND[spec.kind] ?? what;
  const result = await run(spec);
  writeFileAtomic(join(dirname(specFile), RESULT_FILE), JSON.stringify(result ?? null) + "\n");
  await flush();
  process.exitCode = 0;
} catch (e) {
  await flush();
  process.stderr.write(`${what}: ${(e as Error)?.message ?? String(e)}\n`);
  process.exitCode = isInputError(e) ? 2 : 1;
}
