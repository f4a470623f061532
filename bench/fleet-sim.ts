/**
 * Simulated agents for the fleet load test (bench/fleet-load.ts): many cheap agents in one
 * process, each speaking the real fleet protocol (runtime/fleet-protocol.ts) over real HTTP
 * through the agent's own client (agent/client.ts AgentClient: timeouts, retries with backoff,
 * every reply checked against the contract's schema). Only the measuring is fake.
 *
 * One simulated agent:
 *   1. POST /v1/agent/enrol with its one-time enrolment token (and a request id, as the agent does),
 *   2. POST /v1/agent/hello,
 *   3. loops on GET /v1/agent/work?wait_s=W (the long poll). A profiling lease's architectures are
 *      "measured" one at a time (a sleep of `measureMs`; the row's numbers are fakeRow(index), a
 *      function of the index only, so the harness can check every stored row against it), with a
 *      heartbeat before every `heartbeatEvery`-th architecture and whenever the last contact is
 *      older than lease_s / 3 (the real agent's rule); after each architecture its row goes as one
 *      chunk with the agent's idempotency key (the lease id and the indexes). A fraction
 *      `replay` of the chunks is sent a second time with the same key (as after a reply lost on
 *      the way): the server must store nothing again and give the first reply back.
 *   Stopping (the signal) abandons long polls, heartbeats and fake measurements, but a rows
 *   request already sent is finished (as the agent's last flush), so every stored row's
 *   acknowledgement is counted.
 *   Deploy work is answered `failed` (the load test deploys nothing).
 */
import { createHash, randomBytes } from "node:crypto";
import { AgentClient, StoppedError } from "../agent/client.js";
import type { Hardware, MeasuredRow, ProfileWork } from "../runtime/fleet-protocol.js";

export interface SimOptions {
  server: string;
  /** One enrolment token per simulated agent (bound to the device class by the admin). */
  enrolmentTokens: readonly string[];
  /** Names are `${namePrefix}${i}`. */
  namePrefix: string;
  /** Fake measurement time per architecture (ms); 0: as fast as the server answers. */
  measureMs: number;
  /** A heartbeat before every this-many architectures (0: only the real agent's lease_s / 3 rule). */
  heartbeatEvery: number;
  /** The fraction (0..1) of row chunks sent twice with the same idempotency key. */
  replay: number;
  /** The long poll's wait_s. */
  waitS: number;
  /** Stops every agent (their long polls are abandoned). */
  signal: AbortSignal;
  /** Per-request timeout for short requests (ms). */
  timeoutMs?: number;
}

/** What the simulated agents saw, summed over them (latencies in ms, unsorted). */
export interface SimStats {
  agents: number;
  enrolled: number;
  enrolMs: number[];
  /** GET /v1/agent/work answered 200 with a profiling lease: request to reply. */
  leaseMs: number[];
  /** POST rows: request to reply (first sends only). */
  rowsMs: number[];
  heartbeatMs: number[];
  emptyPolls: number;
  leases: number;
  /** Rows the server said it stored (sum of `stored` over first sends). */
  acked: number;
  /** (campaign, index) pairs acknowledged as stored, as "campaign:index", to check none twice. */
  ackedKeys: string[];
  /** Rows the server called duplicates on a first send. */
  duplicates: number;
  replays: number;
  /** Replays the server answered otherwise than the first send (it must give the first reply back). */
  replayMismatch: number;
  heartbeats: number;
  /** Requests retried by the client (network error, 5xx, 429, timeout), from its log. */
  retries: number;
  /** Errors that ended an agent (not a stop). */
  errors: string[];
  cpuUserMs: number;
  cpuSystemMs: number;
  rssPeakBytes: number;
}

export const emptyStats = (): SimStats => ({
  agents: 0, enrolled: 0, enrolMs: [], leaseMs: [], rowsMs: [], heartbeatMs: [], emptyPolls: 0, leases: 0,
  acked: 0, ackedKeys: [], duplicates: 0, replays: 0, replayMismatch: 0, heartbeats: 0, retries: 0, errors: [],
  cpuUserMs: 0, cpuSystemMs: 0, rssPeakBytes: 0,
});

/** Sums `b` into `a`. */
export function mergeStats(a: SimStats, b: SimStats): SimStats {
  a.agents += b.agents; a.enrolled += b.enrolled; a.emptyPolls += b.emptyPolls; a.leases += b.leases;
  a.acked += b.acked; a.duplicates += b.duplicates; a.replays += b.replays; a.replayMismatch += b.replayMismatch;
  a.heartbeats += b.heartbeats; a.retries += b.retries; a.cpuUserMs += b.cpuUserMs; a.cpuSystemMs += b.cpuSystemMs;
  a.rssPeakBytes = Math.max(a.rssPeakBytes, b.rssPeakBytes);
  for (const k of ["enrolMs", "leaseMs", "rowsMs", "heartbeatMs", "ackedKeys", "errors"] as const) {
    for (const v of b[k] as unknown[]) (a[k] as unknown[]).push(v);
  }
  return a;
}

export const SIM_HARDWARE: Hardware = {
  cpu: "Simulated CPU (bench/fleet-sim.ts)", cores: 4, arch: "x64", platform: "linux", memory_bytes: 4 << 30,
  wasm_simd: true, wasm_relaxed_simd: false, node: process.versions.node, agent_version: "0.1.0-sim",
};

/** The fake measurement of architecture `index`: a function of the index only (the harness checks stored rows against it). */
export function fakeRow(index: number): MeasuredRow {
  const enc = 1 + (index % 97) / 10, dec = 2 + (index % 89) / 10;
  return { index, encoder_ms: enc, decoder_ms: dec, encoder_std_ms: enc / 100, decoder_std_ms: dec / 100, runs: 300, build: "sim.wasm", load1: 0, seq: index };
}

/** The agent's idempotency key of a chunk (as agent/profiler.ts chunkKey: the lease id and the chunk's indexes). */
export function simChunkKey(leaseId: string, indexes: readonly number[]): string {
  return `rows-${createHash("sha256").update(`${leaseId}:${indexes.join(",")}`).digest("hex").slice(0, 48)}`;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (ms <= 0 || signal.aborted) return resolve();
  const t = setTimeout(done, ms);
  function done() {
    clearTimeout(t);
    signal.removeEventListener("abort", done);
    resolve();
  }
  signal.addEventListener("abort", done, { once: true });
});

/** Runs one simulated agent per enrolment token until `signal` aborts; resolves with their stats. */
export async function simulateAgents(o: SimOptions): Promise<SimStats> {
  const stats = emptyStats();
  stats.agents = o.enrolmentTokens.length;
  const cpu0 = process.cpuUsage();
  const rssTimer = setInterval(() => { stats.rssPeakBytes = Math.max(stats.rssPeakBytes, process.memoryUsage.rss()); }, 250);
  const log = (line: string) => { if (/retrying in/.test(line)) stats.retries++; };
  let replayRng = 0x9e3779b9;
  const nextReplay = () => { // xorshift: a reproducible choice of the replayed chunks
    replayRng ^= replayRng << 13; replayRng ^= replayRng >>> 17; replayRng ^= replayRng << 5;
    return (replayRng >>> 0) / 2 ** 32;
  };

  const one = async (token: string, i: number): Promise<void> => {
    const client = new AgentClient({ server: o.server, log, signal: o.signal, timeoutMs: o.timeoutMs ?? 30_000, backoff: { baseMs: 200, capMs: 4000 } });
    let t0 = performance.now();
    const me = await client.enrol({ enrolment_token: token, name: `${o.namePrefix}${i}`, hardware: SIM_HARDWARE, request_id: `sim-${randomBytes(8).toString("hex")}` });
    stats.enrolMs.push(performance.now() - t0);
    stats.enrolled++;
    client.token = me.token;
    await client.hello({ hardware: SIM_HARDWARE });
    while (!o.signal.aborted) {
      t0 = performance.now();
      const work = await client.work(o.waitS);
      const ms = performance.now() - t0;
      if (!work) { stats.emptyPolls++; continue; }
      if (work.kind === "deploy") {
        await client.reportDeployment(work.deployment_id, { state: "failed", error: "a simulated agent (bench/fleet-sim.ts) deploys nothing" });
        continue;
      }
      stats.leaseMs.push(ms);
      stats.leases++;
      await measureLease(client, work);
    }
  };

  const measureLease = async (client: AgentClient, work: ProfileWork): Promise<void> => {
    let lastContact = performance.now(), n = 0;
    for (const { index } of work.archs) {
      if (o.signal.aborted) return;
      if ((o.heartbeatEvery > 0 && n % o.heartbeatEvery === 0) || performance.now() - lastContact > (work.lease_s * 1000) / 3) {
        const t0 = performance.now();
        const hb = await client.heartbeat(work.lease_id);
        stats.heartbeatMs.push(performance.now() - t0);
        stats.heartbeats++;
        lastContact = performance.now();
        if (!hb.lease_active) return;
      }
      n++;
      await sleep(o.measureMs, o.signal); // the fake measurement
      if (o.signal.aborted) return;
      const req = { idempotency_key: simChunkKey(work.lease_id, [index]), rows: [fakeRow(index)] };
      const t0 = performance.now();
      const r = await client.rows(work.lease_id, req, { ignoreStop: true });
      stats.rowsMs.push(performance.now() - t0);
      lastContact = performance.now();
      stats.acked += r.stored;
      stats.duplicates += r.duplicates;
      if (r.stored > 0) stats.ackedKeys.push(`${work.campaign_id}:${index}`);
      if (o.replay > 0 && nextReplay() < o.replay) {
        const again = await client.rows(work.lease_id, req, { ignoreStop: true });
        stats.replays++;
        if (again.stored !== r.stored || again.duplicates !== r.duplicates || again.lease_active !== r.lease_active) stats.replayMismatch++;
      }
      if (!r.lease_active) return;
    }
  };

  await Promise.all(o.enrolmentTokens.map((t, i) => one(t, i).catch((e) => {
    if (!(e instanceof StoppedError) && !o.signal.aborted) stats.errors.push(`agent ${o.namePrefix}${i}: ${(e as Error).message}`);
  })));
  clearInterval(rssTimer);
  const cpu = process.cpuUsage(cpu0);
  stats.cpuUserMs = cpu.user / 1000;
  stats.cpuSystemMs = cpu.system / 1000;
  stats.rssPeakBytes = Math.max(stats.rssPeakBytes, process.memoryUsage.rss());
  return stats;
}
