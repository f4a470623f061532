/**
 * Who is calling. Every request but /v1/health, /openapi.json and agent enrolment carries
 * `Authorization: Bearer <token>`. The admin token (one per server) may change anything; an agent
 * token (issued at enrolment, revocable) may only use /v1/agent/* and download artifacts. No or an
 * unknown token: 401. A valid token on a route not meant for its holder: 403. Tokens are compared
 * by their sha256, so the database never holds one in clear.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./http.js";

export type Caller = { role: "admin" } | { role: "agent"; agentId: string; deviceClass: string };

export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");

/** A fresh random token with a readable prefix (hat_admin_, hat_enrol_, hat_agent_). */
export const newToken = (prefix: string): string => `hat_${prefix}_${randomBytes(24).toString("base64url")}`;

/** Looks an agent token up (server/fleet provides it): undefined when unknown or revoked. */
export type AgentLookup = (tokenHash: string) => { agentId: string; deviceClass: string } | undefined;

export function resolveCaller(header: string | undefined, adminHash: string, agents: AgentLookup): Caller | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return undefined;
  const h = hashToken(m[1]);
  if (timingSafeEqual(Buffer.from(h), Buffer.from(adminHash))) return { role: "admin" };
  const a = agents(h);
  return a ? { role: "agent", ...a } : undefined;
}

declare module "hono" {
  interface ContextVariableMap {
    caller: Caller;
  }
}

/** Lets through only callers whose role is in `roles`; sets c.var.caller. */
export function requireRole(adminHash: string, agents: AgentLookup, ...roles: Caller["role"][]): MiddlewareHandler {
  return async (c, next) => {
    const caller = resolveCaller(c.req.header("authorization"), adminHash, agents);
    if (!caller) {
      throw new ApiError(401, "unauthorized", c.req.header("authorization") ? "the token is not valid (unknown or revoked)" : "send Authorization: Bearer <token>");
    }
    if (!roles.includes(caller.role)) throw new ApiError(403, "forbidden", `this route is not for ${caller.role === "agent" ? "agents" : "the admin token"}`);
    c.set("caller", caller);
    await next();
  };
}
