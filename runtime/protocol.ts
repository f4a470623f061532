/**
 * The measurement protocol (docs/method.md §4): how one latency is measured (runtime/profile.ts
 * measures it). One object with one wire schema, carried as it is by campaign rows (CSV columns,
 * latency/dataset.ts), predictor files (latency/predictor.ts), the fleet's work and deployment
 * reports (runtime/fleet-protocol.ts) and search records (search/report.ts). Its field names are
 * snake_case, as HAT's datasets and our CSV columns and HTTP bodies name them, so the TypeScript
 * object and the JSON are the same.
 *
 *   vocab, src_len, tgt_len, beam   the workload: a source of src_len tokens encoded once, then
 *                                   tgt_len incremental decoder steps, the decoder batch
 *                                   replicated to `beam` rows, an output projection over `vocab`
 *   warmup, runs                    untimed runs, then timed runs, of one measurement
 *   trim                            the statistic: the mean of the timed runs left after dropping
 *                                   this fraction of them at each end (sorted)
 *   rounds, keep                    measurements of the architecture, at different moments; the
 *                                   one kept ("fastest": noise only ever slows a run down)
 *   threads                         threads the runtime's products ran on (1: the single-threaded
 *                                   build; more: the threaded build, runtime/threads.ts; docs/runtime.md
 *                                   "Threads"). Older files and messages without it read as 1
 *   quant                           the model's form measured: "f32"; "int8" (every weight product
 *                                   int8 x 8-bit with i32 accumulation: docs/runtime.md, "int8
 *                                   products"; the random weights quantized linearly at 8 bits per
 *                                   output channel, as a deployed int8 model's are); or a quantized
 *                                   file's form, "linear8", "kmeans8", "kmeans4" (the random matrices
 *                                   quantized as `hat quantize` does, then run as the runtime runs
 *                                   such a file: dequantized, f32 products). Older files and
 *                                   messages without it read as "f32", as they were measured
 *   build                           the wasm build measured (hat.wasm, hat-relaxed.wasm); absent in
 *                                   a request: the measuring process's own
 *
 * Two measurements are comparable when sameProtocol says so; protocolDiff names what differs.
 */
import { z } from "zod";
import { InputError } from "./errors.js";
import { describeIssues } from "./schema-issues.js";

/**
 * The forms a measurement (and a deployed model) runs: runtime/wasm-model.ts runs them, runtime/quant.ts
 * (quantForm) says which `hat quantize` form each of the last three is.
 */
export const QUANTS = ["f32", "int8", "linear8", "kmeans8", "kmeans4"] as const;
export type Quant = (typeof QUANTS)[number];

export const Protocol = z.object({
  runs: z.number().int().min(1).max(10000),
  warmup: z.number().int().min(0).max(1000),
  vocab: z.number().int().min(8).max(1_000_000),
  src_len: z.number().int().min(1).max(1024),
  tgt_len: z.number().int().min(1).max(1024),
  beam: z.number().int().min(1).max(64),
  trim: z.number().min(0).max(0.45),
  rounds: z.number().int().min(1).max(20),
  keep: z.literal("fastest"),
  threads: z.number().int().min(1).max(16),
  quant: z.enum(QUANTS),
  build: z.string().min(1).max(64).optional(),
}).strict();
export type Protocol = z.infer<typeof Protocol>;

/** What a request gives of a protocol (a local campaign's, a search's); the rest comes from defaults. */
export const ProtocolRequest = Protocol.partial();
export type ProtocolRequest = z.infer<typeof ProtocolRequest>;

/** What the fleet's requests give (a campaign's, a deployment's): no build, each agent measures with its own. */
export const FleetProtocolRequest = ProtocolRequest.omit({ build: true });

/** The fields, in the order files write them. */
export const PROTOCOL_FIELDS = Object.keys(Protocol.shape) as readonly (keyof Protocol)[];

/**
 * HAT's protocol (HAT measured 300 runs after 5 warm-up, a trimmed mean dropping 10 % at each
 * end, source and target 30 tokens, beam 5, the WMT vocabulary of 32768), one round.
 */
export const DEFAULT_PROTOCOL: Protocol = Object.freeze({
  runs: 300, warmup: 5, vocab: 32768, src_len: 30, tgt_len: 30, beam: 5, trim: 0.1, rounds: 1, keep: "fastest", threads: 1, quant: "f32",
});

/** A deployed model's latency (agent/models.ts): the fastest of two rounds (the vocabulary is the model's). */
export const DEPLOYMENT_PROTOCOL: Protocol = Object.freeze({ ...DEFAULT_PROTOCOL, rounds: 2 });

/**
 * The fields that earlier files and messages did not record, as every measurement then was made:
 * they fill in when an older campaign CSV, predictor file or stored protocol is read (the fleet's
 * stored deployments pass rounds 2, as their agents measured).
 */
export const UNRECORDED_DEFAULTS = Object.freeze({ trim: 0.1, rounds: 1, keep: "fastest", threads: 1, quant: "f32" } as const);

/** A protocol out of range or malformed; the message starts with the field ("runs: ..."). */
export class ProtocolError extends InputError {
  override name = "ProtocolError";
}

const firstIssue = (e: z.ZodError): string => describeIssues(e.issues.slice(0, 1), "protocol");

/** The protocol, checked (ranges, integers, no unknown field). Throws a ProtocolError naming the field. */
export function checkProtocol(p: Protocol): Protocol {
  const r = Protocol.safeParse(p);
  if (!r.success) throw new ProtocolError(firstIssue(r.error));
  return r.data;
}

/** A checked protocol: `given` over `defaults`. Throws a ProtocolError naming the field. */
export function protocolOf(given: ProtocolRequest = {}, defaults: Protocol = DEFAULT_PROTOCOL): Protocol {
  return checkProtocol({ ...defaults, ...given });
}

/**
 * A protocol as stored or sent, older shapes included: fields it lacks that were not recorded
 * before (UNRECORDED_DEFAULTS) are filled in; the workload and runs must be there.
 */
export function readProtocol(stored: unknown, unrecorded: Partial<Protocol> = {}): Protocol {
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) throw new ProtocolError("protocol: expected an object");
  const r = Protocol.safeParse({ ...UNRECORDED_DEFAULTS, ...unrecorded, ...stored });
  if (!r.success) throw new ProtocolError(firstIssue(r.error));
  return r.data;
}

/** The fields whose values differ (a field absent on one side differs from any value). */
export function protocolDiff(a: Protocol, b: Protocol): (keyof Protocol)[] {
  return PROTOCOL_FIELDS.filter((k) => a[k] !== b[k]);
}

export function sameProtocol(a: Protocol, b: Protocol): boolean {
  return protocolDiff(a, b).length === 0;
}

/** What differs, for a message: "runs 3 vs 5, build hat.wasm vs (none)". */
export function describeDiff(a: Protocol, b: Protocol): string {
  const v = (x: unknown) => (x === undefined ? "(none)" : String(x));
  return protocolDiff(a, b).map((k) => `${k} ${v(a[k])} vs ${v(b[k])}`).join(", ");
}

/** One line: "300 runs after 5 warm-up (trimmed mean, 10 % each end), fastest of 1 round; vocab 32768, src 30, tgt 30, beam 5; 1 thread, f32, hat.wasm". */
export function protocolLine(p: Protocol): string {
  return `${p.runs} runs after ${p.warmup} warm-up (trimmed mean, ${+(p.trim * 100).toFixed(2)} % each end), ${p.keep} of ${p.rounds} round${p.rounds === 1 ? "" : "s"}; `
    + `vocab ${p.vocab}, src ${p.src_len}, tgt ${p.tgt_len}, beam ${p.beam}; ${p.threads} thread${p.threads === 1 ? "" : "s"}, ${p.quant}${p.build ? `, ${p.build}` : ""}`;
}
