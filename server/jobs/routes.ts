/** STUB (being written): /v1/jobs. */
import { Hono } from "hono";
import type { ServerContext } from "../context.js";

export function jobsApp(_ctx: ServerContext): Hono {
  return new Hono();
}
