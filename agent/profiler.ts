/**
 * Profiling leases (ProfileWork): the lease's architectures are measured one at a time with the
 * lease's protocol (runtime/profile.ts, HAT's protocol), keeping the fastest of its `rounds`
 * measurements, the rounds interleaved across the batch. Every measurement is steady
 * (runtime/steady.ts measureSteady: framed by the reference architecture, measured again while
 * the machine runs slow, bounded) and its row carries the machine's `speed` and `ref_ms`. After
 * each architecture's last round the rows measured since the last send go to the server as one
 * chunk; the chunk's idempotency key is derived from the lease id and the chunk's indexes, so a
 * retried chunk carries the same key.
 *
 * Heartbeats: measurements give the event loop back between runs and decoder steps
 * (profileArchYielding, every SLICE_MS; the pauses are not timed), and a timer sends a heartbeat whenever the last contact (rows or heartbeat) is older
 * than lease_s / 3, so a lease outlives an architecture that takes many lease lengths to measure
 * (before: heartbeats only between architectures; with a 4 s lease and 150 runs of a large
 * architecture, every lease expired). A heartbeat also goes before a measurement when the last
 * contact is older than lease_s / 2. The batch stops when the server says the lease is over.
 */
import { loadavg } from "node:os";
import { validateArch } from "../runtime/arch.js";
import { MeasuredRow, type ProfileWork } from "../runtime/fleet-protocol.js";
import { profileArchYielding, type ProfileOptions, type ProfileResult } from "../runtime/profile.js";
import type { Protocol } from "../runtime/protocol.js";
import { measureSteady, primeGauge, SpeedGauge, type SteadyResult } from "../runtime/steady.js";
import type { ValidArch } from "../runtime/types.js";
import type { Runtimes } from "./runtimes.js";
import { AgentClient, HttpError, StoppedError, UnauthorizedError } from "./client.js";
import { errText, type Log } from "./log.js";
import { sha256Hex } from "./state.js";

/** The idempotency key of a chunk of rows: the same lease and indexes give the same key. */
export function chunkKey(leaseId: string, indexes: readonly number[]): string {
  return `rows-${sha256Hex(`${leaseId}:${indexes.join(",")}`).slice(0, 48)}`;
}

/** The process's unrecorded warm-up: measurements of at most this many runs, for at least WARMUP_MS. */
const WARMUP_RUNS = 20;
const WARMUP_MS = 2000;

/**
 * A measurement gives the event loop back (timers: the heartbeat) at least this often, between
 * runs. Short: a heartbeat's round trip needs a few turns of the loop (a yield costs microseconds).
 */
export const SLICE_MS = 50;

/**
 * Unrecorded measurements of `arch` (of at most WARMUP_RUNS runs each) for at least `ms`: the
 * engine tiers the wasm up to optimised code and the CPU's clocks settle. Returns the first
 * measurement's total (ms), the cold one. Gives the event loop back between runs, like a measurement.
 */
export async function warmUpOn(arch: ValidArch, protocol: Protocol, opts: ProfileOptions, ms: number): Promise<number> {
  const t0 = performance.now();
  const short = { ...protocol, runs: Math.min(protocol.runs, WARMUP_RUNS) };
  const o = { ...opts, sliceMs: SLICE_MS };
  const first = (await profileArchYielding(arch, short, o)).total_ms;
  while (performance.now() - t0 < ms) await profileArchYielding(arch, short, o);
  return first;
}

export interface ProfilerOptions {
  client: AgentClient;
  log: Log;
  /** The wasm instances measurements run in, by the work's threads, and their builds' names (recorded in every row). */
  runtimes: Runtimes;
  /** True once the agent is stopping. */
  stopped: () => boolean;
  /** Length of the unrecorded warm-up before the process's first measurement (default 2000 ms). */
  warmupMs?: number;
  /** The machine's speed gauge (runtime/steady.ts; default a new one): one per process, shared with deployments. */
  gauge?: SpeedGauge;
}

export interface BatchResult {
  measured: number;
  /** Rows the server stored (not counting duplicates). */
  stored: number;
  /** Rows measured but never confirmed by the server. */
  unsent: number;
  /** False when the server ended the lease (or refused its rows). */
  leaseActive: boolean;
}

export class Profiler {
  /** Measurements recorded by this process (a row's `seq`). */
  private seq = 0;
  /** Thread counts whose instance has had its unrecorded warm-up in this process. */
  private readonly warmedUp = new Set<number>();
  readonly gauge: SpeedGauge;

  constructor(private readonly o: ProfilerOptions) {
    this.gauge = o.gauge ?? new SpeedGauge();
  }

  async run(work: ProfileWork): Promise<BatchResult> {
    const { client, log, stopped } = this.o;
    const p = work.protocol, rounds = p.rounds;
    let runtime;
    try {
      runtime = await this.o.runtimes.measure(p.threads);
    } catch (e) {
      log(`lease ${work.lease_id}: no runtime for ${p.threads} threads (${errText(e)}): the lease expires and goes to another agent`);
      return { measured: 0, stored: 0, unsent: 0, leaseActive: true };
    }
    const { wasm, build } = runtime;
    const opts: ProfileOptions = { wasm, build };
    const pending: MeasuredRow[] = [];
    const res: BatchResult = { measured: 0, stored: 0, unsent: 0, leaseActive: true };
    let lastContact = performance.now();
    log(`lease ${work.lease_id} (campaign ${work.campaign_id}): ${work.archs.length} architectures, ${rounds} round(s), runs ${p.runs}, lease ${work.lease_s} s`);

    // the heartbeat while an architecture is measured (it yields between runs: see the file's header)
    const leaseMs = work.lease_s * 1000;
    let beating = false, leaseOver = false;
    const beat = setInterval(() => {
      if (beating || leaseOver || performance.now() - lastContact < leaseMs / 3) return;
      beating = true;
      client.heartbeat(work.lease_id).then((r) => {
        lastContact = performance.now();
        if (!r.lease_active) leaseOver = true;
      }, (e) => log(`lease ${work.lease_id}: heartbeat failed: ${errText(e)}`)).finally(() => { beating = false; });
    }, Math.min(Math.max(leaseMs / 6, 50), 5000));

    /** Send the pending rows as one chunk; false when the lease is over. */
    const flush = async (last = false): Promise<boolean> => {
      const indexes = pending.map((r) => r.index);
      const key = chunkKey(work.lease_id, indexes);
      try {
        const r = await client.rows(work.lease_id, { idempotency_key: key, rows: pending }, last ? { ignoreStop: true, attempts: 2, timeoutMs: 5000 } : {});
        lastContact = performance.now();
        pending.length = 0;
        res.stored += r.stored;
        if (r.duplicates) log(`lease ${work.lease_id}: ${r.duplicates} row(s) of [${indexes.join(", ")}] were already stored`);
        return r.lease_active;
      } catch (e) {
        if (e instanceof UnauthorizedError || e instanceof StoppedError) throw e;
        log(`lease ${work.lease_id}: rows [${indexes.join(", ")}] not sent (${errText(e)}); kept for the next chunk`);
        // a 4xx means the server will not take rows for this lease: stop measuring for it
        return !(e instanceof HttpError && e.status >= 400 && e.status < 500);
      }
    };

    // the lease's valid architectures; an invalid one is skipped (the server gives it up after its leases)
    const archs: { index: number; a: ValidArch }[] = [];
    for (const { index, arch } of work.archs) {
      try {
        archs.push({ index, a: validateArch(arch) });
      } catch (e) {
        log(`lease ${work.lease_id}: architecture ${index} skipped: ${errText(e)}`);
      }
    }
    const best = new Map<number, SteadyResult<ProfileResult>>();
    try {
      // Rounds go across the batch (round 1 of every architecture, then round 2, ...), so a burst
      // of load on the machine lasting a few seconds spoils one round of an architecture, not all
      // of them; a row is sent as soon as its architecture's last round is measured.
      rounds: for (let round = 0; round < rounds; round++) {
        for (const { index, a } of archs) {
          if (stopped()) break rounds;
          if (leaseOver) { res.leaseActive = false; break rounds; }
          if (round > 0 && !best.has(index)) continue; // its first round failed
          if (performance.now() - lastContact > (work.lease_s * 1000) / 2) {
            if (!(await this.heartbeatOk(work))) { res.leaseActive = false; break rounds; }
            lastContact = performance.now();
          }
          if (!this.warmedUp.has(p.threads)) {
            await this.warmUp(a, p, opts);
            if (!(await this.heartbeatOk(work))) { res.leaseActive = false; break rounds; }
            lastContact = performance.now();
          }
          const m = await this.measureOnce(a, index, p, opts);
          if (!m) { best.delete(index); continue; }
          const prev = best.get(index);
          if (!prev || m.result.total_ms < prev.result.total_ms) best.set(index, m);
          if (round < rounds - 1) continue;
          const row = this.rowOf(index, best.get(index)!, build);
          if (!row) continue;
          pending.push(row);
          res.measured++;
          if (!(await flush())) { res.leaseActive = false; break rounds; }
        }
      }
    } catch (e) {
      if (!(e instanceof StoppedError)) throw e;
    } finally {
      clearInterval(beat);
    }
    if (pending.length && res.leaseActive) await flush(true).catch((e) => log(`lease ${work.lease_id}: last rows not sent: ${errText(e)}`));
    res.unsent = pending.length;
    log(`lease ${work.lease_id}: ${res.measured} measured, ${res.stored} stored${res.unsent ? `, ${res.unsent} unsent` : ""}${res.leaseActive ? "" : " (lease over)"}`);
    return res;
  }

  /**
   * The process's one unrecorded warm-up, for at least warmupMs: the engine tiers the wasm up to
   * optimised code and the CPU's clocks settle (a demo campaign's first ~20 rows measured up to 2x
   * slow without it). Yields like a measurement; a heartbeat follows it.
   */
  private async warmUp(a: ValidArch, p: Protocol, opts: ProfileOptions): Promise<void> {
    try {
      await warmUpOn(a, p, opts, this.o.warmupMs ?? WARMUP_MS);
    } catch (e) {
      this.o.log(`warm-up failed: ${errText(e)}`);
    }
    this.warmedUp.add(p.threads);
  }

  /** A heartbeat; false when the server says the lease is over (errors other than 401/stop: assume it is not). */
  private async heartbeatOk(work: ProfileWork): Promise<boolean> {
    try {
      return (await this.o.client.heartbeat(work.lease_id)).lease_active;
    } catch (e) {
      if (e instanceof UnauthorizedError || e instanceof StoppedError) throw e;
      this.o.log(`lease ${work.lease_id}: heartbeat failed: ${errText(e)}`);
      return true;
    }
  }

  /** One steady measurement of one round (undefined when it failed or the agent stops meanwhile). */
  private async measureOnce(a: ValidArch, index: number, p: Protocol, opts: ProfileOptions): Promise<SteadyResult<ProfileResult> | undefined> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // let signals and /translate in between
    if (this.o.stopped()) return undefined;
    try {
      const profile = { ...opts, sliceMs: SLICE_MS };
      await primeGauge(this.gauge, p, { profile }); // once per reference: the first rows can be judged too
      return await measureSteady(a, p, {
        gauge: this.gauge, profile, measure: (x, q) => profileArchYielding(x, q, profile),
        log: (l) => this.o.log(`architecture ${index}: ${l}`),
      });
    } catch (e) {
      this.o.log(`architecture ${index}: measurement failed: ${errText(e)}`);
      return undefined;
    }
  }

  /** The row of an architecture's fastest measurement (checked against the contract). */
  private rowOf(index: number, steady: SteadyResult<ProfileResult>, build: string): MeasuredRow | undefined {
    const best = steady.result;
    const row = MeasuredRow.safeParse({
      index, encoder_ms: best.encoder_ms, decoder_ms: best.decoder_ms, encoder_std_ms: best.encoder_std_ms,
      decoder_std_ms: best.decoder_std_ms, runs: best.protocol.runs, build: build.slice(0, 64), load1: loadavg()[0], seq: this.seq,
      speed: steady.speed, ref_ms: steady.ref_ms,
    });
    if (!row.success) {
      this.o.log(`architecture ${index}: bad measurement: ${row.error.issues[0]?.message}`);
      return undefined;
    }
    this.seq++;
    return row.data;
  }

}
