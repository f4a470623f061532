/**
 * A small client of the server's admin API (what `hat demo` and the end-to-end tests use; a user's
 * scripts can too). JSON in and out with the bearer token; an error reply becomes an ApiCallError
 * carrying the server's code and message. `follow` reads a job's Server-Sent Events, reconnecting
 * with Last-Event-ID, until the job ends.
 */
import type { JobRecord } from "./jobs/types.js";

export class ApiCallError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "ApiCallError";
  }
}

export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

const FINISHED = new Set(["done", "failed", "cancelled"]);

export class HatClient {
  constructor(readonly url: string, private readonly token: string) {}

  async call<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const res = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiCallError(res.status, "bad_reply", `${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiCallError(res.status, e?.code ?? "http_error", `${method} ${path}: HTTP ${res.status}: ${e?.message ?? text.slice(0, 200)}`);
    }
    return json as T;
  }

  get = <T = unknown>(path: string) => this.call<T>("GET", path);
  post = <T = unknown>(path: string, body: unknown = {}) => this.call<T>("POST", path, body);

  async download(sha256: string): Promise<Uint8Array> {
    const res = await fetch(`${this.url}/v1/artifacts/${sha256}`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(120_000) });
    if (!res.ok) throw new ApiCallError(res.status, "download_failed", `artifact ${sha256}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Create a job of `kind` and return it. */
  job(kind: string, params: unknown): Promise<JobRecord> {
    return this.post<JobRecord>(`/v1/jobs/${kind}`, params);
  }

  /**
   * A job's events until it ends (calls onEvent for each), then the finished job. Reconnects with
   * Last-Event-ID when the stream breaks (a server restart), so no event is seen twice.
   */
  async follow(jobId: string, onEvent: (e: SseEvent) => void, o: { timeoutMs?: number } = {}): Promise<JobRecord> {
    const deadline = Date.now() + (o.timeoutMs ?? 3_600_000);
    let last: string | undefined;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try {
        const res = await fetch(`${this.url}/v1/jobs/${jobId}/events`, {
          headers: { authorization: `Bearer ${this.token}`, accept: "text/event-stream", ...(last ? { "last-event-id": last } : {}) },
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        });
        if (res.status === 404 || res.status === 401 || res.status === 403) throw new ApiCallError(res.status, "follow_failed", `events of job ${jobId}: HTTP ${res.status}`);
        if (res.ok && res.body) {
          for await (const e of parseSse(res.body)) {
            if (e.id !== undefined) last = e.id;
            onEvent(e);
          }
        }
      } catch (e) {
        if (e instanceof ApiCallError) throw e;
        // the stream broke (server restarting): check below, then reconnect
      }
      try {
        const job = await this.get<JobRecord>(`/v1/jobs/${jobId}`);
        if (FINISHED.has(job.state)) return job;
      } catch (e) {
        if (e instanceof ApiCallError && e.status < 500) throw e;
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(attempt, 4))));
    }
    throw new Error(`job ${jobId} did not finish in time`);
  }
}

/** Server-Sent Events from a response body: `id:`, `event:`, `data:` (JSON) lines, blank line ends one. */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = "";
  let cur: { id?: string; event?: string; data: string[] } = { data: [] };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (cur.data.length) {
          const text = cur.data.join("\n");
          let data: unknown = text;
          try { data = JSON.parse(text); } catch { /* plain text data */ }
          yield { id: cur.id, event: cur.event ?? "message", data };
        }
        cur = { data: [] };
      } else if (line.startsWith(":")) {
        // a comment (heartbeat)
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") cur.data.push(value);
        else if (field === "id") cur.id = value;
        else if (field === "event") cur.event = value;
      }
    }
  }
}
