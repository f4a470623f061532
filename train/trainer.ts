/**
 * The training loop (docs/method.md §3): the SuperTransformer with one SubTransformer sampled
 * uniformly per update (or the sandwich rule: the largest, the smallest and a random one trained
 * on the same batch, their gradients summed into one update), or
 * one fixed SubTransformer trained from scratch or fine-tuned from inherited weights.
 * Label-smoothed cross-entropy, Adam, cosine-with-warm-up or inverse-sqrt learning rate, dropout
 * scaled by embed dim, gradient clipping, token-based batching; validation loss computed by the
 * WASM runtime; checkpoints written atomically so a killed run loses only the steps since the last.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { archInSpace } from "../runtime/arch.js";
import { largestArch, sampleArch, smallestArch } from "../runtime/arch-sample.js";
import { corpusLoss } from "../runtime/decode.js";
import { encodeModel, type ModelHeader } from "../runtime/format.js";
import { readModelFile, writeModelFile } from "../runtime/model-files.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Space, ValidArch } from "../runtime/types.js";
import { loadWasm } from "../runtime/wasm-node.js";
import { WasmSubTransformer, WasmWeights } from "../runtime/wasm-model.js";
import type { TensorMap } from "../runtime/weights.js";
import { selectBackend, type BackendChoice } from "./backend.js";
import { BatchStream, type TokenPair } from "./batching.js";
import { DataParallel } from "./data-parallel.js";
import { initialTensors } from "./init.js";
import { Keeper, type Kept } from "./keep.js";
import { checkTrainingMemory, largestFittingBatch, TrainingMemoryError, WASM_HEAP_BYTES } from "./memory.js";
import { Adam, cosineDecay, cosineLr, inverseSqrtLr } from "./optim.js";
import { describeRecipe, probeDone, refineRecipe, sizeRecipe, TRIAL_UPDATES, type Recipe } from "./recipe.js";
import { projectVariables, type Codebooks } from "./codebooks.js";
import { trainStep, type StepResult } from "./step.js";
import { SuperTransformer } from "./supertransformer.js";

export interface LrOptions {
  schedule: "cosine" | "inverse-sqrt";
  maxLr: number; // peak learning rate
  warmup: number; // linear warm-up updates (from warmupInitLr)
  warmupInitLr: number;
  minLr: number; // cosine floor
}

export interface TrainOptions {
  space: Space;
  /** Train only this SubTransformer (from scratch, or fine-tuning `init`); default: sample per update. */
  arch?: ValidArch;
  sampling?: "uniform" | "sandwich";
  vocab: ModelHeader["vocab"];
  tokenizer?: unknown;
  train: TokenPair[];
  valid: TokenPair[];
  /** Stop after this many updates, or after `minutes` of training, whichever comes first. */
  steps?: number;
  minutes?: number;
  maxTokens?: number;
  lr?: Partial<LrOptions>;
  labelSmoothing?: number;
  /** Dropout at the super embed dim (scaled by D / D_max per SubTransformer). */
  dropout?: number;
  attentionDropout?: number;
  activationDropout?: number;
  clipNorm?: number;
  seed?: number;
  /** Starting weights (SuperTransformer shapes): fine-tuning. Default: fresh initialisation. */
  init?: TensorMap;
  /** Checkpoint file; resumed from when it exists. */
  checkpoint?: string;
  checkpointSeconds?: number;
  /** Validate every this many updates (and at the end). */
  validEvery?: number;
  /** Validate every this many seconds of training (with a recipe: budget / 8, at least 30 s). */
  validEverySec?: number;
  /**
   * With `minutes` (and no `steps`): time the first updates and size the batch, the warm-up and
   * the peak rate from the updates the budget allows (./recipe.ts); the settings named in `fixed`
   * stay as given. Default: on with a time budget alone.
   */
  recipe?: false | { fixed: Recipe["fixed"] };
  /** Keep the average of the last N validated snapshots when it validates better (./keep.ts); 0: off. */
  average?: number;
  /**
   * Token-level knowledge distillation (./step.ts Teacher): the teacher's weights (SuperTransformer
   * shapes of `space`, e.g. the SuperTransformer fine-tuned from) and the SubTransformer of them
   * that teaches; top-k soft labels (default 5) weighted `weight` (default 0.5) against the labels.
   */
  distill?: { tensors: TensorMap; arch: ValidArch; topK?: number; weight?: number };
  /**
   * Quantization-aware fine-tuning (./codebooks.ts): these K-means matrices keep their assignment
   * and are projected onto their codebooks at the start and after every update.
   */
  codebooks?: Codebooks;
  /** Validation pairs used (the first n): keeps validation fast. */
  validMax?: number;
  backend?: string;
  /**
   * Threads that share each batch (./data-parallel.ts). Default: every core on the wasm and cpu
   * backends (one thread each), 1 on the native ones (libtensorflow has its own threads).
   */
  threads?: number;
  onProgress?: (p: Progress) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface Progress {
  step: number;
  totalSteps: number;
  loss: number; // label-smoothed, per token, running mean over the last updates
  lr: number;
  tokensPerSec: number;
  elapsedSec: number;
  etaSec: number;
  validLoss?: number;
}

export interface TrainResult {
  tensors: TensorMap;
  steps: number;
  validLoss: number;
  trainLoss: number;
  tokensPerSec: number;
  backend: BackendChoice;
  threads: number;
  seconds: number;
  resumedFrom?: number;
  /** The recipe the budget was sized with (absent for a fixed recipe). */
  recipe?: Recipe;
  /** Which weights were kept (final, best or average) and the validation losses compared. */
  kept: Omit<Kept, "tensors">;
}

/** The trainer's own state, kept in a checkpoint's meta. */
interface TrainerState {
  step: number;
  totalSteps: number;
  epoch: number;
  index: number;
  elapsedMs: number;
  tokens: number;
  adamSteps: Record<string, number>;
  fingerprint: string;
  /** With a time budget: training time (ms) when warm-up ended, where the cosine decay starts. */
  warmupEndMs?: number;
  /** The recipe chosen after the probe (./recipe.ts). */
  recipe?: Recipe;
}

const DEFAULT_LR: LrOptions = { schedule: "cosine", maxLr: 1e-3, warmup: 400, warmupInitLr: 1e-7, minLr: 1e-7 };

/** What must match for a checkpoint to be resumed. */
function fingerprint(o: TrainOptions): string {
  const d = o.distill && { arch: o.distill.arch, topK: o.distill.topK ?? 5, weight: o.distill.weight ?? 0.5 }; // only when set: older checkpoints still resume
  const q = o.codebooks && [...o.codebooks].map(([name, a]) => [name, a.k]); // only when set, as distill
  return JSON.stringify({ space: o.space, arch: o.arch ?? null, sampling: o.sampling ?? "uniform", V: o.vocab.size, n: o.train.length, seed: o.seed ?? 1, ...(d ? { distill: d } : {}), ...(q ? { codebooks: q } : {}) });
}

/** A model file's weights: its tensors without the Adam moments (`adam.m.*`, `adam.v.*`) a checkpoint adds. */
export function withoutAdamState(tensors: TensorMap): TensorMap {
  return new Map([...tensors].filter(([name]) => !name.startsWith("adam.")));
}

/** Label-smoothed validation loss per token of `arch`, computed by the WASM runtime on `tensors`. */
export function validationLoss(tensors: TensorMap, vocabSize: number, positionDims: { encoder: number; decoder: number }, arch: ValidArch, pairs: readonly TokenPair[], labelSmoothing = 0.1, batch = 64): number {
  const model = new WasmSubTransformer(new WasmWeights(loadWasm(), { tensors, vocabSize, positionDims }), arch); // a fresh instance
  const batches: TokenPair[][] = [];
  for (let i = 0; i < pairs.length; i += batch) batches.push(pairs.slice(i, i + batch));
  return corpusLoss(model, batches, labelSmoothing);
}

function lrAt(step: number, total: number, lr: LrOptions): number {
  if (lr.schedule === "inverse-sqrt") return inverseSqrtLr(step, { warmupSteps: lr.warmup, warmupInitLr: lr.warmupInitLr, lr: lr.maxLr });
  return cosineLr(step, { warmupSteps: lr.warmup, warmupInitLr: lr.warmupInitLr, maxLr: lr.maxLr, minLr: lr.minLr, totalSteps: total });
}

/** The SubTransformers of update `step`: one uniform sample, or largest + smallest + a sample. */
function archsFor(o: TrainOptions, step: number): ValidArch[] {
  if (o.arch) return [o.arch];
  const r = mulberry32((o.seed ?? 1) * 7919 + step);
  if (o.sampling === "sandwich") return [largestArch(o.space), smallestArch(o.space), sampleArch(o.space, r)];
  return [sampleArch(o.space, r)];
}

/**
 * The batch size to train with: `maxTokens` when the training memory fits the backend
 * (./memory.ts); when it does not, the largest batch that fits if the recipe may size the batch,
 * else a TrainingMemoryError that says what to shrink.
 */
function fitBatch(o: TrainOptions, backend: string, threads: number, mayShrink: boolean, log: (l: string) => void): number {
  const maxTokens = o.maxTokens ?? 4096;
  let longest = 0;
  for (const p of o.train) longest = Math.max(longest, p.src.length, p.tgt.length + 1);
  const input = { space: o.space, vocabSize: o.vocab.size, maxTokens, threads, longest };
  try {
    const e = checkTrainingMemory(input, backend);
    if (backend === "wasm") log(`memory: about ${(e.total / 2 ** 30).toFixed(2)} GiB a thread of the wasm backend's ${(WASM_HEAP_BYTES / 2 ** 30).toFixed(2)} GiB (${e.shardTokens} tokens a thread)`);
    return maxTokens;
  } catch (e) {
    const fits = mayShrink ? largestFittingBatch(input) : 0;
    if (!(e instanceof TrainingMemoryError) || fits < 64) throw e;
    log(`memory: batches of ${maxTokens} tokens would not fit the ${backend} backend's heap; training with ${fits}`);
    return fits;
  }
}

/** Train; resumes from `o.checkpoint` when it exists and belongs to the same run. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + "\n"));
  if (o.arch) archInSpace(o.arch, o.space);
  if (o.steps === undefined && o.minutes === undefined) throw new RangeError("give steps or minutes");
  const backend = await selectBackend(o.backend, log);
  const lr: LrOptions = { ...DEFAULT_LR, ...o.lr };
  const V = o.vocab.size, seed = o.seed ?? 1, fp = fingerprint(o);
  const st = new SuperTransformer(o.space, V, { tensors: o.init ?? initialTensors(o.space, V, seed) });
  const opt = new Adam();
  const threads = o.threads ?? (backend.name === "wasm" || backend.name === "cpu" ? availableParallelism() : 1);
  if (!(Number.isInteger(threads) && threads >= 1)) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  // a recipe sized to the budget: only for a time budget alone
  const sizing = o.minutes !== undefined && o.steps === undefined && o.recipe !== false ? (o.recipe || { fixed: [] }) : undefined;
  const maxTokens = fitBatch(o, backend.name, threads, sizing !== undefined && !sizing.fixed.includes("maxTokens"), log);
  let stream = new BatchStream(o.train, maxTokens, seed);
  let streamTokens = maxTokens;
  const given = { warmup: lr.warmup, maxLr: lr.maxLr }; // what a recipe sizes from
  const useRecipe = (r: Recipe) => {
    lr.warmup = r.warmup;
    lr.maxLr = r.maxLr;
    if (r.maxTokens !== streamTokens) stream = new BatchStream(o.train, streamTokens = r.maxTokens, seed);
  };
  const validPairs = o.valid.slice(0, o.validMax ?? 500);
  const validArch = o.arch ?? largestArch(o.space);
  let state: TrainerState = { step: 0, totalSteps: o.steps ?? 0, epoch: 0, index: 0, elapsedMs: 0, tokens: 0, adamSteps: {}, fingerprint: fp };
  let resumedFrom: number | undefined;

  if (o.checkpoint && existsSync(o.checkpoint)) {
    const ck = await readModelFile(o.checkpoint);
    const saved = ck.header.meta?.trainer as TrainerState | undefined;
    if (!saved || saved.fingerprint !== fp) {
      throw new Error(`${o.checkpoint} is a checkpoint of a different run (data, space, arch or seed differ): remove it or choose another output`);
    }
    const weights: TensorMap = new Map(), m: TensorMap = new Map(), v: TensorMap = new Map();
    for (const [name, t] of ck.tensors) {
      if (name.startsWith("adam.m.")) m.set(name.slice(7), t);
      else if (name.startsWith("adam.v.")) v.set(name.slice(7), t);
      else weights.set(name, t);
    }
    st.fromTensorMap(weights);
    opt.loadState({ steps: saved.adamSteps, m, v });
    state = saved;
    if (saved.recipe) useRecipe(saved.recipe);
    stream.seek(saved.epoch, saved.index);
    resumedFrom = saved.step;
    log(`resumed from ${o.checkpoint} at update ${saved.step}`);
  }

  /** Write the checkpoint; `weights` when the caller already exported them. */
  const save = async (weights: TensorMap = st.toTensorMap()) => {
    if (!o.checkpoint) return;
    const adam = opt.state();
    state.adamSteps = adam.steps;
    state.epoch = stream.epoch;
    state.index = stream.index;
    const tensors: TensorMap = new Map(weights);
    for (const [name, t] of adam.m) tensors.set(`adam.m.${name}`, t);
    for (const [name, t] of adam.v) tensors.set(`adam.v.${name}`, t);
    await writeModelFile(o.checkpoint, encodeModel({
      kind: "supertransformer", space: o.space, positionDims: st.positionDims, vocab: o.vocab, tokenizer: o.tokenizer,
      meta: { trainer: state, checkpoint: true },
    }, tensors));
  };
  const keeper = new Keeper({
    average: o.average ?? 0, fingerprint: fp, base: o.checkpoint,
    encode: (tensors, meta) => encodeModel({ kind: "supertransformer", space: o.space, positionDims: st.positionDims, vocab: o.vocab, tokenizer: o.tokenizer, meta }, tensors),
  });
  if (resumedFrom !== undefined) await keeper.restore(resumedFrom);

  const d = o.distill;
  if (d) {
    archInSpace(d.arch, o.space);
    if (!(Number.isInteger(d.topK ?? 5) && (d.topK ?? 5) >= 1 && (d.topK ?? 5) <= V)) throw new RangeError(`distill.topK must be an integer 1..${V}, got ${d.topK}`);
    if (!((d.weight ?? 0.5) >= 0 && (d.weight ?? 0.5) <= 1)) throw new RangeError(`distill.weight must be in [0, 1], got ${d.weight}`);
  }
  const teacherInit = d && { tensors: d.tensors, arch: d.arch, topK: d.topK ?? 5, weight: d.weight ?? 0.5 };
  const teacher = teacherInit && { ...teacherInit, st: new SuperTransformer(o.space, V, { tensors: d.tensors }) };
  if (teacher) log(`distilling from the teacher's top ${teacher.topK} (weight ${teacher.weight})`);
  if (o.codebooks) {
    projectVariables(st.variables, o.codebooks); // the quantized model is where training starts
    log(`quantization-aware: ${o.codebooks.size} matrices keep their assignments; their centroids are trained`);
  }
  const parallel = threads > 1 ? await DataParallel.start(st, threads, backend.name, teacherInit) : undefined;
  try {
    return await loop();
  } finally {
    await parallel?.close();
    teacher?.st.dispose();
    st.dispose();
    opt.dispose();
  }

  async function loop(): Promise<TrainResult> {
    const rates = { dropout: o.dropout ?? 0.1, attention: o.attentionDropout ?? 0, activation: o.activationDropout ?? 0 };
    const started = performance.now() - state.elapsedMs;
    const elapsed = () => performance.now() - started;
    const deadline = o.minutes !== undefined ? o.minutes * 60_000 : Infinity;
    let lastSave = performance.now(), recent: number[] = [], validLoss = NaN, runTokens = 0;
    const runStart = performance.now();
    const validEverySec = o.validEverySec ?? (sizing && o.validEvery === undefined ? Math.max(30, (o.minutes! * 60) / 8) : undefined);
    let lastValid = elapsed();
    // the recipe's probe (updates at maxTokens) and trial (at the first estimate's smaller batch):
    // seconds of each update after the first of each, until the recipe is chosen
    const probeTimes: number[] = [], trialTimes: number[] = [];
    let trial: { recipe: Recipe; updates: number } | undefined;
    const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
    while (!o.signal?.aborted) {
      if (o.steps !== undefined && state.step >= o.steps) break;
      const now = elapsed();
      if (now >= deadline) {
        state.elapsedMs = now; // the run's time is the time it ran to, not the last update's end
        break;
      }
      // with a time budget only, the cosine decays over the time left after warm-up (so a machine
      // that slows down still anneals before the deadline); the step count shown is an estimate
      const byTime = o.steps === undefined && lr.schedule === "cosine";
      if (o.steps === undefined && state.step > 0) state.totalSteps = Math.max(state.step + 1, Math.round((deadline / elapsed()) * state.step));
      let rate: number;
      if (byTime && state.step >= lr.warmup) {
        state.warmupEndMs ??= elapsed();
        rate = cosineDecay((elapsed() - state.warmupEndMs) / Math.max(1, deadline - state.warmupEndMs), lr.maxLr, lr.minLr);
      } else rate = lrAt(state.step, state.totalSteps || o.steps || 1000, lr);
      // one batch per update; the sandwich's SubTransformers' gradients on it are summed into one update
      const archs = archsFor(o, state.step), batch = stream.next();
      const so = { lr: rate, labelSmoothing: o.labelSmoothing ?? 0.1, rates, clipNorm: o.clipNorm ?? 0, teacher };
      const t0 = performance.now();
      const r: StepResult = parallel ? await parallel.step(opt, archs, batch, so) : trainStep(st, opt, archs, batch, so);
      if (o.codebooks) projectVariables(st.variables, o.codebooks); // back onto the codebooks (the workers get these values next update)
      if (sizing && !state.recipe) {
        const sec = (performance.now() - t0) / 1000;
        if (trial) { if (trial.updates++ > 0) trialTimes.push(sec); } // the first at a new size allocates
        else if (state.step > 0) probeTimes.push(sec); // the first update compiles kernels
      }
      if (!Number.isFinite(r.loss)) throw new Error(`loss is ${r.loss} at update ${state.step}: lower the learning rate`);
      recent.push(r.loss);
      state.tokens += r.tokens;
      runTokens += r.tokens;
      if (recent.length > 20) recent = recent.slice(-20);
      state.step++;
      state.elapsedMs = elapsed();
      if (sizing && !state.recipe) {
        const input = { remainingSec: (deadline - state.elapsedMs) / 1000, maxTokens, ...given, fixed: sizing.fixed };
        if (!trial && probeDone(probeTimes.length, state.elapsedMs / 1000, deadline / 1000)) {
          const first = sizeRecipe({ ...input, probe: { updates: state.step, batchTokens: maxTokens, secPerUpdate: median(probeTimes) } });
          if (first.maxTokens < maxTokens) trial = { recipe: first, updates: 0 }; // time the smaller batch before trusting the estimate
          else state.recipe = first;
          useRecipe(first);
        } else if (trial && trialTimes.length >= TRIAL_UPDATES) {
          state.recipe = refineRecipe(trial.recipe, { updates: trial.updates, batchTokens: trial.recipe.maxTokens, secPerUpdate: median(trialTimes) }, input);
          useRecipe(state.recipe);
        }
        if (state.recipe) log(describeRecipe(state.recipe));
      }
      const validate = (o.validEvery !== undefined && state.step % o.validEvery === 0) ||
        (validEverySec !== undefined && state.elapsedMs - lastValid >= validEverySec * 1000 && state.elapsedMs < deadline - 5000);
      if (validate) {
        const tensors = st.toTensorMap();
        validLoss = validationLoss(tensors, V, st.positionDims, validArch, validPairs, o.labelSmoothing ?? 0.1);
        await keeper.offer(state.step, validLoss, tensors);
        lastValid = elapsed();
      }
      const tps = runTokens / ((performance.now() - runStart) / 1000);
      const totalNow = o.steps ?? state.totalSteps;
      o.onProgress?.({
        step: state.step, totalSteps: totalNow, loss: recent.reduce((a, b) => a + b, 0) / recent.length, lr: rate, tokensPerSec: tps,
        elapsedSec: state.elapsedMs / 1000, etaSec: Math.max(0, ((totalNow - state.step) * state.elapsedMs) / state.step / 1000),
        validLoss: validate ? validLoss : undefined,
      });
      if (o.checkpoint && performance.now() - lastSave > (o.checkpointSeconds ?? 60) * 1000) {
        await save();
        lastSave = performance.now();
      }
      await new Promise((r) => setImmediate(r)); // let signals and I/O through
    }
    const final = st.toTensorMap();
    const loss = (t: TensorMap) => validationLoss(t, V, st.positionDims, validArch, validPairs, o.labelSmoothing ?? 0.1);
    validLoss = loss(final);
    await save(final);
    const { tensors, ...kept } = await keeper.choose({ tensors: final, step: state.step, validLoss }, loss);
    if (kept.kept !== "final") log(`kept the ${kept.kept === "best" ? `best weights (update ${kept.step})` : `average of updates ${kept.losses.average!.steps.join(", ")}`}: validation loss ${kept.validLoss.toFixed(3)} against ${validLoss.toFixed(3)} at the end`);
    const trainLoss = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN;
    return {
      tensors, steps: state.step, validLoss: kept.validLoss, trainLoss, backend, threads, resumedFrom, recipe: state.recipe, kept,
      tokensPerSec: runTokens / Math.max(1e-9, (performance.now() - runStart) / 1000), seconds: state.elapsedMs / 1000,
    };
  }
}
