/**
 * A profiling campaign: measure N architectures of a space on this machine with the runtime's
 * protocol (runtime/profile.ts, docs/method.md §4) and append them to a latency dataset.
 *
 *   - The architectures: the space's extremes (smallest, largest, smallest encoder with largest
 *     decoder and the reverse: the range is covered), then uniform samples (sampleArch) from a
 *     seeded generator, without repeats. The same seed gives the same list, and the list for N
 *     is the start of the list for any larger N.
 *   - Safety: each row is one write of a whole line followed by fsync. A kill loses at most the
 *     row being measured; a torn last line is cut off on the next start. Running the same command
 *     again reads the file and measures only what is missing (same device and protocol, the wasm
 *     build included, or it refuses). A file from before the protocol had its rounds and the other
 *     later columns is rewritten in today's layout on resume, its rows taking this campaign's rounds.
 *   - Rounds (`protocol.rounds`, default 1): on a busy machine (other processes taking the cores) a
 *     measurement is slowed by however busy the machine was at that moment. With rounds = K, every
 *     architecture is measured K times, in K passes over the list (so at K different moments),
 *     and its row keeps the fastest (noise only ever slows a run down). Each measurement follows
 *     the protocol (e.g. 3 rounds of 100 runs cost what 1 round of 300 does).
 *   - Warm-up: every process first runs the largest architecture, unrecorded (wasm tier-up from
 *     the baseline compiler, memory growth, caches). Once all rounds are done, a re-measure pass
 *     measures again (once) the rows that are warm-up prone or suspicious:
 *       (a) the first `sessionWarmRows` (3) rows measured by each process,
 *       (b) rows whose run-to-run spread is abnormal: std/mean of the encoder or the decoder above
 *           max(0.05, 3x that part's median over the dataset),
 *       (c) rows the dataset outlier rule flags (./outliers.ts: spikes and a warm-up prefix);
 *     (b) and (c) only in a process that measured something: a resumed campaign with nothing left
 *     to measure would judge the same noisy values again and re-measure at random.
 *     A measurement after the first is appended as a row with `pass` = its pass (round r: r - 1;
 *     the re-measure pass: K). It keeps the faster of the new and the arch's previous row and
 *     records the other total in `replaced_total_ms`; a later row of an arch supersedes earlier
 *     ones (latestPerArch), so the file is a valid dataset at every moment. Finally the file is
 *     rewritten (atomically) with one row per architecture, in first-measurement order.
 *   - Steady (runtime/steady.ts, on by default with the wasm measurement, or with an injected
 *     `reference`): every measurement is framed by the reference architecture, measured again
 *     (at most twice) while the reference runs more than 15 % slower than this process's median,
 *     and its row carries `speed` and `ref_ms` (a row that keeps an earlier measurement keeps its
 *     speed too).
 */
import { existsSync, mkdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname } from "node:path";
import { archInSpace, validateArch, validateSpace } from "../runtime/arch.js";
import { archKey, hatFeatures } from "../runtime/arch-features.js";
import { largestArch, sampleArch, smallestArch } from "../runtime/arch-sample.js";
import { profileArch, type Measurement } from "../runtime/profile.js";
import { measureSteady, primeGauge, REFERENCE_ARCH, referenceProtocol, SpeedGauge, STEADY_TOLERANCE } from "../runtime/steady.js";
import { describeDiff, protocolLine, protocolOf, sameProtocol, type Protocol, type ProtocolRequest } from "../runtime/protocol.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Arch, Space, ValidArch } from "../runtime/types.js";
import type { HatWasm } from "../runtime/wasm.js";
import { loadWasm, prepareThreads, wasmBuildFor } from "../runtime/wasm-node.js";
import {
  csvHeader, deviceLabel, latestPerArch, readDataset, RowAppender, sameDevice, thisDevice, totalMs, writeDataset,
  type Dataset, type DeviceInfo, type LatencyRow,
} from "./dataset.js";
import { findOutliers } from "./outliers.js";
import { InputError } from "../runtime/errors.js";

export class CampaignError extends InputError {
  override name = "CampaignError";
}

/** One measurement (one round) of an architecture with the protocol: what a row needs from the profiler. */
export type Measure = (arch: ValidArch, p: Protocol) => Measurement;

export interface CampaignOptions {
  space: Space;
  samples: number;
  out: string;
  seed?: number;
  /**
   * Over runtime/protocol.ts DEFAULT_PROTOCOL. `rounds`: measure every architecture this many
   * times, at different moments, keeping the fastest. `build`, recorded in rows: default the wasm
   * build loaded ("custom" with a `measure`).
   */
  protocol?: ProtocolRequest;
  /** Re-measure warm-up prone and suspicious rows at the end (default true). */
  remeasure?: boolean;
  /** Rows measured first by a process that are re-measured at the end (default 3). */
  sessionWarmRows?: number;
  /** Stop after this many measurements in this call (an interruption, for tests). */
  stopAfter?: number;
  /** The measurement (default: profileArch on one wasm instance of this process). */
  measure?: Measure;
  /**
   * One timing (ms) of the reference architecture (runtime/steady.ts; default: REFERENCE_ARCH with
   * referenceProtocol on the wasm instance of the default measurement).
   */
  reference?: (p: Protocol) => number;
  /** Steady measurements (default: on with the default measurement, or when `reference` is given). */
  steady?: boolean;
  /** The pause before a steady re-measurement (default: a timer; tests inject one). */
  sleep?: (ms: number) => Promise<void>;
  /** Device recorded in rows (default: this machine). */
  device?: DeviceInfo;
  log?: (line: string) => void;
}

export interface CampaignResult {
  out: string;
  /** Architectures of the campaign with a row. */
  measured: number;
  /** Of the campaign's N (fewer when the space has fewer distinct architectures). */
  target: number;
  /** Measurements made by this call (first measurements and re-measurements). */
  newRows: number;
  remeasured: number;
  /** Steady re-measurements: measurements taken again because the reference ran slow (runtime/steady.ts). */
  slow_remeasured: number;
  /** The median and the largest speed factor of the file's rows, when this call measured steadily. */
  speed_median?: number;
  speed_max?: number;
  complete: boolean;
  seconds: number;
  outliers: string;
}

/** The campaign's architectures: the extremes, then seeded uniform samples, no repeats. */
export function campaignArchs(space: Space, n: number, seed = 1): ValidArch[] {
  const small = smallestArch(space), large = largestArch(space);
  const mix = (enc: Arch, dec: Arch): Arch => ({
    ...dec, encoderEmbedDim: enc.encoderEmbedDim, encoderLayers: enc.encoderLayers, encoderFfnDims: enc.encoderFfnDims, encoderHeads: enc.encoderHeads,
    decoderEndeLayers: dec.decoderEndeLayers.map((k) => Math.min(k, enc.encoderLayers)),
  });
  const out: ValidArch[] = [];
  const seen = new Set<string>();
  const add = (a: Arch) => {
    const k = archKey(a);
    if (seen.has(k) || out.length >= n) return;
    let valid: ValidArch;
    try {
      valid = validateArch(a, space);
    } catch {
      return; // a mixed extreme outside the space
    }
    seen.add(k);
    out.push(valid);
  };
  [small, large, mix(small, large), mix(large, small)].forEach(add);
  const rng = mulberry32(seed);
  // a space with fewer architectures than asked: stop after 100,000 draws in a row find nothing new
  for (let misses = 0; out.length < n && misses < 100_000; ) {
    const before = out.length;
    add(sampleArch(space, rng));
    misses = out.length > before ? 0 : misses + 1;
  }
  return out;
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length & 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Rows to measure again (see the file's header), as indices into `rows` (one row per arch);
 * rows already re-measured (pass >= finalPass) are not candidates. `warmRowsOnly`: only reason (a),
 * for a process that measured nothing new: (b) and (c) were judged by the process that measured
 * the rows, and judging them again on the same noisy values would re-measure at random.
 */
export function remeasureCandidates(rows: readonly LatencyRow[], sessionWarmRows = 3, finalPass = 1, warmRowsOnly = false): { index: number; why: string }[] {
  const relE = rows.map((r) => r.encoder_std_ms / r.encoder_ms), relD = rows.map((r) => r.decoder_std_ms / r.decoder_ms);
  const limE = Math.max(0.05, 3 * median(relE)), limD = Math.max(0.05, 3 * median(relD));
  const flagged = findOutliers(rows).flagged;
  const out: { index: number; why: string }[] = [];
  rows.forEach((r, i) => {
    if ((r.pass ?? 0) >= finalPass) return;
    const why = (r.seq ?? Infinity) < sessionWarmRows ? `measured #${r.seq! + 1} in its process`
      : warmRowsOnly ? undefined
      : relE[i] > limE || relD[i] > limD ? `run-to-run spread ${(100 * Math.max(relE[i], relD[i])).toFixed(0)} % of the mean`
      : flagged[i] ? "flagged by the outlier rule" : undefined;
    if (why) out.push({ index: i, why });
  });
  return out;
}

/** profileArch on one wasm instance of this process. */
export function wasmMeasure(): Measure {
  let wasm: HatWasm | undefined;
  return (arch, p) => {
    wasm ??= loadWasm();
    return profileArch(arch, p, { wasm });
  };
}

/** Read the campaign's file (repairing a torn last line); no rows when it does not exist yet. */
function readExisting(out: string, log: (s: string) => void): Pick<Dataset, "rows" | "columns"> {
  const none = { rows: [], columns: [] };
  if (!existsSync(out) || statSync(out).size === 0) return none;
  const text = readFileSync(out, "utf8");
  if (!text.includes("\n")) {
    if (csvHeader(true).startsWith(text)) { truncateSync(out, 0); return none; } // killed while writing the header
    throw new CampaignError(`${out} exists and is not a latency dataset (no complete line): choose another --out`);
  }
  const ds = readDataset(out, { dropTruncatedTail: true, allowEmpty: true });
  if (ds.truncatedTail !== undefined) {
    log(`${out}: the last line was cut short (a kill while writing it): dropped, that architecture is measured again`);
    truncateSync(out, ds.completeBytes);
  }
  if (!ds.columns.includes("arch") || !ds.columns.includes("runs")) {
    throw new CampaignError(`${out} is a latency dataset without this project's campaign columns (arch, runs, ...): choose another --out`);
  }
  const noArch = ds.rows.findIndex((r) => !r.arch || !r.protocol);
  if (noArch >= 0) throw new CampaignError(`${out}: row ${noArch + 1} has no architecture or protocol: not a campaign file`);
  return ds;
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const space = validateSpace(o.space);
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new RangeError(`samples must be a positive integer, got ${o.samples}`);
  const protocol: Protocol = protocolOf({ build: o.measure ? "custom" : wasmBuildFor(o.protocol?.threads ?? 1), ...o.protocol });
  const { rounds, build } = protocol;
  // one instance for the whole campaign: the single-threaded build's, or this process's threaded one
  let wasm: HatWasm | undefined = !o.measure && protocol.threads > 1 ? await prepareThreads(protocol.threads) : undefined;
  const measure: Measure = o.measure ?? ((a, p) => profileArch(a, p, { wasm: (wasm ??= loadWasm()) }));
  const steadyOn = o.steady ?? (o.measure === undefined || o.reference !== undefined);
  const reference = o.reference ?? ((p: Protocol) => profileArch(REFERENCE_ARCH, referenceProtocol(p), { wasm: (wasm ??= loadWasm()) }).total_ms);
  const gauge = new SpeedGauge();
  let slowRemeasured = 0;
  const speeds: number[] = [];
  /** One measurement of `a`, steady when on (see the file's header). */
  const measureRow = async (a: ValidArch): Promise<Measurement & { speed?: number; ref_ms?: number }> => {
    if (!steadyOn) return measure(a, protocol);
    await primeGauge(gauge, protocol, { reference });
    const st = await measureSteady(a, protocol, { gauge, measure, reference, sleep: o.sleep, log });
    slowRemeasured += st.remeasured;
    speeds.push(st.speed);
    const m = st.result;
    return { encoder_ms: m.encoder_ms, decoder_ms: m.decoder_ms, encoder_std_ms: m.encoder_std_ms, decoder_std_ms: m.decoder_std_ms, speed: st.speed, ref_ms: st.ref_ms };
  };
  const device = o.device ?? thisDevice();
  const sessionWarmRows = o.sessionWarmRows ?? 3;
  const archs = campaignArchs(space, o.samples, o.seed ?? 1);
  if (archs.length < o.samples) log(`the space has only ${archs.length} distinct architectures reachable: measuring those`);
  mkdirSync(dirname(o.out) || ".", { recursive: true });

  const { rows: existing, columns } = readExisting(o.out, log);
  const oldLayout = existing.length > 0 && columns.join(",") + "\n" !== csvHeader(true);
  // a file from before the rounds column: its rows do not say, and were measured as this campaign's rounds
  if (existing.length > 0 && !columns.includes("rounds")) for (const r of existing) r.protocol = { ...r.protocol!, rounds };
  existing.forEach((r, i) => {
    const at = `${o.out}: row ${i + 1}`;
    const p = r.protocol!;
    if (r.device && !sameDevice(r.device, device)) throw new CampaignError(`${at} was measured on ${deviceLabel(r.device)}, this is ${deviceLabel(device)}: use another --out`);
    const asked = p.build === undefined ? { ...protocol, build: undefined } : protocol; // a row without its build: any
    if (!sameProtocol(p, asked)) {
      if (sameProtocol({ ...p, build }, protocol)) throw new CampaignError(`${at} was measured with ${p.build}, this process runs ${build}: use another --out`);
      throw new CampaignError(`${at} was measured with ${JSON.stringify(p)}, this campaign uses ${JSON.stringify(protocol)} (${describeDiff(p, asked)}): use the same options or another --out`);
    }
    try {
      archInSpace(r.arch!, space); // every row has one (checked above)
    } catch (e) {
      throw new CampaignError(`${at}: its architecture is not in this campaign's space (${(e as Error).message})`);
    }
  });
  if (oldLayout) {
    writeDataset(o.out, existing);
    log(`${o.out}: rewritten with this version's columns (${existing.length} rows kept)`);
  }
  const inList = new Set(archs.map(archKey));
  const have = new Set(existing.map((r) => archKey(r.arch!)));
  const strangers = [...have].filter((k) => !inList.has(k)).length;
  if (strangers > 0) log(`${o.out}: ${strangers} architectures are not in this campaign's list (another seed?): kept, not counted`);
  const pending = archs.map((a, i) => ({ a, i })).filter(({ a }) => !have.has(archKey(a)));
  log(`${o.out}: ${archs.length - pending.length} of ${archs.length} architectures measured already; ${pending.length} to go (${protocolLine(protocol)}; ${deviceLabel(device)})`);

  const appender = new RowAppender(o.out);
  let seq = 0, newRows = 0, remeasured = 0;
  const stop = () => o.stopAfter !== undefined && newRows >= o.stopAfter;
  const rowOf = (arch: ValidArch, m: Measurement & { speed?: number; ref_ms?: number }, sample: number, pass: number): LatencyRow => {
    const row: LatencyRow = {
      features: hatFeatures(arch), encoder_ms: m.encoder_ms, decoder_ms: m.decoder_ms, encoder_std_ms: m.encoder_std_ms, decoder_std_ms: m.decoder_std_ms,
      arch, protocol, device, sample, seq: seq++, pass, load1: loadavg()[0], measured_at: new Date().toISOString(),
    };
    if (m.speed !== undefined) row.speed = m.speed;
    if (m.ref_ms !== undefined) row.ref_ms = m.ref_ms;
    return row;
  };
  const speedNote = (r: LatencyRow) => (r.speed !== undefined ? `; speed ${r.speed.toFixed(2)}` : "");
  let warmed = false;
  const warmUp = () => {
    if (warmed) return;
    warmed = true;
    const t = performance.now();
    measure(largestArch(space), { ...protocol, runs: Math.max(10, Math.min(protocol.runs, 30)) });
    log(`warm-up: the largest architecture, unrecorded (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  };
  try {
    const tMeasure = performance.now();
    for (const [j, { a, i }] of pending.entries()) {
      if (stop()) break;
      warmUp();
      const row = rowOf(a, await measureRow(a), i, 0);
      appender.append(row);
      newRows++;
      const perRow = (performance.now() - tMeasure) / 1000 / (j + 1);
      log(`[${archs.length - pending.length + j + 1}/${archs.length}] ${totalMs(row).toFixed(2)} ms (encoder ${row.encoder_ms.toFixed(2)}, decoder ${row.decoder_ms.toFixed(2)}${speedNote(row)}); ETA ${Math.round(perRow * (pending.length - j - 1))} s`);
    }
    /** Measure `old`'s arch again as pass `pass`; the row keeps the faster measurement. */
    const again = async (old: LatencyRow, pass: number): Promise<{ row: LatencyRow; ms: number }> => {
      warmUp();
      const m = await measureRow(old.arch!);
      const ms = m.encoder_ms + m.decoder_ms, faster = ms < totalMs(old);
      const keep = faster ? m : { encoder_ms: old.encoder_ms, decoder_ms: old.decoder_ms, encoder_std_ms: old.encoder_std_ms, decoder_std_ms: old.decoder_std_ms, speed: old.speed, ref_ms: old.ref_ms };
      const row = { ...rowOf(old.arch!, keep, old.sample ?? -1, pass), replaced_total_ms: faster ? totalMs(old) : ms };
      appender.append(row);
      newRows++;
      return { row, ms };
    };
    const latest = () => latestPerArch(readDataset(o.out, { allowEmpty: true }).rows, archKey);
    for (let round = 1; round < rounds && !stop(); round++) {
      const byKey = new Map(latest().map((r) => [archKey(r.arch!), r]));
      const todo = archs.map((a) => byKey.get(archKey(a))!).filter((r) => r && (r.pass ?? 0) < round);
      if (todo.length > 0) log(`round ${round + 1} of ${rounds}: ${todo.length} architectures`);
      const tRound = performance.now();
      for (const [j, old] of todo.entries()) {
        if (stop()) break;
        const { row, ms } = await again(old, round);
        const perRow = (performance.now() - tRound) / 1000 / (j + 1);
        log(`[round ${round + 1}: ${j + 1}/${todo.length}] ${ms.toFixed(2)} ms (before: ${totalMs(old).toFixed(2)}; kept ${totalMs(row).toFixed(2)}); ETA ${Math.round(perRow * (todo.length - j - 1))} s`);
      }
    }
    if (!stop() && o.remeasure !== false) {
      const current = latest();
      const todo = remeasureCandidates(current, sessionWarmRows, rounds, newRows === 0);
      if (todo.length > 0) log(`re-measuring ${todo.length} rows (warm-up prone or suspicious)`);
      for (const { index, why } of todo) {
        if (stop()) break;
        const old = current[index];
        const { row, ms } = await again(old, rounds);
        remeasured++;
        log(`re-measured (${why}): ${totalMs(old).toFixed(2)} -> ${ms.toFixed(2)} ms; kept ${totalMs(row).toFixed(2)}`);
      }
    }
  } finally {
    appender.close();
  }
  const all = latestPerArch(readDataset(o.out, { allowEmpty: true }).rows, archKey);
  const measured = all.filter((r) => inList.has(archKey(r.arch!))).length;
  const complete = !stop() && measured === archs.length;
  let outliers = "";
  if (complete) {
    writeDataset(o.out, all); // one row per architecture, in measurement order
    outliers = findOutliers(all).summary;
    log(`${o.out}: ${all.length} rows; ${outliers}`);
  }
  const sorted = all.map((r) => r.speed).filter((v): v is number => v !== undefined && speeds.length > 0).sort((a, b) => a - b);
  const speedStats = sorted.length ? { speed_median: median(sorted), speed_max: sorted[sorted.length - 1] } : {};
  if (sorted.length) log(`steady: rows' speed median ${speedStats.speed_median!.toFixed(3)}, max ${speedStats.speed_max!.toFixed(3)} (${sorted.filter((v) => v > 1 + STEADY_TOLERANCE).length} above ${1 + STEADY_TOLERANCE}); ${slowRemeasured} measurement(s) taken again while the reference ran slow`);
  return { out: o.out, measured, target: archs.length, newRows, remeasured, slow_remeasured: slowRemeasured, ...speedStats, complete, seconds: (performance.now() - t0) / 1000, outliers };
}
