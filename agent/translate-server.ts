/**
 * The agent's own HTTP service (Hono on @hono/node-server): POST /translate with the deployed
 * model, GET /health. Errors have the server's shape, `{error: {code, message}}`. Translation and
 * profiling share the CPU: a request during a measurement waits for the event loop.
 */
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

const fail = (c: Context, status: 400 | 404 | 413 | 415 | 500 | 503, code: string, message: string) =>
  c.json({ error: { code, message } }, status);

export function translateApp(s: TranslateServiceState, log: Log = () => {}): Hono {
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
    const t0 = performance.now();
    const translations = translateLines(m.sub, m.bpe, r.data.lines, { beam: r.data.beam ?? 4, lenpen: r.data.lenpen ?? 0.6 });
    return c.json({ translations, deployment_id: m.deploymentId, model_sha256: m.sha256, ms: performance.now() - t0 });
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
