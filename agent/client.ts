/**
 * The agent's HTTP client for the server's /v1/agent routes (runtime/fleet-protocol.ts). Every
 * request has a timeout; network errors, 5xx and 429 are retried with capped exponential backoff
 * and jitter (forever unless `attempts` says otherwise, until the agent stops); every reply is
 * checked with the contract's schema, so a bad reply is a BadReplyError for the caller to log,
 * never a crash. 401 is an UnauthorizedError (the token was revoked or is unknown: the agent
 * stops); any other 4xx is an HttpError.
 */
import { z } from "zod";
import {
  API, DeploymentReport, EnrolRequest, EnrolResponse, ErrorBody, HeartbeatResponse, HelloRequest, RowsRequest, RowsResponse, Work,
} from "../runtime/fleet-protocol.js";
import { errText, type Log } from "./log.js";
import { describeIssues } from "../runtime/schema-issues.js";

/** 401 from the server: the agent's token was revoked (or the server never knew it). */
export class UnauthorizedError extends Error {
  override name = "UnauthorizedError";
  /** What the server said. */
  constructor(readonly detail: string) {
    super(`revoked or unknown token: enrol again (hat agent --reenrol --token NEW_ENROLMENT_TOKEN); the server said: ${detail}`);
  }
}

/** A 4xx reply other than 401 (or a retried failure that ran out of attempts: status 0 or 5xx). */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** A reply that is not what the contract says (not JSON, or failing the schema). */
export class BadReplyError extends Error {
  override name = "BadReplyError";
}

/** The agent is stopping: the request was abandoned. */
export class StoppedError extends Error {
  override name = "StoppedError";
  constructor() {
    super("stopping");
  }
}

export interface Backoff {
  baseMs: number;
  capMs: number;
}

/** Retries wait base * 2^attempt, capped (so a restarted server is picked up within ~capMs), jittered down to half. */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, capMs: 8000 };

export function backoffDelay(attempt: number, b: Backoff): number {
  const d = Math.min(b.capMs, b.baseMs * 2 ** Math.min(attempt, 30));
  return d / 2 + Math.random() * (d / 2);
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The largest download (a deployed model) the agent accepts, whatever the server claims: a model
 * must fit in the wasm's 4 GiB beside its position tables and working memory, and the agent holds
 * the file's bytes and its wasm copy at once.
 */
export const MAX_DOWNLOAD_BYTES = 2 ** 30;

export interface ClientOptions {
  /** The server's base URL (http://host:port). */
  server: string;
  /** The agent's bearer token (set after enrolment). */
  token?: string;
  log: Log;
  /** Per-request timeout (ms) for short requests; 30 s. */
  timeoutMs?: number;
  backoff?: Backoff;
  /** Aborts waits and requests when the agent stops. */
  signal?: AbortSignal;
  /** The largest download accepted (MAX_DOWNLOAD_BYTES). */
  maxDownloadBytes?: number;
}

export interface RequestOptions {
  method: "GET" | "POST";
  /** A path under the server, or an absolute URL (the token goes only to the server's origin). */
  path: string;
  body?: unknown;
  timeoutMs?: number;
  /** Tries in all, counting the first (default: until it works or the agent stops). */
  attempts?: number;
  /** Keep going when the agent is stopping (a last flush of rows). */
  ignoreStop?: boolean;
  /** Leave out the Authorization header (enrolment). */
  noAuth?: boolean;
}

export class AgentClient {
  readonly server: string;
  token: string | undefined;
  private readonly log: Log;
  private readonly timeoutMs: number;
  private readonly backoff: Backoff;
  private readonly signal: AbortSignal | undefined;
  readonly maxDownloadBytes: number;

  constructor(o: ClientOptions) {
    this.maxDownloadBytes = o.maxDownloadBytes ?? MAX_DOWNLOAD_BYTES;
    this.server = o.server.replace(/\/+$/, "");
    this.token = o.token;
    this.log = o.log;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
    this.signal = o.signal;
  }

  /** POST /v1/agent/enrol (no Authorization: the enrolment token is in the body). */
  async enrol(req: EnrolRequest): Promise<EnrolResponse> {
    return (await this.json({ method: "POST", path: `${API}/agent/enrol`, body: EnrolRequest.parse(req), noAuth: true }, EnrolResponse))!;
  }

  /** POST /v1/agent/hello: a restarted agent's hardware and translate URL (a few attempts only). */
  async hello(req: HelloRequest): Promise<void> {
    await this.json({ method: "POST", path: `${API}/agent/hello`, body: HelloRequest.parse(req), attempts: 5 }, z.object({ id: z.string() }).passthrough());
  }

  /** GET /v1/agent/work?wait_s=N (long poll): the work, or undefined when none came (204). */
  async work(waitS: number): Promise<Work | undefined> {
    return this.json({ method: "GET", path: `${API}/agent/work?wait_s=${waitS}`, timeoutMs: (waitS + 15) * 1000 }, Work, true);
  }

  async rows(leaseId: string, req: RowsRequest, o: Partial<RequestOptions> = {}): Promise<RowsResponse> {
    return (await this.json({ ...o, method: "POST", path: `${API}/agent/leases/${encodeURIComponent(leaseId)}/rows`, body: RowsRequest.parse(req) }, RowsResponse))!;
  }

  async heartbeat(leaseId: string): Promise<z.infer<typeof HeartbeatResponse>> {
    return (await this.json({ method: "POST", path: `${API}/agent/leases/${encodeURIComponent(leaseId)}/heartbeat`, body: {} }, HeartbeatResponse))!;
  }

  async reportDeployment(deploymentId: string, report: DeploymentReport): Promise<void> {
    await this.send({ method: "POST", path: `${API}/agent/deployments/${encodeURIComponent(deploymentId)}`, body: DeploymentReport.parse(report) }, async (res) => { await res.arrayBuffer(); });
  }

  /**
   * GET a file (a model) of at most `maxBytes` (what the server says it holds), whole. A claim
   * above the agent's cap (maxDownloadBytes) is refused before any request; the body is streamed
   * and counted, never allocated by the claim, and refused the moment it passes `maxBytes`.
   */
  async download(url: string, maxBytes: number, o: Partial<RequestOptions> = {}): Promise<Uint8Array> {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > this.maxDownloadBytes) {
      throw new BadReplyError(`download of ${url}: the server claims ${maxBytes} bytes, above this agent's limit of ${this.maxDownloadBytes} bytes (MAX_DOWNLOAD_BYTES): refused without downloading`);
    }
    return this.send({ timeoutMs: 600_000, attempts: 5, ...o, method: "GET", path: url }, async (res) => {
      const len = Number(res.headers.get("content-length") ?? NaN);
      if (Number.isFinite(len) && len > maxBytes) {
        await res.body?.cancel();
        throw new BadReplyError(`download of ${url}: ${len} bytes, more than the ${maxBytes} expected`);
      }
      const parts: Uint8Array[] = [];
      let n = 0;
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          n += chunk.byteLength;
          if (n > maxBytes) throw new BadReplyError(`download of ${url}: more than the ${maxBytes} bytes expected`); // leaving the loop cancels the stream
          parts.push(chunk);
        }
      }
      const out = new Uint8Array(n);
      let off = 0;
      for (const p of parts) { out.set(p, off); off += p.byteLength; }
      return out;
    });
  }

  /** A request whose reply is JSON checked with `schema` (or nothing, on 204 when `allowEmpty`). */
  async json<T>(o: RequestOptions, schema: z.ZodType<T>, allowEmpty = false): Promise<T | undefined> {
    return this.send(o, async (res) => {
      if (res.status === 204 && allowEmpty) return undefined;
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new BadReplyError(`bad reply to ${o.method} ${o.path} (HTTP ${res.status}): not JSON: ${JSON.stringify(text.slice(0, 200))}`);
      }
      const r = schema.safeParse(body);
      if (!r.success) {
        throw new BadReplyError(`bad reply to ${o.method} ${o.path} (HTTP ${res.status}): ${describeIssues(r.error.issues, "(body)")}`);
      }
      return r.data;
    });
  }

  /** The retry loop: `read` runs on a 2xx reply (network errors while reading are retried too). */
  private async send<T>(o: RequestOptions, read: (res: Response) => Promise<T>): Promise<T> {
    const url = new URL(o.path, this.server + "/");
    const sameOrigin = url.origin === new URL(this.server).origin;
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token && !o.noAuth && sameOrigin) headers.authorization = `Bearer ${this.token}`;
    if (o.body !== undefined) headers["content-type"] = "application/json";
    const stop = o.ignoreStop ? undefined : this.signal;
    const attempts = o.attempts ?? Infinity, timeoutMs = o.timeoutMs ?? this.timeoutMs;
    const what = `${o.method} ${url.pathname}`;
    for (let attempt = 0; ; attempt++) {
      if (stop?.aborted) throw new StoppedError();
      let problem: string, status = 0, retryAfterMs = 0;
      try {
        const signal = stop ? AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]) : AbortSignal.timeout(timeoutMs);
        const res = await fetch(url, { method: o.method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), signal });
        status = res.status;
        if (res.ok) return await read(res);
        const message = await errorMessage(res);
        if (res.status === 401) throw new UnauthorizedError(message);
        if (res.status < 500 && res.status !== 429) throw new HttpError(res.status, errorCode(message), `${what}: HTTP ${res.status}: ${message}`);
        problem = `HTTP ${res.status}: ${message}`;
        const ra = Number(res.headers.get("retry-after"));
        if (res.status === 429 && Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1000, 60_000);
      } catch (e) {
        if (e instanceof UnauthorizedError || e instanceof HttpError || e instanceof BadReplyError) throw e;
        if (stop?.aborted) throw new StoppedError();
        const name = (e as Error)?.name;
        problem = name === "TimeoutError" ? `no reply within ${timeoutMs / 1000} s` : `network error: ${errText(e)}`;
      }
      if (attempt + 1 >= attempts) throw new HttpError(status, "retries_exhausted", `${what}: ${problem} (gave up after ${attempt + 1} tries)`);
      const delay = Math.max(retryAfterMs, backoffDelay(attempt, this.backoff));
      this.log(`${what}: ${problem}; retrying in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, stop);
    }
  }
}

/** The server's error message ({error: {code, message}}), or the start of the body. */
async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const b = ErrorBody.safeParse(JSON.parse(text));
    if (b.success) return `${b.data.error.code}: ${b.data.error.message}`;
  } catch { /* not JSON */ }
  return text.slice(0, 300) || res.statusText;
}

function errorCode(message: string): string {
  const m = /^([a-z_]+):/.exec(message);
  return m ? m[1] : "http_error";
}
