/**
 * The Redis connection of the queue mode: a `redis://[user:password@]HOST:PORT[/DB]` URL checked
 * (an InputError naming the flag), and an ioredis client made for BullMQ. ioredis is loaded only
 * here, when the queue mode is asked for: the embedded mode never needs it.
 */
import { InputError } from "../../runtime/errors.js";

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL without its password, for log lines. */
  shown: string;
}

/** A redis:// (or rediss://) URL as a target; an InputError naming `flag` otherwise. */
export function parseRedisUrl(url: string, flag = "--queue"): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`${flag}: ${JSON.stringify(url)} is not a URL (give redis://HOST:PORT)`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new InputError(`${flag}: ${JSON.stringify(url)} is not a redis:// URL (give redis://HOST:PORT)`);
  if (!u.hostname) throw new InputError(`${flag}: ${JSON.stringify(url)} names no host`);
  const port = u.port === "" ? 6379 : Number(u.port);
  const path = u.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new InputError(`${flag}: the database number ${JSON.stringify(path)} is not 0..15`);
  const shown = `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.host}${db ? `/${db}` : ""}`;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ""), port, db, tls: u.protocol === "rediss:", shown,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** An ioredis client as BullMQ takes it (`connection`); typed loosely so the embedded mode builds without ioredis. */
export interface RedisClient {
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: string, f: (...a: unknown[]) => void): unknown;
  ping(): Promise<string>;
}

type IORedisCtor = new (o: Record<string, unknown>) => RedisClient;

/**
 * A client of `t` that waits through a Redis restart (BullMQ needs maxRetriesPerRequest null: its
 * commands are queued while Redis is away and sent when it is back). The server bounds each of
 * its own calls with a timeout (./backend.ts): its SQLite is the truth, and its poll tries again.
 */
export async function redisClient(t: RedisTarget, o: { name: string }): Promise<RedisClient> {
  let mod: { default?: unknown };
  try {
    mod = await import("ioredis") as { default?: unknown };
  } catch (e) {
    throw new Error(`the queue mode needs the ioredis package (npm install in hat-edge): ${(e as Error).message}`);
  }
  const Redis = (mod.default ?? mod) as IORedisCtor;
  return new Redis({
    host: t.host, port: t.port, db: t.db, username: t.username, password: t.password, ...(t.tls ? { tls: {} } : {}),
    connectionName: o.name, lazyConnect: false,
    maxRetriesPerRequest: null, enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  });
}
