/**
 * The fleet: agents and their enrolment, profiling campaigns leased to agents in batches, and
 * deployments of models to a device class. docs/fleet.md walks through it; runtime/fleet-protocol.ts
 * is the wire contract with agents. This file composes the parts (each imports core.ts, none this
 * file):
 *
 *   core.ts         the server's context, the calling agent, waiting and waking (notify)
 *   store.ts        the tables (migrateFleet) and row shapes
 *   enrol.ts        enrolment tokens, POST /v1/agent/enrol, GET /v1/agents, revoke
 *   work.ts         GET /v1/agent/work (long poll), rows and heartbeats: the lease book
 *   rows.ts         stored rows -> the campaign's latency dataset (HAT's CSV); GET /v1/campaigns/{id}/rows
 *   campaign.ts     the `campaign` JobKind (runs on agents, not on the server's CPU)
 *   deployments.ts  POST/GET /v1/deployments and the agents' reports
 */
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import { campaignKind } from "./campaign.js";
import { FleetCore, type AgentCaller } from "./core.js";
import { deploymentsApp, Deployments } from "./deployments.js";
import { agentsApp } from "./enrol.js";
import { campaignRowsApp } from "./rows.js";
import { LeaseBook, workApp } from "./work.js";

export { migrateFleet } from "./store.js";

export class Fleet {
  readonly core: FleetCore;
  readonly leases: LeaseBook;
  readonly deployments: Deployments;

  constructor(readonly ctx: ServerContext) {
    const core = new FleetCore(ctx);
    this.core = core;
    this.leases = new LeaseBook(ctx.db, ctx.config, (what) => core.notify(what));
    this.deployments = new Deployments(ctx, () => core.notify());
  }

  /** The agent holding this token (sha256), unless unknown or revoked: server/auth.ts asks. */
  agentByTokenHash(hash: string): AgentCaller | undefined {
    return this.core.agentByTokenHash(hash);
  }

  registerKinds(): void {
    this.ctx.jobs.register(campaignKind(this.core, this.leases));
  }

  app(): Hono {
    const app = new Hono();
    app.route("/", agentsApp(this.core, this.leases));
    app.route("/", workApp(this.core, this.leases, this.deployments));
    app.route("/", deploymentsApp(this.core, this.deployments));
    app.route("/", campaignRowsApp(this.core));
    return app;
  }

  /** Ends every wait (long polls answer 204); campaigns see `closed` and leave their leases as they are. */
  close(): void {
    this.core.close();
  }
}
