/**
 * The package as installed (issue 15, 10): package.json ships what `hat` and the library need,
 * `hat --version` prints the package's version; and the CLI's process behaviour (8, 11): a closed
 * stdout ends it quietly, progress is plain lines when stderr is not a terminal.
 * The full `npm pack` + global install is test/slow/pack.slow.ts (npm run test:slow).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hat } from "./hat.js";
import { hatCommandLine } from "../../cli/self.js";
import { Progress } from "../../cli/io.js";
import { smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** Run `hat argv` as a process; `closeStdout` closes the read end of its stdout at once. */
function run(argv: string[], o: { closeStdout?: boolean } = {}): Promise<{ code: number | null; out: string; err: string }> {
  const [cmd, ...args] = hatCommandLine();
  const c = spawn(cmd, [...args, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  if (o.closeStdout) c.stdout.destroy();
  else c.stdout.on("data", (d) => { out += d; });
  c.stderr.on("data", (d) => { err += d; });
  return new Promise((resolve) => c.on("close", (code) => resolve({ code, out, err })));
}

describe("package.json", () => {
  it("ships the CLI, dist/, the wasm and the runtime's types; prepack builds them", () => {
    expect(pkg.bin).toEqual({ hat: "bin/hat.js" });
    expect(existsSync(join(root, pkg.bin.hat))).toBe(true);
    for (const f of ["bin/hat.js", "dist/", "build/hat.wasm", "build/hat-relaxed.wasm"]) expect(pkg.files).toContain(f);
    expect(pkg.scripts.prepack).toBe("npm run build");
    expect(pkg.scripts.build).toMatch(/build:wasm.*build:ts/);
    expect(pkg.exports["."]).toEqual({ types: "./dist/runtime/index.d.ts", default: "./dist/runtime/index.js" });
    expect(existsSync(join(root, "runtime/index.ts"))).toBe(true);
    expect(JSON.parse(readFileSync(join(root, "tsconfig.build.json"), "utf8")).compilerOptions.declaration).toBe(true);
    // the benchmark peer is a devDependency: a global install never fetches it
    expect(pkg.devDependencies["onnxruntime-node"]).toBeDefined();
    expect(pkg.dependencies["onnxruntime-node"]).toBeUndefined();
  });

  it("the library entry exports the runtime", async () => {
    const lib = await import("../../runtime/index.js");
    for (const name of ["HatModel", "validateArch", "validateSpace", "beamSearch", "translateLines", "profileArch", "protocolOf", "decodeModel", "InputError", "DEMO_SPACE"]) {
      expect(typeof (lib as Record<string, unknown>)[name], name).not.toBe("undefined");
    }
  });

  it("hat --version prints the package's version", async () => {
    for (const flag of ["--version", "-v"]) {
      const r = await hat(flag);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(pkg.version);
    }
    expect((await hat("--help")).out).toContain(`hat-edge ${pkg.version}`);
  });
});

describe("the hat process", () => {
  it("ends quietly (exit 0, nothing on stderr) when its stdout is closed (hat ... | head -1)", async () => {
    const r = await run(["--help"], { closeStdout: true });
    expect(r.err).not.toMatch(/EPIPE|Error/);
    expect(r.code).toBe(0);
  });

  it("writes progress as plain lines when stderr is not a terminal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-progress-")), arch = join(dir, "arch.json");
    writeFileSync(arch, JSON.stringify(smallestArch(DEMO_SPACE)));
    const r = await run(["profile", "--arch", arch, "--vocab", "100", "--runs", "20", "--warmup", "1", "--src-len", "4", "--tgt-len", "3"]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/profiling 20\/20 runs\n/);
    expect(r.err).not.toMatch(/[\r\x1b]/);
  });

  it("Progress: in place on a terminal, plain and throttled lines elsewhere", () => {
    const tty: string[] = [], plain: string[] = [];
    const a = new Progress({ isTTY: true, write: (s) => tty.push(s) }), b = new Progress({ isTTY: false, write: (s) => plain.push(s) }, 60_000);
    for (const p of [a, b]) { p.update("step 1"); p.update("step 2"); p.update("valid 0.5", true); p.update("step 3"); p.done(); }
    expect(tty).toEqual(["\rstep 1\x1b[K", "\rstep 2\x1b[K", "\rvalid 0.5\x1b[K\n", "\rstep 3\x1b[K", "\n"]);
    expect(plain).toEqual(["step 1\n", "valid 0.5\n"]);
  });
});
