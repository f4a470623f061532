/**
 * What every part of the fleet shares (docs of the parts in fleet.ts): the server's context, who is
 * calling, and waiting. Waiting (long polls, a campaign waiting for rows) sleeps in short steps and
 * is woken early by `notify()` whenever something an agent or a campaign waits for changes in this
 * process. The parts import this file, never fleet.ts, which composes them.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { ServerContext } from "../context.js";
import { now } from "../db.js";

/** The calling agent (routes behind ctx.agent). */
export interface AgentCaller {
  agentId: string;
  deviceClass: string;
}

export function agentOf(c: Context): AgentCaller {
  const caller = c.var.caller;
  if (caller?.role !== "agent") throw new Error("agentOf on a route without the agent guard");
  return { agentId: caller.agentId, deviceClass: caller.deviceClass };
}

/** An agent's last_seen_at is rewritten at most this often (ms); see FleetCore.seen. */
export const SEEN_EVERY_MS = 10_000;

export class FleetCore {
  private closedFlag = false;
  private readonly waiters = new Set<() => void>();
  /** The long polls: woken by notify() but not by notify("rows"). */
  private readonly workWaiters = new Set<() => void>();

  constructor(readonly ctx: ServerContext) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The agent holding this token (sha256), unless unknown or revoked: server/auth.ts asks. */
  agentByTokenHash(hash: string): AgentCaller | undefined {
    const a = this.ctx.db.prepare(`SELECT id, device_class FROM agents WHERE token_hash = ? AND revoked_at IS NULL`)
      .get(hash) as { id: string; device_class: string } | undefined;
    return a && { agentId: a.id, deviceClass: a.device_class };
  }

  isRevoked(agentId: string): boolean {
    const a = this.ctx.db.prepare(`SELECT revoked_at FROM agents WHERE id = ?`).get(agentId) as { revoked_at: number | null } | undefined;
    return !a || a.revoked_at !== null;
  }

  /**
   * Marks the calling agent as seen now (every agent route; GET /v1/agents says who is online),
   * written only when the stored time is older than seenEveryMs: each write is a commit (an
   * fsync), and before this every agent request paid one on top of its own (docs/scaling.md).
   * An UPDATE that matches no row writes nothing.
   */
  readonly seen: MiddlewareHandler = async (c, next) => {
    const t = now();
    this.ctx.db.prepare(`UPDATE agents SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at <= ?)`)
      .run(t, agentOf(c).agentId, t - this.seenEveryMs);
    await next();
  };

  /** A quarter of the online window (two long polls and a lease: enrol.ts), at most SEEN_EVERY_MS. */
  get seenEveryMs(): number {
    const { maxWaitSeconds, leaseSeconds } = this.ctx.config;
    return Math.min(SEEN_EVERY_MS, ((2 * maxWaitSeconds + leaseSeconds) * 1000) / 4);
  }

  /**
   * Wakes the sleepers: something they wait for may have changed. `rows` (rows were stored) wakes
   * only the sleepers that wait for rows (a campaign's watcher), not the long polls: stored rows
   * make no work for another agent, and at a campaign's end, with most agents polling, waking
   * every poll on every chunk cost O(polling agents) per stored row (docs/scaling.md).
   */
  notify(what: "any" | "rows" = "any"): void {
    for (const wake of [...this.waiters]) wake();
    if (what === "any") for (const wake of [...this.workWaiters]) wake();
  }

  /**
   * Sleeps up to `ms`; returns early on notify() (`for: "work"`: not on notify("rows")), on abort
   * of `signal` and on close().
   */
  sleep(ms: number, signal?: AbortSignal, o: { for?: "anything" | "work" } = {}): Promise<void> {
    const set = o.for === "work" ? this.workWaiters : this.waiters;
    return new Promise<void>((resolve) => {
      if (this.closedFlag || signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Ends every wait (long polls answer 204); campaigns see `closed` and leave their leases as they are. */
  close(): void {
    this.closedFlag = true;
    this.notify();
  }
}
