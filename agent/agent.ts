/**
 * The agent: serve /translate, enrol (or reuse the identity kept for this server), then long-poll
 * for work and do it — profiling leases (profiler.ts) and deployments (models.ts) — until stopped.
 * Network trouble is retried with capped backoff (a restarted server is picked up within
 * seconds), a bad reply is logged and the agent carries on, 401 stops it (UnauthorizedError).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { AgentClient, backoffDelay, DEFAULT_BACKOFF, HttpError, sleep, StoppedError, UnauthorizedError, type Backoff } from "./client.js";
import { detectHardware } from "./hardware.js";
import { errText, type Log } from "./log.js";
import { Models } from "./models.js";
import { Profiler } from "./profiler.js";
import { Runtimes } from "./runtimes.js";
import { AgentState, normalizeServer, type Identity } from "./state.js";
import { listenApp, translateApp, type Listening } from "./translate-server.js";

export interface AgentOptions {
  /** The server's base URL. */
  server: string;
  /** A one-time enrolment token (needed only when no identity for this server is kept, or with `reenrol`). */
  enrolmentToken?: string;
  /** Enrol again even when an identity for this server is kept (after a revocation). */
  reenrol?: boolean;
  /** Default: the host name. */
  name?: string;
  /** Used only when the enrolment token names no class. */
  deviceClass?: string;
  stateDir: string;
  /** Where /translate listens: 127.0.0.1:8787 by default; port 0 = any free port. */
  host?: string;
  port?: number;
  /** The base URL of POST /translate and GET /health told to the server (default: from host and port). */
  publicUrl?: string;
  /**
   * The bearer token POST /translate requires: a string; false for none. Default: none on a
   * loopback host, else the one kept in the state directory (translate-token, made on first use).
   */
  translateToken?: string | false;
  /** Long-poll wait (seconds); 20. */
  waitS?: number;
  log: Log;
  /** The wasm runtime's bytes (the single executable's asset); default: build/hat*.wasm. */
  wasmBytes?: Uint8Array<ArrayBuffer>;
  /** The build name recorded in rows (default: the file loaded). */
  build?: string;
  /** The threaded build's bytes and name (the executable's assets; default build/hat-threads*.wasm). */
  threadWasmBytes?: Uint8Array<ArrayBuffer>;
  threadBuild?: string;
  backoff?: Backoff;
  /** Per-request timeout (ms) of short requests. */
  timeoutMs?: number;
}

/** What the agent prints once enrolled (the first stdout line of `hat agent`). */
export interface Enrolled {
  agent_id: string;
  device_class: string;
  translate_url: string;
  /** Where the token POST /translate requires is kept (absent when it requires none, or was given). */
  translate_token_file?: string;
}

/** 127.0.0.0/8, ::1, localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1" || host === "[::1]" || host.toLowerCase() === "localhost";
}

/** The enrolment was refused (bad, used or expired enrolment token, bad request). */
export class EnrolmentError extends Error {
  override name = "EnrolmentError";
}

export class Agent {
  readonly state: AgentState;
  readonly client: AgentClient;
  readonly models: Models;
  readonly profiler: Profiler;
  identity: Identity | undefined;
  private readonly abort = new AbortController();
  private readonly log: Log;
  private listening: Listening | undefined;
  private busy = false;

  constructor(private readonly o: AgentOptions) {
    this.log = o.log;
    this.state = new AgentState(o.stateDir, o.log);
    this.client = new AgentClient({ server: o.server, log: o.log, backoff: o.backoff, timeoutMs: o.timeoutMs, signal: this.abort.signal });
    const runtimes = new Runtimes({ wasmBytes: o.wasmBytes, build: o.build, threadWasmBytes: o.threadWasmBytes, threadBuild: o.threadBuild });
    const stopped = () => this.abort.signal.aborted;
    this.profiler = new Profiler({ client: this.client, log: o.log, runtimes, stopped });
    this.models = new Models({ state: this.state, client: this.client, log: o.log, runtimes, gauge: this.profiler.gauge });
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  get translateUrl(): string | undefined {
    if (!this.listening) return undefined;
    if (this.o.publicUrl) return this.o.publicUrl;
    let host = this.o.host ?? "127.0.0.1";
    if (host === "0.0.0.0" || host === "::") host = hostname();
    if (host.includes(":")) host = `[${host}]`;
    return `http://${host}:${this.listening.port}`;
  }

  /** The token /translate requires (undefined: none) and the file it is kept in, if the agent made it. */
  private translateToken(host: string): { token?: string; file?: string } {
    const t = this.o.translateToken;
    if (t === false) return {};
    if (typeof t === "string") return { token: t };
    if (isLoopback(host)) return {};
    const file = this.state.translateTokenPath;
    let token = this.state.translateToken();
    if (!token) {
      token = `hat_translate_${randomBytes(24).toString("base64url")}`;
      this.state.saveTranslateToken(token);
      this.log(`made a token for POST /translate (listening on ${host}, beyond loopback): kept in ${file}`);
    }
    return { token, file };
  }

  /** Serve /translate (with the last active model), then enrol or reuse the kept identity. */
  async start(): Promise<Enrolled> {
    await this.models.restore();
    const host = this.o.host ?? "127.0.0.1";
    const auth = this.translateToken(host);
    const app = translateApp({
      model: () => this.models.current,
      agentId: () => this.identity?.agent_id,
      deviceClass: () => this.identity?.device_class,
      busy: () => this.busy,
    }, this.log, { token: auth.token });
    this.listening = await listenApp(app, host, this.o.port ?? 8787);
    this.log(`serving POST ${this.translateUrl}/translate${auth.token ? ` (authorization: Bearer <the token${auth.file ? ` in ${auth.file}` : ""}>)` : " (no token: loopback only)"} and GET ${this.translateUrl}/health`);
    try {
      this.identity = await this.enrol();
    } catch (e) {
      await this.close();
      throw e;
    }
    this.client.token = this.identity.token;
    return { agent_id: this.identity.agent_id, device_class: this.identity.device_class, translate_url: this.translateUrl!, ...(auth.file ? { translate_token_file: auth.file } : {}) };
  }

  private async enrol(): Promise<Identity> {
    const server = normalizeServer(this.o.server), token = this.o.enrolmentToken;
    const kept = this.state.identityFor(server);
    if (kept && !this.o.reenrol) {
      this.log(`agent ${kept.agent_id} (${kept.device_class}) of ${server}, from ${this.state.identityPath}`);
      // tell the server where this restart serves /translate and on what hardware; in the
      // background (the server may be down), a failure only logged
      const client = new AgentClient({ server: this.o.server, token: kept.token, log: this.log, backoff: this.o.backoff, timeoutMs: this.o.timeoutMs, signal: this.abort.signal });
      client.hello({ hardware: detectHardware(), ...(this.translateUrl ? { translate_url: this.translateUrl } : {}) })
        .then(() => this.log(`told the server this agent's translate URL (${this.translateUrl}) and hardware`))
        .catch((e) => this.log(`could not tell the server this agent's translate URL and hardware: ${errText(e)}`));
      return kept;
    }
    if (!token) throw new EnrolmentError(`no identity for ${server} in ${this.state.dir}: give an enrolment token (--token T)`);
    const name = (this.o.name ?? hostname()).slice(0, 100) || "agent";
    try {
      const r = await this.client.enrol({
        enrolment_token: token, name, hardware: detectHardware(), request_id: randomUUID(), // retries resend it: a lost reply is not a burnt token
        ...(this.o.deviceClass ? { device_class: this.o.deviceClass } : {}),
        ...(this.translateUrl ? { translate_url: this.translateUrl } : {}),
      });
      const id: Identity = { server, agent_id: r.agent_id, token: r.token, device_class: r.device_class, name };
      this.state.saveIdentity(id);
      this.log(`enrolled as agent ${id.agent_id} (${id.device_class}); identity kept in ${this.state.identityPath}`);
      return id;
    } catch (e) {
      if (e instanceof UnauthorizedError) throw new EnrolmentError(`enrolment refused: ${e.detail}`);
      if (e instanceof HttpError) throw new EnrolmentError(`enrolment refused: ${e.message}`);
      throw e;
    }
  }

  /** Poll for work and do it until stop(); rejects with UnauthorizedError when the token is refused. */
  async run(): Promise<void> {
    if (!this.identity) await this.start();
    const waitS = this.o.waitS ?? 20, backoff = this.o.backoff ?? DEFAULT_BACKOFF;
    let failures = 0;
    try {
      while (!this.stopped) {
        try {
          const work = await this.client.work(waitS);
          failures = 0;
          if (!work) continue;
          this.busy = true;
          if (work.kind === "profile") await this.profiler.run(work);
          else await this.models.deploy(work);
        } catch (e) {
          if (e instanceof StoppedError) break;
          if (e instanceof UnauthorizedError) {
            this.log(e.message);
            throw e;
          }
          const delay = backoffDelay(failures++, backoff);
          this.log(`${errText(e)}; polling again in ${(delay / 1000).toFixed(1)} s`);
          await sleep(delay, this.abort.signal);
        } finally {
          this.busy = false;
        }
      }
    } finally {
      await this.close();
    }
    this.log("stopped");
  }

  /** Stop after the current step (a measurement in progress finishes; nothing is half-written). */
  stop(): void {
    if (!this.stopped) this.log("stopping");
    this.abort.abort();
  }

  async close(): Promise<void> {
    const l = this.listening;
    this.listening = undefined;
    await l?.close();
  }
}

