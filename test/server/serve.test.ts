/**
 * `hat serve` as a process (node --import tsx cli/entry.ts): it prints its URL as JSON, answers
 * /v1/health, keeps a generated admin token in DATA/admin-token (mode 600) and reuses it on the
 * next start, and closes cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "hat-serve-"));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Start `hat serve`; resolves with the child and its first stdout line (parsed). */
function serve(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; first: { url: string; admin_token_file: string | null }; stderr: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "cli/entry.ts", "serve", ...args], { cwd: ROOT, env: { ...process.env, HAT_ADMIN_TOKEN: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "", err = "";
  child.stderr!.on("data", (b: Buffer) => { err += b.toString(); });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hat serve printed nothing in 30 s; stderr: ${err}`)), 30_000);
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const i = out.indexOf("\n");
      if (i >= 0) {
        clearTimeout(t);
        resolve({ child, first: JSON.parse(out.slice(0, i)), stderr: () => err });
      }
    });
    child.on("exit", (code) => { clearTimeout(t); reject(new Error(`hat serve exited with ${code}: ${err}`)); });
  });
}

function exited(child: ChildProcess, ms = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("hat serve did not exit after SIGTERM")), ms);
    child.on("exit", (code) => { clearTimeout(t); resolve(code); });
  });
}

describe("hat serve", () => {
  it("serves, keeps its admin token, closes on SIGTERM", async () => {
    const data = join(dir, "data");
    const a = await serve(["--data", data, "--port", "0", "--json"]);
    expect(a.first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.first.admin_token_file).toBe(join(data, "admin-token"));
    expect((await (await fetch(`${a.first.url}/v1/health`)).json()).ok).toBe(true);
    expect(statSync(a.first.admin_token_file!).mode & 0o777).toBe(0o600);
    const token = readFileSync(a.first.admin_token_file!, "utf8").trim();
    const jobs = await fetch(`${a.first.url}/v1/jobs`, { headers: { authorization: `Bearer ${token}` } });
    expect(jobs.status).toBe(200);
    expect((await fetch(`${a.first.url}/v1/jobs`)).status).toBe(401);
    a.child.kill("SIGTERM");
    expect(await exited(a.child)).toBe(0);
    expect(a.stderr()).toMatch(/SIGTERM: closing/);

    // the next start reuses the token; a token from the environment wins over the file
    const b = await serve(["--data", data, "--port", "0", "--json"], { HAT_ADMIN_TOKEN: "from-the-environment" });
    expect(b.first.admin_token_file).toBeNull();
    expect((await fetch(`${b.first.url}/v1/jobs`, { headers: { authorization: "Bearer from-the-environment" } })).status).toBe(200);
    expect((await fetch(`${b.first.url}/v1/jobs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    b.child.kill("SIGINT");
    expect(await exited(b.child)).toBe(0);
    expect(readFileSync(join(data, "admin-token"), "utf8").trim()).toBe(token);
  });

  it("refuses a data directory another live server holds; takes over a dead one's lock", async () => {
    const data = join(dir, "locked");
    const a = await serve(["--data", data, "--port", "0", "--json"]);
    await expect(serve(["--data", data, "--port", "0", "--json"])).rejects.toThrow(/exited with 2: .*in use by another hat server \(pid \d+\)/s);
    a.child.kill("SIGKILL"); // no clean close: its lock stays behind
    await exited(a.child);
    const b = await serve(["--data", data, "--port", "0", "--json"]);
    expect((await (await fetch(`${b.first.url}/v1/health`)).json()).ok).toBe(true);
    b.child.kill("SIGTERM");
    expect(await exited(b.child)).toBe(0);
  });

  it("says what is wrong with its flags", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/entry.ts", "serve", "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let err = "";
    child.stderr!.on("data", (b: Buffer) => { err += b.toString(); });
    expect(await exited(child)).toBe(2);
    expect(err).toMatch(/--data DIR is required/);
    // a --corpus-root that is not a directory: one line, exit code 2, nothing served
    const bad = spawn(process.execPath, ["--import", "tsx", "cli/entry.ts", "serve", "--data", join(dir, "cr"), "--port", "0", "--corpus-root", join(dir, "no-such-corpus")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    children.push(bad);
    let badErr = "";
    bad.stderr!.on("data", (b: Buffer) => { badErr += b.toString(); });
    expect(await exited(bad)).toBe(2);
    expect(badErr).toMatch(/--corpus-root .*no-such-corpus: ENOENT/);
  });
});
