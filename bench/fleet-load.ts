/**
 * The fleet load test: the real server (server/app.ts listen, on 127.0.0.1, a fresh data
 * directory) against N simulated agents (bench/fleet-sim.ts: the real protocol over real HTTP,
 * fake measurements), in this process or spread over child processes, on one or more campaigns
 * big enough to keep them busy. It reports, as one JSON line on stdout:
 *
 *   - rows stored per second (overall, and per tenth of the campaign: does it slow down as the
 *     tables grow?), from the rows' own measured_at stamps;
 *   - lease hand-out latency (GET /v1/agent/work answered with a lease) p50/p99/max, and the same
 *     for rows, heartbeats and enrolment;
 *   - lost and duplicate rows: every campaign's dataset (the CSV artifact the job stored) checked
 *     against its indexes 0..size-1 (each exactly once, each row's numbers the fake measurement of
 *     its index), the rows table likewise, every (campaign, index) acknowledged as stored at most
 *     once, the agents' acknowledgements summing to the rows stored, and every replayed chunk
 *     (same idempotency key) answered with its first reply;
 *   - the server process: RSS (start, peak), CPU seconds and share of one core, event loop lag
 *     (p50/p99/max), open file descriptors and HTTP connections (peak), 5xx/retries seen by the
 *     agents; with --idle-s, the cost of N agents long-polling with no work.
 *
 * The server runs in this process, so with --procs 0 (agents in this process too) its numbers
 * include the agents'; give --procs >= 1 for the server's own.
 *
 *   npm run bench:fleet -- --agents 1000 --archs 20000 --procs 1
 *   npm run bench:fleet -- --help
 *
 * docs/scaling.md has the measured numbers and what breaks first.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { parseDataset } from "../latency/dataset.js";
import { BUILTIN_SPACE_NAMES, type BuiltinSpaceName } from "../runtime/spaces.js";
import { listen } from "../server/app.js";
import { hashToken, newToken } from "../server/auth.js";
import { HatClient } from "../server/client.js";
import { emptyStats, fakeRow, mergeStats, simulateAgents, type SimOptions, type SimStats } from "./fleet-sim.js";

export interface LoadOptions {
  /** Simulated agents. */
  agents: number;
  /** Architectures per campaign. */
  archs: number;
  /** Campaigns (jobs) on the agents' device class, started together. */
  campaigns: number;
  /** Fake measurement time per architecture (ms); 0 saturates the server. */
  measureMs: number;
  /** A heartbeat before every this-many architectures (0: only when lease_s / 3 passed). */
  heartbeatEvery: number;
  /** Fraction of row chunks sent twice with the same idempotency key. */
  replay: number;
  /** Child processes for the agents (0: in this process, beside the server). */
  procs: number;
  /** Architectures per lease (the server's leaseBatch). */
  leaseBatch: number;
  /** The long poll's wait (s; the server's maxWaitSeconds). */
  waitS: number;
  /** Seconds of idle long polls measured after the campaigns are done (0: none). */
  idleS: number;
  /** Give up after this many seconds of campaign. */
  maxS: number;
  space: BuiltinSpaceName;
  /**
   * The server database's synchronous pragma: "full" is what the server runs (an fsync per
   * commit); "normal" is a diagnostic (no fsync per commit in WAL: survives a process kill, not a
   * power loss), to see what the fsyncs cost.
   */
  sync: "full" | "normal";
  /** Progress lines (stderr). */
  log?: (line: string) => void;
}

export const DEFAULT_LOAD: LoadOptions = {
  agents: 10, archs: 2000, campaigns: 1, measureMs: 0, heartbeatEvery: 3, replay: 0.05, procs: 1, leaseBatch: 5,
  waitS: 5, idleS: 0, maxS: 600, space: "wmt14", sync: "full",
};

interface Pct { n: number; p50: number; p99: number; max: number }

export interface CampaignCheck {
  job: string;
  state: string;
  size: number;
  /** Rows in the job's dataset (the CSV artifact). */
  dataset_rows: number;
  /** Indexes 0..size-1 with no row in the dataset. */
  lost: number;
  /** Dataset rows whose index is another row's too. */
  duplicates: number;
  /** Rows whose numbers are not the fake measurement of their index (a row stored under the wrong index). */
  mismatched: number;
  /** Indexes missing from the rows table. */
  db_lost: number;
  failed_indexes: number;
}

export interface LoadSummary {
  bench: "fleet-load";
  options: Omit<LoadOptions, "log">;
  ok: boolean;
  problems: string[];
  rows_stored: number;
  /** From the first stored row to the last. */
  seconds: number;
  rows_per_s: number;
  /** Rows per second in each tenth of the rows (by their measured_at). */
  rows_per_s_by_tenth: number[];
  /** The agents' own requests per second (work, rows, replays, heartbeats) over the campaign. */
  requests_per_s: number;
  lost: number;
  duplicates: number;
  mismatched: number;
  /** (campaign, index) pairs the server acknowledged as stored twice. */
  acked_twice: number;
  replays: number;
  /** Replays answered otherwise than their first send (must be 0: a replay gets the first reply, nothing stored again). */
  replays_mismatched: number;
  latency_ms: { lease: Pct; rows: Pct; heartbeat: Pct; enrol: Pct };
  leases: number;
  empty_polls: number;
  retries: number;
  agent_errors: string[];
  server: {
    rss_start_mb: number;
    rss_peak_mb: number;
    rss_end_mb: number;
    heap_peak_mb: number;
    /** CPU seconds of the server process during the campaign, and as a share of one core. */
    cpu_s: number;
    cpu_core_share: number;
    event_loop_lag_ms: { p50: number; p99: number; max: number };
    fds_peak: number;
    connections_peak: number;
    state_db_mb: number;
    /** With --idle-s: the server's share of one core, and its lag, while every agent long-polls with nothing to do. */
    idle?: { seconds: number; cpu_core_share: number; event_loop_lag_p99_ms: number; requests_per_s: number };
    log_sample: string[];
  };
  agents_side: { cpu_s: number; rss_peak_mb: number; processes: number };
  /** One SQLite commit on the data directory's disk (ms): FULL is what the server does. */
  disk_commit_ms: { full_ms: number; normal_ms: number };
  campaigns: CampaignCheck[];
  wall_s: number;
}

function pct(xs: number[]): Pct {
  if (xs.length === 0) return { n: 0, p50: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(s[s.length - 1]) };
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const mb = (b: number) => round(b / 2 ** 20, 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fdCount(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return -1; // not Linux
  }
}

/**
 * What one commit costs on the data directory's disk (ms): the server commits every agent request
 * (synchronous=FULL: an fsync of the WAL each), so this bounds its request rate. NORMAL for
 * comparison (WAL, no fsync per commit: survives a process kill, not a power loss).
 */
function commitCost(dir: string, n = 100): { full_ms: number; normal_ms: number } {
  const file = join(dir, "commit-probe.db");
  const db = new Database(file);
  try {
    db.pragma("journal_mode = WAL");
    db.exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)`);
    const up = db.prepare(`INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)`);
    const time = (mode: string) => {
      db.pragma(`synchronous = ${mode}`);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) up.run(i % 10, i);
      return round((performance.now() - t0) / n, 3);
    };
    return { full_ms: time("FULL"), normal_ms: time("NORMAL") };
  } finally {
    db.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  }
}

/** The agents, in `procs` child processes (or here); `stop()` ends them and sums their stats. */
function startAgents(o: LoadOptions, server: string, tokens: string[]): { stop(): Promise<SimStats> } {
  const base: Omit<SimOptions, "signal" | "enrolmentTokens" | "namePrefix"> = {
    server, measureMs: o.measureMs, heartbeatEvery: o.heartbeatEvery, replay: o.replay, waitS: o.waitS,
  };
  if (o.procs === 0) {
    const ac = new AbortController();
    const done = simulateAgents({ ...base, enrolmentTokens: tokens, namePrefix: "sim-", signal: ac.signal });
    return { async stop() { ac.abort(); return done; } };
  }
  const children: { child: ChildProcess; done: Promise<SimStats> }[] = [];
  const per = Math.ceil(tokens.length / o.procs);
  for (let p = 0; p < o.procs; p++) {
    const slice = tokens.slice(p * per, (p + 1) * per);
    if (slice.length === 0) break;
    const child = fork(fileURLToPath(new URL("./fleet-sim-child.ts", import.meta.url)), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const done = new Promise<SimStats>((resolve, reject) => {
      child.on("message", (m: { type: string; stats?: SimStats; message?: string }) => {
        if (m.type === "stats") resolve(m.stats!);
        else if (m.type === "error") reject(new Error(`agents' process ${p}: ${m.message}`));
      });
      child.on("exit", (code) => reject(new Error(`agents' process ${p} exited (${code}) before its stats`)));
    });
    done.catch(() => {}); // seen by stop(); not an unhandled rejection meanwhile
    child.send({ type: "start", options: { ...base, enrolmentTokens: slice, namePrefix: `sim-${p}-` } });
    children.push({ child, done });
  }
  return {
    async stop() {
      for (const c of children) c.child.send({ type: "stop" });
      const all = await Promise.all(children.map((c) => c.done));
      return all.reduce(mergeStats, emptyStats());
    },
  };
}

/** One load run (see the file's header). */
export async function runFleetLoad(given: Partial<LoadOptions> = {}): Promise<LoadSummary> {
  const o: LoadOptions = { ...DEFAULT_LOAD, ...given };
  checkOptions(o);
  const say = o.log ?? (() => {});
  const wall0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "hat-fleet-load-"));
  const admin = newToken("admin");
  const disk = commitCost(dir);
  say(`fleet-load: a commit costs ${disk.full_ms} ms on ${dir} (synchronous=FULL; NORMAL: ${disk.normal_ms} ms)`);
  const logSample: string[] = [];
  let enrolledLines = 0;
  const s = await listen({
    dataDir: dir, adminTokenHash: hashToken(admin), port: 0, maxWaitSeconds: o.waitS, leaseBatch: o.leaseBatch,
    log: (line) => {
      if (/ enrolled in class /.test(line)) enrolledLines++;
      else if (logSample.length < 20) logSample.push(line.slice(0, 300));
    },
  });
  const problems: string[] = [];
  try {
    if (o.sync === "normal") s.ctx.db.pragma("synchronous = NORMAL"); // the diagnostic (see LoadOptions.sync)
    const api = new HatClient(s.url, admin);
    const deviceClass = "load";
    say(`fleet-load: server ${s.url}, data ${dir}; minting ${o.agents} enrolment tokens`);
    const tokens: string[] = [];
    for (let i = 0; i < o.agents; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, o.agents - i) }, () =>
        api.post<{ token: string }>("/v1/enrolment-tokens", { device_class: deviceClass })));
      tokens.push(...batch.map((b) => b.token));
    }
    const jobs: string[] = [];
    for (let c = 0; c < o.campaigns; c++) {
      const job = await api.job("campaign", { device_class: deviceClass, space: o.space, samples: o.archs, seed: 1 + c });
      jobs.push(job.id);
    }
    // the campaigns' architectures in the database before the agents start (that insert is not the load)
    const sizes: number[] = [];
    for (const id of jobs) {
      for (;;) {
        const c = s.ctx.db.prepare(`SELECT size FROM campaigns WHERE job_id = ?`).get(id) as { size: number } | undefined;
        if (c) { sizes.push(c.size); break; }
        const j = s.runner.get(id);
        if (j && j.state !== "queued" && j.state !== "running") throw new Error(`campaign ${id} ended before it started: ${j.state} ${j.error ?? ""}`);
        await sleep(50);
      }
    }
    const total = sizes.reduce((a, b) => a + b, 0);
    say(`fleet-load: ${jobs.length} campaign(s), ${total} architectures; starting ${o.agents} agents in ${o.procs === 0 ? "this process" : `${Math.min(o.procs, o.agents)} process(es)`}`);

    // ---- the server's gauges
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const rssStart = process.memoryUsage.rss();
    let rssPeak = rssStart, heapPeak = 0, fdsPeak = 0, connPeak = 0;
    const gauge = setInterval(() => {
      const m = process.memoryUsage();
      rssPeak = Math.max(rssPeak, m.rss);
      heapPeak = Math.max(heapPeak, m.heapUsed);
      fdsPeak = Math.max(fdsPeak, fdCount());
      s.server.getConnections((e, n) => { if (!e) connPeak = Math.max(connPeak, n); });
    }, 250);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const agents = startAgents(o, s.url, tokens);

    // ---- until every campaign is done
    let timedOut = false, lastSaid = 0;
    for (;;) {
      const states = jobs.map((id) => s.runner.get(id)!.state);
      if (states.every((st) => st !== "queued" && st !== "running")) break;
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed > o.maxS) { timedOut = true; break; }
      if (elapsed - lastSaid >= 5) {
        lastSaid = elapsed;
        const rows = (s.ctx.db.prepare(`SELECT COUNT(*) AS n FROM latency_rows`).get() as { n: number }).n;
        say(`fleet-load: ${elapsed.toFixed(0)} s: ${rows}/${total} rows; rss ${mb(process.memoryUsage.rss())} MB; lag p99 ${round(lag.percentile(99) / 1e6)} ms`);
      }
      await sleep(100);
    }
    const busyS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const lagBusy = { p50: round(lag.percentile(50) / 1e6), p99: round(lag.percentile(99) / 1e6), max: round(lag.max / 1e6) };
    if (timedOut) problems.push(`the campaigns did not finish within --max-s ${o.maxS} s`);

    // ---- idle: every agent long-polls with nothing to do
    let idle: LoadSummary["server"]["idle"];
    if (o.idleS > 0 && !timedOut) {
      lag.reset();
      const c0 = process.cpuUsage(), i0 = performance.now();
      let requests = 0;
      const counter = (req: unknown) => { void req; requests++; };
      s.server.on("request", counter);
      await sleep(o.idleS * 1000);
      s.server.off("request", counter);
      const c = process.cpuUsage(c0), secs = (performance.now() - i0) / 1000;
      idle = { seconds: round(secs, 1), cpu_core_share: round((c.user + c.system) / 1e6 / secs, 3), event_loop_lag_p99_ms: round(lag.percentile(99) / 1e6), requests_per_s: round(requests / secs, 1) };
    }
    const sim = await agents.stop();
    clearInterval(gauge);
    lag.disable();

    // ---- checks
    const campaigns: CampaignCheck[] = jobs.map((id, c) => checkCampaign(s, id, sizes[c]));
    const { db } = s.ctx;
    const rowsStored = (db.prepare(`SELECT COUNT(*) AS n FROM latency_rows`).get() as { n: number }).n;
    const stamps = (db.prepare(`SELECT measured_at AS t FROM latency_rows ORDER BY measured_at`).all() as { t: number }[]).map((r) => r.t);
    const seconds = stamps.length > 1 ? (stamps[stamps.length - 1] - stamps[0]) / 1000 : 0;
    const byTenth: number[] = [];
    for (let k = 0; k < 10 && stamps.length >= 20; k++) {
      const a = Math.floor((k * stamps.length) / 10), b = Math.floor(((k + 1) * stamps.length) / 10) - 1;
      const dt = (stamps[b] - stamps[a]) / 1000;
      byTenth.push(dt > 0 ? round((b - a) / dt, 0) : 0);
    }
    const acked = new Set<string>();
    let ackedTwice = 0;
    for (const k of sim.ackedKeys) { if (acked.has(k)) ackedTwice++; acked.add(k); }
    const lost = campaigns.reduce((a, c) => a + c.lost + c.db_lost, 0);
    const duplicates = campaigns.reduce((a, c) => a + c.duplicates, 0);
    const mismatched = campaigns.reduce((a, c) => a + c.mismatched, 0);
    for (const c of campaigns) {
      if (c.state !== "done") problems.push(`campaign ${c.job} is ${c.state}`);
      if (c.lost || c.db_lost) problems.push(`campaign ${c.job}: ${c.lost} index(es) missing from its dataset, ${c.db_lost} from the rows table`);
      if (c.duplicates) problems.push(`campaign ${c.job}: ${c.duplicates} duplicate row(s) in its dataset`);
      if (c.mismatched) problems.push(`campaign ${c.job}: ${c.mismatched} row(s) not the measurement of their index`);
      if (c.failed_indexes) problems.push(`campaign ${c.job}: ${c.failed_indexes} index(es) given up`);
    }
    if (ackedTwice) problems.push(`${ackedTwice} (campaign, index) pair(s) acknowledged as stored twice`);
    if (sim.replayMismatch) problems.push(`${sim.replayMismatch} replayed chunk(s) (same idempotency key) answered otherwise than the first send`);
    if (sim.acked !== rowsStored) problems.push(`the agents were told ${sim.acked} rows were stored; the table holds ${rowsStored}`);
    if (sim.errors.length) problems.push(`${sim.errors.length} agent(s) ended with an error (first: ${sim.errors[0]})`);
    if (sim.enrolled !== o.agents) problems.push(`${sim.enrolled} of ${o.agents} agents enrolled`);
    if (enrolledLines !== o.agents) problems.push(`the server logged ${enrolledLines} enrolments for ${o.agents} agents`);

    const requests = sim.leases + sim.emptyPolls + sim.rowsMs.length + sim.replays + sim.heartbeats;
    const dbSize = (db.prepare(`SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()`).get() as { n: number }).n;
    const summary: LoadSummary = {
      bench: "fleet-load", options: stripLog(o), ok: problems.length === 0, problems,
      rows_stored: rowsStored, seconds: round(seconds, 2), rows_per_s: seconds > 0 ? round(rowsStored / seconds, 1) : 0,
      rows_per_s_by_tenth: byTenth, requests_per_s: round(requests / busyS, 1),
      lost, duplicates, mismatched, acked_twice: ackedTwice, replays: sim.replays, replays_mismatched: sim.replayMismatch,
      latency_ms: { lease: pct(sim.leaseMs), rows: pct(sim.rowsMs), heartbeat: pct(sim.heartbeatMs), enrol: pct(sim.enrolMs) },
      leases: sim.leases, empty_polls: sim.emptyPolls, retries: sim.retries, agent_errors: sim.errors.slice(0, 5),
      server: {
        rss_start_mb: mb(rssStart), rss_peak_mb: mb(rssPeak), rss_end_mb: mb(process.memoryUsage.rss()), heap_peak_mb: mb(heapPeak),
        cpu_s: round((cpu.user + cpu.system) / 1e6, 1), cpu_core_share: round((cpu.user + cpu.system) / 1e6 / busyS, 3),
        event_loop_lag_ms: lagBusy, fds_peak: fdsPeak, connections_peak: connPeak, state_db_mb: mb(dbSize),
        ...(idle ? { idle } : {}), log_sample: logSample,
      },
      agents_side: { cpu_s: round((sim.cpuUserMs + sim.cpuSystemMs) / 1000, 1), rss_peak_mb: mb(sim.rssPeakBytes), processes: o.procs === 0 ? 0 : Math.min(o.procs, o.agents) },
      disk_commit_ms: disk, campaigns, wall_s: round((performance.now() - wall0) / 1000, 1),
    };
    return summary;
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The campaign's dataset and rows table against its indexes 0..size-1. */
function checkCampaign(s: Awaited<ReturnType<typeof listen>>, id: string, size: number): CampaignCheck {
  const job = s.runner.get(id)!;
  const dbIdx = new Set((s.ctx.db.prepare(`SELECT idx FROM latency_rows WHERE job_id = ?`).all(id) as { idx: number }[]).map((r) => r.idx));
  let dbLost = 0;
  for (let i = 0; i < size; i++) if (!dbIdx.has(i)) dbLost++;
  const out: CampaignCheck = { job: id, state: job.state, size, dataset_rows: 0, lost: size, duplicates: 0, mismatched: 0, db_lost: dbLost, failed_indexes: 0 };
  const result = job.result as { failed_indexes?: number[] } | null;
  out.failed_indexes = result?.failed_indexes?.length ?? 0;
  const sha = job.artifacts.dataset;
  if (!sha) return out; // no dataset: every index lost
  const ds = parseDataset(s.ctx.artifacts.read(sha).toString("utf8"), `campaign ${id}`);
  const seen = new Set<number>();
  out.dataset_rows = ds.rows.length;
  for (const r of ds.rows) {
    const i = r.sample;
    if (i === undefined || !Number.isInteger(i) || i < 0 || i >= size) { out.mismatched++; continue; }
    if (seen.has(i)) out.duplicates++;
    seen.add(i);
    const f = fakeRow(i);
    if (Math.abs(r.encoder_ms - f.encoder_ms) > 1e-9 || Math.abs(r.decoder_ms - f.decoder_ms) > 1e-9) out.mismatched++;
  }
  out.lost = size - seen.size;
  return out;
}

function stripLog(o: LoadOptions): Omit<LoadOptions, "log"> {
  const { log, ...rest } = o;
  void log;
  return rest;
}

export class LoadOptionError extends Error {
  override name = "LoadOptionError";
}

function checkOptions(o: LoadOptions): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new LoadOptionError(`--${name}: an integer from ${min} to ${max}, got ${v}`);
  };
  int("agents", o.agents, 1, 20_000);
  int("archs", o.archs, 1, 100_000);
  int("campaigns", o.campaigns, 1, 50);
  int("measure-ms", o.measureMs, 0, 600_000);
  int("heartbeat-every", o.heartbeatEvery, 0, 1000);
  int("procs", o.procs, 0, 64);
  int("lease-batch", o.leaseBatch, 1, 1000);
  int("wait-s", o.waitS, 1, 3600);
  int("idle-s", o.idleS, 0, 3600);
  int("max-s", o.maxS, 1, 86_400);
  if (!(o.replay >= 0 && o.replay <= 1)) throw new LoadOptionError(`--replay: a fraction from 0 to 1, got ${o.replay}`);
  if (o.sync !== "full" && o.sync !== "normal") throw new LoadOptionError(`--sync: full or normal, got ${o.sync}`);
  if (!BUILTIN_SPACE_NAMES.includes(o.space)) throw new LoadOptionError(`--space: one of ${BUILTIN_SPACE_NAMES.join(", ")}, got ${o.space}`);
}

const FLAGS = {
  agents: "agents", archs: "archs", campaigns: "campaigns", "measure-ms": "measureMs", "heartbeat-every": "heartbeatEvery",
  replay: "replay", procs: "procs", "lease-batch": "leaseBatch", "wait-s": "waitS", "idle-s": "idleS", "max-s": "maxS",
} as const satisfies Record<string, keyof LoadOptions>;

const HELP = `npm run bench:fleet -- [--agents N] [--archs N] [--campaigns K] [--measure-ms MS] [--procs P] ...

The real server against N simulated agents on 127.0.0.1; one JSON summary line on stdout.
  --agents N           simulated agents (${DEFAULT_LOAD.agents})
  --archs N            architectures per campaign (${DEFAULT_LOAD.archs})
  --campaigns K        campaigns started together (${DEFAULT_LOAD.campaigns})
  --measure-ms MS      fake measurement time per architecture; 0 saturates the server (${DEFAULT_LOAD.measureMs})
  --heartbeat-every K  a heartbeat before every K-th architecture; 0: only after lease_s/3 (${DEFAULT_LOAD.heartbeatEvery})
  --replay F           fraction of row chunks resent with the same idempotency key (${DEFAULT_LOAD.replay})
  --procs P            child processes for the agents; 0: in the server's process (${DEFAULT_LOAD.procs})
  --lease-batch B      architectures per lease (${DEFAULT_LOAD.leaseBatch})
  --wait-s S           long-poll wait (${DEFAULT_LOAD.waitS})
  --idle-s S           then measure S seconds of idle long polls (${DEFAULT_LOAD.idleS})
  --max-s S            give up after S seconds (${DEFAULT_LOAD.maxS})
  --space NAME         ${BUILTIN_SPACE_NAMES.join(" | ")} (${DEFAULT_LOAD.space})
  --sync full|normal   the database's synchronous pragma: full is the server's; normal (no fsync
                       per commit) is a diagnostic of what the fsyncs cost (${DEFAULT_LOAD.sync})`;

/** Parses the command line (a LoadOptionError names a bad flag). */
export function parseLoadArgs(argv: string[]): Partial<LoadOptions> | "help" {
  const options = Object.fromEntries([...Object.keys(FLAGS), "space", "sync"].map((k) => [k, { type: "string" as const }]));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: "boolean" } }, strict: true, allowPositionals: false });
  } catch (e) {
    throw new LoadOptionError((e as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return "help";
  const out: Partial<LoadOptions> = {};
  for (const [flag, key] of Object.entries(FLAGS)) {
    const v = values[flag];
    if (typeof v !== "string") continue;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) throw new LoadOptionError(`--${flag}: a number, got ${JSON.stringify(v)}`);
    (out as Record<string, number>)[key] = n;
  }
  if (typeof values.space === "string") out.space = values.space as BuiltinSpaceName;
  if (typeof values.sync === "string") out.sync = values.sync as LoadOptions["sync"];
  return out;
}

async function main(): Promise<void> {
  let given;
  try {
    given = parseLoadArgs(process.argv.slice(2));
    if (given === "help") { console.log(HELP); return; }
    checkOptions({ ...DEFAULT_LOAD, ...given });
  } catch (e) {
    if (e instanceof LoadOptionError) { console.error(`fleet-load: ${e.message}\n\n${HELP}`); process.exitCode = 2; return; }
    throw e;
  }
  const summary = await runFleetLoad({ ...given, log: (l) => console.error(l) });
  console.log(JSON.stringify(summary));
  if (!summary.ok) {
    console.error(`fleet-load: FAILED: ${summary.problems.join("; ")}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => { console.error(e); process.exitCode = 1; });
}
