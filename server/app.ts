/**
 * The hat-edge server: one Hono app composed of sub-apps, nothing else. State is one SQLite file
 * and sha256-addressed artifacts under the data directory; long work runs as jobs (server/jobs);
 * agents, campaigns and deployments are server/fleet. docs/fleet.md describes the API.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { serve, type ServerType } from "@hono/node-server";
import { ArtifactStore, migrateArtifacts, SHA256 } from "./artifacts.js";
import { requireRole, type AgentLookup } from "./auth.js";
import type { ServerConfig, ServerContext } from "./context.js";
import { openDb, type Db } from "./db.js";
import { datasetsApp, migrateDatasets } from "./datasets.js";
import { Fleet, migrateFleet } from "./fleet/fleet.js";
import { ApiError, notFound, onApiError } from "./http.js";
import { jobsApp } from "./jobs/routes.js";
import { JobRunner, migrateJobs } from "./jobs/runner.js";
import { registerKinds } from "./jobs/kinds/index.js";
import { describe, openApiDocument } from "./openapi.js";

export interface ServerOptions extends Partial<Omit<ServerConfig, "dataDir" | "adminTokenHash">> {
  dataDir: string;
  adminTokenHash: string;
  log?: (line: string) => void;
}

export interface HatServer {
  app: Hono;
  ctx: ServerContext;
  fleet: Fleet;
  runner: JobRunner;
  /** Stop jobs' child processes (their jobs stay `running`: the next start resumes them) and close the database. */
  close(): Promise<void>;
}

export function createServer(o: ServerOptions): HatServer {
  const config: ServerConfig = {
    dataDir: o.dataDir, adminTokenHash: o.adminTokenHash,
    leaseSeconds: o.leaseSeconds ?? 60, leaseBatch: o.leaseBatch ?? 5,
    bodyLimitBytes: o.bodyLimitBytes ?? 64 * 1024 * 1024, maxWaitSeconds: o.maxWaitSeconds ?? 30,
    version: o.version ?? "0.1.0",
  };
  const log = o.log ?? ((s: string) => process.stderr.write(`${new Date().toISOString()} ${s}\n`));
  mkdirSync(config.dataDir, { recursive: true });
  const db: Db = openDb(join(config.dataDir, "state.db"), [migrateArtifacts, migrateDatasets, migrateJobs, migrateFleet]);
  const artifacts = new ArtifactStore(join(config.dataDir, "artifacts"), db);

  // The fleet answers "which agent holds this token"; auth needs that before the fleet exists.
  let lookup: AgentLookup = () => undefined;
  const agents: AgentLookup = (h) => lookup(h);
  const ctx = {
    config, db, artifacts, log,
    admin: requireRole(config.adminTokenHash, agents, "admin"),
    agent: requireRole(config.adminTokenHash, agents, "agent"),
    anyone: requireRole(config.adminTokenHash, agents, "admin", "agent"),
  } as Omit<ServerContext, "jobs"> as ServerContext;
  const runner = new JobRunner(ctx, join(config.dataDir, "jobs"));
  ctx.jobs = runner;
  const fleet = new Fleet(ctx);
  lookup = (h) => fleet.agentByTokenHash(h);
  registerKinds(ctx);
  fleet.registerKinds();

  const app = new Hono();
  app.onError(onApiError(log));
  app.notFound((c) => c.json({ error: { code: "not_found", message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.use("*", bodyLimit({
    maxSize: config.bodyLimitBytes,
    onError: () => { throw new ApiError(413, "body_too_large", `the body is over ${config.bodyLimitBytes} bytes`); },
  }));

  describe({ method: "get", path: "/v1/health", summary: "liveness and version", auth: "none" });
  app.get("/v1/health", (c) => c.json({ ok: true, version: config.version }));
  describe({ method: "get", path: "/openapi.json", summary: "this API as an OpenAPI 3.1 document", auth: "none" });
  app.get("/openapi.json", (c) => c.json(openApiDocument(config.version) as object));

  describe({ method: "get", path: "/v1/artifacts/{sha256}", summary: "download an artifact (model, dataset, predictor, report) by its sha256", auth: "admin or agent" });
  app.get("/v1/artifacts/:sha256", ctx.anyone, (c) => {
    const sha = c.req.param("sha256");
    if (!SHA256.test(sha) || !artifacts.has(sha)) throw notFound(`artifact ${sha}`);
    const info = artifacts.info(sha)!;
    return new Response(new Uint8Array(artifacts.read(sha)), {
      headers: { "content-type": "application/octet-stream", "content-length": String(info.size), "x-sha256": sha, "content-disposition": `attachment; filename="${info.name.replace(/[^\w.-]/g, "_")}"` },
    });
  });

  app.route("/v1/datasets", datasetsApp(ctx));
  app.route("/v1/jobs", jobsApp(ctx));
  app.route("/v1", fleet.app());

  runner.start(); // resumes jobs a previous process left running
  return {
    app, ctx, fleet, runner,
    async close() {
      fleet.close();
      await runner.stop();
      db.close();
    },
  };
}

/** createServer, listening on host:port (port 0: any free port). */
export async function listen(o: ServerOptions & { host?: string; port?: number }): Promise<HatServer & { url: string; server: ServerType }> {
  const s = createServer(o);
  const host = o.host ?? "127.0.0.1";
  let bound: { server: ServerType; port: number };
  try {
    bound = await new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
      const server = serve({ fetch: s.app.fetch, hostname: host, port: o.port ?? 8080 }, (info) => resolve({ server, port: info.port }));
      server.once("error", reject); // EADDRINUSE, EACCES: a clear error, not an uncaught event
    });
  } catch (e) {
    await s.close();
    throw e;
  }
  const { server, port } = bound;
  return {
    ...s, server, url: `http://${host}:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await s.close();
    },
  };
}
