/**
 * A searched model in each deployed form (issue 14, 5; docs/runtime.md "Each form of a model"):
 * the file size of each form (`hat quantize` of the model) and its latency measured here as a
 * deployment measures it (runtime/profile.ts at the protocol's quant: the architecture with random
 * weights quantized as the form's are). The forms are measured in interleaved rounds, the fastest
 * of each kept, so they are compared at the same moments on a machine whose speed drifts.
 */
import { encodeModel, type DecodedModel } from "../runtime/format.js";
import { quantizeModel } from "../runtime/model.js";
import { profileArch, type ProfileResult } from "../runtime/profile.js";
import { checkProtocol, QUANTS, type Protocol, type Quant } from "../runtime/protocol.js";
import { quantForm } from "../runtime/quant.js";
import { validateArch, validateSpace } from "../runtime/arch.js";
import { largestArch } from "../runtime/arch-sample.js";
import type { ValidArch } from "../runtime/types.js";
import type { HatWasm } from "../runtime/wasm.js";

/** One form of the model: its file and its measured latency. */
export interface FormRecord {
  quant: Quant;
  /** Bytes of the file deployed in this form (int8: the linear8 file, run with int8 products). */
  bytes: number;
  /** The f32 file's bytes over these. */
  smaller: number;
  totalMs: number;
  encoderMs: number;
  decoderMs: number;
  /** The protocol measured (quant the form's, the build that ran). */
  protocol: Protocol;
}

/** Options of {@link measureForms}. */
export interface FormsOptions {
  /** Default every protocol quant (runtime/protocol.ts QUANTS). */
  forms?: readonly Quant[];
  /** The measurement (its quant is replaced by each form's; vocab should be the model's). */
  protocol: Protocol;
  /** Interleaved rounds, the fastest of each form kept (default 3). */
  rounds?: number;
  wasm?: HatWasm;
  onForm?: (quant: Quant, round: number) => void;
}

/** The bytes of `file` written in form `quant` (f32: every tensor f32; int8: the linear8 file it runs). */
export function formBytes(file: DecodedModel, quant: Quant): number {
  const f = quantForm(quant === "int8" ? "linear8" : quant);
  if (f) return quantizeModel(file, { method: f.method, bits: f.bits }).bytes.length;
  const { dataOffset: _o, dataBytes: _b, tensors: _t, ...h } = file.header;
  return encodeModel(h, file.tensors).length;
}

/** Each form's size and measured latency, for architecture `arch` of `file` (its own, for a compact SubTransformer). */
export function measureForms(file: DecodedModel, arch: ValidArch, o: FormsOptions): FormRecord[] {
  const forms = o.forms ?? QUANTS;
  for (const q of forms) if (!QUANTS.includes(q)) throw new RangeError(`form must be one of ${QUANTS.join(", ")}, got ${String(q)}`);
  const base = checkProtocol(o.protocol);
  const best = new Map<Quant, ProfileResult>();
  for (let r = 0; r < (o.rounds ?? 3); r++) {
    for (const quant of forms) {
      o.onForm?.(quant, r);
      const m = profileArch(arch, { ...base, quant, rounds: 1 }, { wasm: o.wasm });
      const b = best.get(quant);
      if (!b || m.total_ms < b.total_ms) best.set(quant, m);
    }
  }
  const f32Bytes = formBytes(file, "f32");
  return forms.map((quant) => {
    const m = best.get(quant)!, bytes = formBytes(file, quant);
    return { quant, bytes, smaller: f32Bytes / bytes, totalMs: m.total_ms, encoderMs: m.encoder_ms, decoderMs: m.decoder_ms, protocol: m.protocol };
  });
}

/** The architecture a model file runs: a compact SubTransformer's own, a SuperTransformer's largest. */
export function modelArch(file: DecodedModel): ValidArch {
  const h = file.header, space = h.space ? validateSpace(h.space) : undefined;
  if (h.arch) return validateArch(h.arch, space);
  return largestArch(space!);
}
