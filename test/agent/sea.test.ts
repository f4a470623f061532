/**
 * The single executable (agent/sea): build it (agent/sea/build.ts --if-stale: a few seconds when
 * the bundle, wasm and Node binary are unchanged, ~15 s otherwise, plus a one-time npm download
 * of the arm64 Node), run the x64 binary's --version and --self-test, and the arm64 one under
 * qemu-aarch64 when qemu and an aarch64 glibc (libc6-arm64-cross, libstdc++6-arm64-cross) are
 * installed. The x64 binary also enrols with a stand-in server and serves /health.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers.js";
import { fakeServer, until } from "./fake-server.js";

const hostOk = process.platform === "linux" && process.arch === "x64";
const x64 = join(repoRoot, "dist/agent/hat-agent-linux-x64");
const arm64 = join(repoRoot, "dist/agent/hat-agent-linux-arm64");
const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const qemu = ["qemu-aarch64-static", "qemu-aarch64"].find(which);
const sysroot = ["/usr/aarch64-linux-gnu", "/usr/gnemul/qemu-aarch64"].find((d) => existsSync(join(d, "lib/ld-linux-aarch64.so.1")));
const armSkip = !qemu ? "qemu-aarch64 is missing (apt-get install qemu-user-static)" : !sysroot ? "no aarch64 glibc for qemu (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)" : "";
if (armSkip) console.warn(`sea.test: the arm64 binary is not run: ${armSkip}`);

function run(cmd: string, args: string[], timeout = 60_000) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout, env: { ...process.env, QEMU_LD_PREFIX: sysroot ?? "" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!hostOk)("hat-agent single executable", () => {
  beforeAll(() => {
    const r = run(process.execPath, ["--import", "tsx", join(repoRoot, "agent/sea/build.ts"), "--if-stale"], 300_000);
    if (r.code !== 0) throw new Error(`agent/sea/build.ts failed (${r.code}):\n${r.err.slice(-3000)}`);
    const res = JSON.parse(r.out.trim().split("\n").pop()!);
    expect(res.bundle_bytes).toBeLessThan(8 * 2 ** 20); // no tfjs in it (the build checks its inputs too)
  }, 300_000);

  it("x64: --version and --self-test (the wasm from the executable's asset)", () => {
    const v = run(x64, ["--version"]);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^hat-agent \d+\.\d+\.\d+ \(node v20\.\d+\.\d+, linux-x64\)/);
    const t = run(x64, ["--self-test"]);
    expect(t.code, t.err).toBe(0);
    const j = JSON.parse(t.out.trim());
    expect(j).toMatchObject({ ok: true, sea: true, arch: "x64", platform: "linux", build: "hat.wasm", wasm_simd: true });
    expect(j.total_ms).toBeGreaterThan(0);
    expect(t.err).not.toMatch(/ExperimentalWarning|single executable/i);
  });

  it.skipIf(!!armSkip)("arm64 under qemu: --version and --self-test", (ctx) => {
    if (!existsSync(arm64)) ctx.skip("the arm64 executable was not built (no Node binary for linux-arm64: offline?)");
    const v = run(qemu!, [arm64, "--version"]);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toMatch(/linux-arm64\)/);
    const t = run(qemu!, [arm64, "--self-test"], 120_000);
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out.trim())).toMatchObject({ ok: true, sea: true, arch: "arm64", build: "hat.wasm", wasm_simd: true });
  });

  it("x64: enrols with a server, prints its first line, serves /health, stops on SIGTERM", async () => {
    const s = await fakeServer();
    const state = mkdtempSync(join(tmpdir(), "hat-sea-"));
    s.enrolTokens.add("sea-tok");
    const p = spawn(x64, ["--server", s.url, "--token", "sea-tok", "--state", state, "--port", "0", "--wait-s", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => p.on("exit", (code) => resolve(code)));
    try {
      await until(() => out.includes("\n"), 20_000, "the first stdout line");
      const first = JSON.parse(out.split("\n")[0]);
      expect(first).toMatchObject({ agent_id: "agent-1", device_class: "test-class" });
      expect(s.enrolments[0].hardware).toMatchObject({ arch: "x64", wasm_simd: true });
      const h = await (await fetch(`${first.translate_url}/health`)).json();
      expect(h).toMatchObject({ ok: true, agent_id: "agent-1", model_sha256: null });
      p.kill("SIGTERM");
      expect(await exited, err).toBe(0);
      expect(err).toMatch(/SIGTERM: stopping/);
    } finally {
      p.kill("SIGKILL");
      await s.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});

