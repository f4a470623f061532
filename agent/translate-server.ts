/**
 * The agent's own HTTP service (Hono on @hono/node-server): POST /translate with the deployed
 * model, GET /health. Errors have the server's shape, `{error: {code, message}}`.
 *
 * Limits (docs/fleet.md, "The agent's /translate"): an optional bearer token (the agent turns it on
 * when it listens beyond loopback); at most `maxWork` source tokens x beam per request (413
 * `too_much_work`, naming both); one request decodes at a time and at most `queue` wait (503
 * `busy` with Retry-After beyond). A request is decoded in slices of about SLICE_WORK tokens x beam,
 * the event loop free between them, so heartbeats, /health and the agent's own work never wait for
 * more than a slice. Translation and profiling share the CPU all the same.
 */
import { timingSafeEqual } from "node:crypto";
import { serve, type ServerType } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { translateLines } from "../runtime/decode.js";
import { TranslateRequest } from "../runtime/fleet-protocol.js";
import { describeIssues } from "../runtime/schema-issues.js";
import type { Serving } from "./models.js";
import { errText, type Log } from "./log.js";

export interface TranslateServiceState {
  /** The model serving now (read once per request). */
  model(): Serving | undefined;
  agentId(): string | undefined;
  deviceClass(): string | undefined;
  busy(): boolean;
}

const MAX_BODY = 1024 * 1024;

/** Source tokens (eos included) x beam a request may ask for: 64 lines of 32 tokens at beam 4. */
export const MAX_TRANSLATE_WORK = 8192;
/** Requests that may wait while one decodes. */
export const TRANSLATE_QUEUE = 4;
/** Tokens x beam decoded between two turns of the event loop. */
export const SLICE_WORK = 512;

export interface TranslateLimits {
  /** The bearer token POST /translate requires; undefined: none. */
  token?: string;
  /** Source tokens x beam per request (MAX_TRANSLATE_WORK). */
  maxWork?: number;
  /** Requests waiting beside the one decoding (TRANSLATE_QUEUE); beyond: 503. */
  queue?: number;
}

const fail = (c: Context, status: 400 | 401 | 404 | 413 | 415 | 500 | 503, code: string, message: string) =>
  c.json({ error: { code, message } }, status);

function sameToken(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? "");
  if (!m) return false;
  const a = Buffer.from(m[1]), b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function translateApp(s: TranslateServiceState, log: Log = () => {}, limits: TranslateLimits = {}): Hono {
  const maxWork = limits.maxWork ?? MAX_TRANSLATE_WORK, queueMax = limits.queue ?? TRANSLATE_QUEUE;
  let tail: Promise<unknown> = Promise.resolve(), waiting = 0, decoding = false;
  const app = new Hono();
  app.notFound((c) => fail(c, 404, "not_found", `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    log(`translate service: internal error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return fail(c, 500, "internal", `internal error: ${errText(err)}`);
  });

  app.get("/health", (c) => {
    const m = s.model();
    return c.json({ ok: true, agent_id: s.agentId() ?? null, device_class: s.deviceClass() ?? null, deployment_id: m?.deploymentId ?? null, model_sha256: m?.sha256 ?? null, busy: s.busy() });
  });

  app.use("/translate", async (c, next) => {
    if (limits.token !== undefined && !sameToken(c.req.header("authorization"), limits.token)) {
      c.header("www-authenticate", "Bearer");
      return fail(c, 401, "unauthorized", "POST /translate needs 'authorization: Bearer <token>': the agent's translate token (its state directory's translate-token file)");
    }
    await next();
  });

  app.post("/translate", bodyLimit({ maxSize: MAX_BODY, onError: (c) => {
    c.header("connection", "close"); // the rest of the body is not read: this connection cannot be reused
    return fail(c, 413, "body_too_large", `the body is over ${MAX_BODY} bytes`);
  } }), async (c) => {
    if (!/^application\/json\b/i.test(c.req.header("content-type") ?? "")) return fail(c, 415, "unsupported_media_type", "send the body as application/json");
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch (e) {
      return fail(c, 400, "invalid_json", `the body is not valid JSON (${(e as Error).message})`);
    }
    const r = TranslateRequest.safeParse(body);
    if (!r.success) {
      return fail(c, 400, "invalid_body", describeIssues(r.error.issues));
    }
    const m = s.model();
    if (!m) return fail(c, 503, "no_model", "no model deployed to this agent yet");
    const beam = r.data.beam ?? 4, lenpen = r.data.lenpen ?? 0.6, cap = m.sub.weights.maxPositions - 1;
    // the work, counted before any decoding: each line's source tokens (as translateLines cuts them, eos included) x beam
    const costs = r.data.lines.map((l) => (Math.min(m.bpe.encode(l).length, cap) + 1) * beam);
    const work = costs.reduce((a, b) => a + b, 0);
    if (work > maxWork) {
      return fail(c, 413, "too_much_work", `this request is ${work / beam} source tokens x beam ${beam} = ${work}, above the limit of ${maxWork} tokens x beam per request: send fewer or shorter lines, or a smaller beam`);
    }
    if (decoding && waiting >= queueMax) {
      c.header("retry-after", "1");
      return fail(c, 503, "busy", `${waiting} translation requests are already waiting (at most ${queueMax}): try again shortly`);
    }
    waiting++;
    const mine = tail.then(async () => {
      waiting--;
      decoding = true;
      try {
        const t0 = performance.now(), translations: string[] = [];
        for (let i = 0; i < costs.length;) { // slices of about SLICE_WORK, the event loop turning between them
          let j = i + 1, w = costs[i];
          while (j < costs.length && w + costs[j] <= SLICE_WORK) w += costs[j++];
          translations.push(...translateLines(m.sub, m.bpe, r.data.lines.slice(i, j), { beam, lenpen }));
          i = j;
          if (i < costs.length) await turn();
        }
        return { translations, ms: performance.now() - t0 };
      } finally {
        decoding = false;
      }
    });
    tail = mine.catch(() => {});
    const { translations, ms } = await mine;
    return c.json({ translations, deployment_id: m.deploymentId, model_sha256: m.sha256, ms });
  });
  return app;
}

export interface Listening {
  server: ServerType;
  port: number;
  close(): Promise<void>;
}

/** Serve `app` on host:port (0: any free port). */
export function listenApp(app: Hono, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => resolve({
      server, port: info.port,
      close: () => new Promise<void>((done) => {
        server.close(() => done());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
    }));
    server.once("error", reject);
  });
}
