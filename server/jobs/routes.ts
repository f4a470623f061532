/**
 * /v1/jobs (admin): create a job of a kind, list and read jobs, follow a job's events as
 * Server-Sent Events, cancel. The runner (./runner.ts) does the work; this is only HTTP.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { ServerContext } from "../context.js";
import { badRequest, jsonBody, notFound, query } from "../http.js";
import { describe } from "../openapi.js";
import { isFinished, JOB_STATES, JobRunner } from "./runner.js";

/** A comment line this often keeps proxies and clients from timing out an idle stream. */
export const HEARTBEAT_MS = 15_000;

export const JobSchema = z.object({
  id: z.string(), kind: z.string(), state: z.enum(JOB_STATES), params: z.unknown(), result: z.unknown(),
  error: z.string().nullable(), progress: z.number().nullable(), message: z.string().nullable(),
  artifacts: z.record(z.string(), z.string()), attempts: z.number(),
  created_at: z.number(), started_at: z.number().nullable(), finished_at: z.number().nullable(),
});

const ListQuery = z.object({
  kind: z.string().regex(/^[a-z][a-z0-9_-]{0,40}$/, "a job kind, e.g. train").optional(),
  state: z.enum(JOB_STATES).optional(),
});
const EventsQuery = z.object({ after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() });

export function jobsApp(ctx: ServerContext): Hono {
  // server/app.ts makes the JobRunner ctx.jobs; routes need its events, which the Jobs contract leaves out
  const runner = ctx.jobs;
  if (!(runner instanceof JobRunner)) throw new Error("jobsApp needs the JobRunner as ctx.jobs");
  const app = new Hono();
  app.use("*", ctx.admin);

  for (const k of runner.kindList()) {
    describe({
      method: "post", path: `/v1/jobs/${k.kind}`, auth: "admin", body: k.params, summary: `create a ${k.kind} job: ${k.summary}`,
      ok: { status: 201, description: "the job (queued, or running at once)", schema: JobSchema },
    });
  }
  app.post("/:kind", async (c) => {
    const kind = c.req.param("kind");
    runner.kindOrThrow(kind); // an unknown kind is a 404 before the body is looked at
    const body = await jsonBody(c, z.unknown());
    return c.json(runner.create(kind, body), 201);
  });

  describe({ method: "get", path: "/v1/jobs", auth: "admin", query: ListQuery, summary: "the jobs, newest first (filter by kind and state)", ok: { status: 200, description: "{ jobs: [...] }" } });
  app.get("/", (c) => {
    const q = query(c, ListQuery);
    return c.json({ jobs: runner.list(q) });
  });

  describe({ method: "get", path: "/v1/jobs/{id}", auth: "admin", summary: "one job: state, progress, message, result, artifacts (role -> sha256)", ok: { status: 200, description: "the job", schema: JobSchema } });
  app.get("/:id", (c) => {
    const job = runner.get(c.req.param("id"));
    if (!job) throw notFound(`job ${c.req.param("id")}`);
    return c.json(job);
  });

  describe({ method: "post", path: "/v1/jobs/{id}/cancel", auth: "admin", summary: "cancel a queued or running job (its child process is killed); 409 when it has finished", ok: { status: 200, description: "the job", schema: JobSchema } });
  app.post("/:id/cancel", (c) => c.json(runner.cancel(c.req.param("id"))));

  describe({
    method: "get", path: "/v1/jobs/{id}/events", auth: "admin", query: EventsQuery,
    summary: "the job's events as Server-Sent Events (log, progress, state; id = seq): the stored ones after Last-Event-ID (or ?after=N), then live ones; ends after the final state. A progress event is {at, fraction, message, data?}: data holds its numbers (server/jobs/progress.ts)",
    ok: { status: 200, description: "text/event-stream" },
  });
  app.get("/:id/events", (c) => {
    const id = c.req.param("id");
    if (!runner.get(id)) throw notFound(`job ${id}`);
    const q = query(c, EventsQuery);
    const header = c.req.header("last-event-id");
    if (header !== undefined && !/^\d{1,15}$/.test(header.trim())) throw badRequest(`Last-Event-ID: not an event id (a non-negative integer of at most 15 digits), got '${header.slice(0, 40)}'`, "invalid_header");
    let last = header !== undefined ? Number(header.trim()) : q.after ?? 0;
    // an id past the job's last event would wait for events that are never sent (a stream held open for nothing)
    const newest = runner.lastSeq(id);
    if (last > newest) throw badRequest(`${header !== undefined ? "Last-Event-ID" : "after"}: ${last} is past job ${id}'s last event (${newest})`, header !== undefined ? "invalid_header" : "invalid_query");

    return streamSSE(c, async (stream) => {
      // one wake-up function for new events, a client gone, the server stopping and the heartbeat
      let wake: (() => void) | undefined;
      const poke = () => { const w = wake; wake = undefined; w?.(); };
      let gone = false;
      const onGone = () => { gone = true; poke(); };
      stream.onAbort(onGone);
      c.req.raw.signal?.addEventListener("abort", onGone);
      const unsubscribe = runner.subscribe(id, poke); // before the replay: nothing falls between the two
      try {
        while (!gone && !runner.isStopped) {
          const batch = runner.events(id, last);
          for (const ev of batch) {
            await stream.writeSSE({ id: String(ev.seq), event: ev.type, data: JSON.stringify({ at: ev.at, ...ev.data }) });
            last = ev.seq;
            if (gone) return;
          }
          if (batch.length > 0) continue; // there may be more than one page
          if (isFinished(runner.get(id)!.state)) return; // its final state event has been sent
          const timedOut = await new Promise<boolean>((resolve) => {
            const t = setTimeout(() => { wake = undefined; resolve(true); }, HEARTBEAT_MS);
            wake = () => { clearTimeout(t); resolve(false); };
          });
          if (timedOut && !gone) await stream.write(": heartbeat\n\n");
        }
      } finally {
        unsubscribe();
        c.req.raw.signal?.removeEventListener("abort", onGone);
      }
    });
  });
  return app;
}
