/** STUB (being written): agents, enrolment, campaigns and leases, deployments. */
import { Hono } from "hono";
import type { ServerContext } from "../context.js";
import type { Db } from "../db.js";

export function migrateFleet(_db: Db): void {}

export class Fleet {
  constructor(readonly ctx: ServerContext) {}
  agentByTokenHash(_hash: string): { agentId: string; deviceClass: string } | undefined { return undefined; }
  registerKinds(): void {}
  app(): Hono { return new Hono(); }
  close(): void {}
}
