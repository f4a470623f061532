/** STUB (being written): /v1/datasets. */
import { Hono } from "hono";
import type { ServerContext } from "./context.js";
import type { Db } from "./db.js";

export function migrateDatasets(_db: Db): void {}
export function datasetsApp(_ctx: ServerContext): Hono {
  return new Hono();
}
