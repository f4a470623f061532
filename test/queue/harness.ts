/**
 * What the queue tests share: a redis-server of their own (127.0.0.1, a free port, a temp dir;
 * absent: the tests skip with a message), `hat` processes with their output kept, and waiting.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer as netServer, connect } from "node:net";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { hatCommandLine } from "../../cli/self.js";

const hasServer = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
/** ioredis resolved as server/queue/redis.ts resolves it (a package.json dependency: absent only before `npm install`). */
const hasClient = (() => {
  try {
    createRequire(new URL("../../server/queue/redis.ts", import.meta.url)).resolve("ioredis");
    return true;
  } catch {
    return false;
  }
})();
export const hasRedis = hasServer && hasClient;
export const noRedisMessage = !hasServer
  ? "redis-server is not installed (apt-get install redis-server): the queue tests skip"
  : "the ioredis package is not installed (npm install): the queue tests skip";

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = netServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 120_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve().then(f).catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Proc { child: ChildProcess; out: string[]; firstLine: Promise<string>; exited: Promise<number | null> }

/** A `hat` process; its stdout and stderr lines are kept in `out`. */
export function hat(args: string[], env: Record<string, string> = {}): Proc {
  const [cmd, ...pre] = hatCommandLine();
  const child = spawn(cmd, [...pre, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HAT_ADMIN_TOKEN: "", ...env } });
  const out: string[] = [];
  const keep = (l: string) => { out.push(l); if (out.length > 2000) out.splice(0, 1000); };
  createInterface({ input: child.stderr! }).on("line", keep);
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`hat ${args[0]} exited (${code}) before printing:\n${out.join("\n").slice(-3000)}`)));
  });
  lines.on("line", keep);
  firstLine.catch(() => { /* awaited by the tests that need it; a process that is meant to fail never prints */ });
  return { child, out, firstLine, exited };
}

export const kill = (c: ChildProcess, signal: NodeJS.Signals = "SIGKILL") => new Promise<void>((resolve) => {
  if (c.exitCode !== null || c.signalCode !== null) return resolve();
  c.once("exit", () => resolve());
  c.kill(signal);
});

/** Answers PING with PONG: Redis is up. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("error", () => resolve(false));
    s.once("connect", () => s.write("PING\r\n"));
    s.once("data", (b) => { s.destroy(); resolve(b.toString().startsWith("+PONG")); });
  });
}

/**
 * redis-server on 127.0.0.1:port with its files in `dir`, persisted as docs/scaling.md says
 * (appendonly, appendfsync always: what Redis acknowledged is on disk). Resolves when it answers.
 */
export async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true });
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"], { stdio: "ignore" });
  await until("redis-server to answer", () => ping(port), 20_000, 50);
  return child;
}
