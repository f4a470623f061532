/**
 * The package as a user installs it (issue 15, 10): `npm pack` (its prepack builds dist/ and the
 * wasm), `npm i -g --prefix TMP ./hat-edge-*.tgz`, then the installed `hat --version`, `hat --help`,
 * `hat profile` (the wasm found inside the package) and the library imported by its name.
 * Needs the npm registry (dependencies); minutes. Run with `npm run test:slow`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;

describe("npm pack + npm i -g", () => {
  it("gives a working hat and library", () => {
    const tmp = mkdtempSync(join(tmpdir(), "hat-pack-")), prefix = join(tmp, "prefix");
    const sh = (cmd: string, args: string[], cwd = tmp) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const tgz = sh("npm", ["pack", "--silent", "--pack-destination", tmp, root], root).trim().split("\n").pop()!;
    sh("npm", ["i", "-g", "--prefix", prefix, "--no-audit", "--no-fund", join(tmp, tgz)]);
    const hat = join(prefix, "bin", "hat");
    expect(sh(hat, ["--version"]).trim()).toBe(version);
    expect(sh(hat, ["--help"])).toMatch(/usage: hat <command>/);
    const arch = join(tmp, "arch.json");
    writeFileSync(arch, JSON.stringify({ encoderEmbedDim: 64, decoderEmbedDim: 64, encoderLayers: 1, decoderLayers: 1, encoderFfnDims: [64], encoderHeads: [2], decoderFfnDims: [64], decoderSelfHeads: [2], decoderCrossHeads: [2], decoderEndeLayers: [1], qkvDim: 64 }));
    expect(JSON.parse(sh(hat, ["profile", "--arch", arch, "--vocab", "100", "--runs", "3", "--warmup", "0", "--json"])).total_ms).toBeGreaterThan(0);
    // the library by its name, from a project whose node_modules holds the installed package
    const app = join(tmp, "app");
    mkdirSync(app);
    symlinkSync(join(prefix, "lib", "node_modules"), join(app, "node_modules"));
    const out = sh(process.execPath, ["--input-type=module", "-e", "const m = await import('hat-edge'); console.log(typeof m.HatModel, typeof m.validateArch, m.DEMO_SPACE.qkvDim > 0)"], app);
    expect(out.trim()).toBe("function function true");
  });
});
