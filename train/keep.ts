/**
 * Which weights a training run keeps (docs/training.md "Recipes for a time budget"): the final
 * ones, the best by validation loss, or the average of the last N validated snapshots (HAT's
 * IWSLT protocol averages the last 10 checkpoints). Each validation offers the current weights;
 * at the end the candidate with the lowest validation loss is kept.
 *
 * With a checkpoint path the best weights and the snapshots are written next to it
 * (`CKPT.best`, `CKPT.snap0..N-1`, atomically, each with the step and the run's fingerprint), so a
 * resumed run keeps the ones taken before the kill; only the best is also held in memory.
 */
import { existsSync } from "node:fs";
import { readModelFile, writeModelFile } from "../runtime/model-files.js";
import type { TensorMap } from "../runtime/weights.js";

/** What is recorded with a kept set of weights, in its file's meta. */
interface KeptMeta {
  fingerprint: string;
  step: number;
  validLoss: number;
}

export interface KeepOptions {
  /** Average the last `average` validated snapshots (0: no averaging). */
  average: number;
  /** The run's identity (the checkpoint's fingerprint): files of another run are ignored. */
  fingerprint: string;
  /** Files next to this path; without it everything stays in memory. */
  base?: string;
  /** A model file of `tensors` with `meta` in its header (the trainer's header). */
  encode: (tensors: TensorMap, meta: Record<string, unknown>) => Uint8Array;
}

/** The weights chosen at the end, and the validation losses compared. */
export interface Kept {
  tensors: TensorMap;
  kept: "final" | "best" | "average";
  /** The step whose weights were kept (the last snapshot's for an average). */
  step: number;
  validLoss: number;
  losses: { final: number; best?: { step: number; validLoss: number }; average?: { steps: number[]; validLoss: number } };
}

interface Snapshot extends KeptMeta {
  tensors?: TensorMap; // in memory when there is no base path
  slot?: number; // its file CKPT.snap<slot> otherwise
}

/** The element-wise mean of same-shaped weight sets (float64 sums). */
export function averageTensors(sets: readonly TensorMap[]): TensorMap {
  if (sets.length === 0) throw new RangeError("nothing to average");
  const out: TensorMap = new Map();
  for (const [name, t] of sets[0]) {
    const acc = new Float64Array(t.data.length);
    for (const s of sets) {
      const u = s.get(name);
      if (!u || u.data.length !== acc.length) throw new Error(`snapshots differ in tensor ${name}`);
      for (let i = 0; i < acc.length; i++) acc[i] += u.data[i];
    }
    const data = new Float32Array(acc.length);
    for (let i = 0; i < acc.length; i++) data[i] = acc[i] / sets.length;
    out.set(name, { shape: t.shape.slice(), data });
  }
  return out;
}

const copy = (t: TensorMap): TensorMap => new Map([...t].map(([n, x]) => [n, { shape: x.shape.slice(), data: new Float32Array(x.data) }]));

export class Keeper {
  private best?: Snapshot & { tensors: TensorMap };
  /** The last `average` snapshots, oldest first. */
  private snaps: Snapshot[] = [];

  constructor(private readonly o: KeepOptions) {
    if (!(Number.isInteger(o.average) && o.average >= 0 && o.average <= 100)) throw new RangeError(`average must be an integer 0..100, got ${o.average}`);
  }

  private snapFile(k: number): string {
    return `${this.o.base}.snap${k}`;
  }

  private async write(path: string, tensors: TensorMap, meta: KeptMeta): Promise<void> {
    await writeModelFile(path, this.o.encode(tensors, { kept: meta }));
  }

  /** Read what a killed run of the same run kept, up to `step` (the checkpoint it resumes from). */
  async restore(step: number): Promise<void> {
    if (!this.o.base) return;
    const read = async (path: string): Promise<Snapshot & { tensors: TensorMap } | undefined> => {
      if (!existsSync(path)) return undefined;
      try {
        const m = await readModelFile(path);
        const meta = m.header.meta?.kept as KeptMeta | undefined;
        if (!meta || meta.fingerprint !== this.o.fingerprint || !(meta.step <= step)) return undefined;
        return { ...meta, tensors: m.tensors };
      } catch {
        return undefined; // a torn or foreign file: not ours to keep
      }
    };
    this.best = await read(`${this.o.base}.best`);
    for (let k = 0; k < this.o.average; k++) {
      const s = await read(this.snapFile(k));
      if (s) this.snaps.push({ fingerprint: s.fingerprint, step: s.step, validLoss: s.validLoss, slot: k });
    }
    this.snaps.sort((a, b) => a.step - b.step);
  }

  /** Offer the weights validated at `step`. */
  async offer(step: number, validLoss: number, tensors: TensorMap): Promise<void> {
    if (!Number.isFinite(validLoss)) return;
    const meta: KeptMeta = { fingerprint: this.o.fingerprint, step, validLoss };
    if (!this.best || validLoss < this.best.validLoss) {
      this.best = { ...meta, tensors: copy(tensors) };
      if (this.o.base) await this.write(`${this.o.base}.best`, tensors, meta);
    }
    if (this.o.average > 0) {
      this.snaps = this.snaps.filter((s) => s.step !== step);
      const snap: Snapshot = { ...meta };
      if (this.o.base) {
        // the oldest snapshot's file when the ring is full, else a free one
        const used = new Set(this.snaps.map((s) => s.slot));
        snap.slot = this.snaps.length >= this.o.average ? this.snaps[0].slot! : [...Array(this.o.average).keys()].find((k) => !used.has(k))!;
        await this.write(this.snapFile(snap.slot), tensors, meta);
      } else snap.tensors = copy(tensors);
      this.snaps = [...this.snaps, snap].slice(-this.o.average);
    }
  }

  /** The weights to keep: the final ones, the best, or the average, whichever validates best. */
  async choose(final: { tensors: TensorMap; step: number; validLoss: number }, validate: (t: TensorMap) => number): Promise<Kept> {
    let kept: Kept = { tensors: final.tensors, kept: "final", step: final.step, validLoss: final.validLoss, losses: { final: final.validLoss } };
    if (this.best) {
      kept.losses.best = { step: this.best.step, validLoss: this.best.validLoss };
      if (this.best.validLoss < kept.validLoss) kept = { ...kept, tensors: this.best.tensors, kept: "best", step: this.best.step, validLoss: this.best.validLoss };
    }
    if (this.o.average > 1) {
      const snaps = [...this.snaps.filter((s) => s.step !== final.step), { ...final, fingerprint: this.o.fingerprint, tensors: final.tensors }].slice(-this.o.average);
      if (snaps.length >= 2) {
        const sets: TensorMap[] = [];
        for (const s of snaps) {
          if (s.tensors) sets.push(s.tensors);
          else sets.push((await readModelFile(this.snapFile(s.slot!))).tensors);
        }
        const avg = averageTensors(sets);
        const loss = validate(avg);
        kept.losses.average = { steps: snaps.map((s) => s.step), validLoss: loss };
        if (loss < kept.validLoss) kept = { ...kept, tensors: avg, kept: "average", step: final.step, validLoss: loss };
      }
    }
    return kept;
  }
}
