/**
 * Build the single-executable agent (Node SEA): `node --import tsx agent/sea/build.ts [--if-stale]`.
 *
 *   1. esbuild bundles agent/sea/main.ts into one CommonJS file (platform node, target node20);
 *      the build fails if training code or tfjs (or the server) got into it.
 *   2. sea-config.json: that file as main, build/hat.wasm as the asset `hat.wasm`, no snapshot and
 *      no code cache (so the one blob serves x64 and arm64); `node --experimental-sea-config`.
 *   3. For each target a Node binary of this Node's version gets the blob injected with postject:
 *      this process's own binary for the host's architecture, else `npm pack node-linux-<arch>`
 *      into build/cache (reused when present).
 * Outputs dist/agent/hat-agent-linux-x64 and dist/agent/hat-agent-linux-arm64 (or the targets
 * named: `... build.ts x64`). With --if-stale a target whose bundle, wasm and Node binary are those
 * of its last build is left as it is. A target whose Node binary cannot be fetched (offline) is
 * skipped with a message, unless --strict.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/** Inputs that must never be in the agent's bundle. */
const FORBIDDEN = /(^|\/)(train|server|search)\/|@tensorflow|onnxruntime|better-sqlite3/;

export type Target = "x64" | "arm64";

export interface BuildOptions {
  targets?: Target[];
  ifStale?: boolean;
  /** Node version of the binaries (default: this Node's). */
  nodeVersion?: string;
  /** Fail when a target's Node binary cannot be had (default: skip that target, unless it is the host's). */
  strict?: boolean;
  log?: (s: string) => void;
}

export interface BuildResult {
  outputs: { target: Target; path: string; bytes: number; rebuilt: boolean }[];
  bundleBytes: number;
  ms: number;
}

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** The Node binary for `target`: this one for the host's architecture, else from npm (cached). */
function nodeBinary(target: Target, version: string, log: (s: string) => void): string {
  if (process.platform === "linux" && process.arch === target && process.version === `v${version}`) return process.execPath;
  const cache = join(root, "build/cache");
  const dir = join(cache, `node-linux-${target}-${version}`);
  const bin = join(dir, "package/bin/node");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tgz = join(cache, `node-linux-${target}-${version}.tgz`);
  if (!existsSync(tgz)) {
    log(`fetching node-linux-${target}@${version} from npm (npm pack)`);
    execFileSync("npm", ["pack", `node-linux-${target}@${version}`, "--pack-destination", cache, "--silent"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  }
  execFileSync("tar", ["-xzf", tgz, "-C", dir, "package/bin/node"], { stdio: "inherit" });
  if (!existsSync(bin)) throw new Error(`${tgz} holds no package/bin/node`);
  return bin;
}

export async function buildAgent(o: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const log = o.log ?? ((s: string) => process.stderr.write(s + "\n"));
  const targets = o.targets ?? ["x64", "arm64"];
  const version = o.nodeVersion ?? process.version.slice(1);
  const wasm = join(root, "build/hat.wasm"), threadWasm = join(root, "build/hat-threads.wasm");
  for (const f of [wasm, threadWasm]) if (!existsSync(f)) throw new Error(`${relative(root, f)} not found: run \`npm run build:wasm\` first`);
  const work = join(root, "build/sea");
  const outDir = join(root, "dist/agent");
  mkdirSync(work, { recursive: true });
  mkdirSync(outDir, { recursive: true });

  // 1. one CommonJS file
  const bundle = join(work, "hat-agent.cjs");
  const r = await build({
    entryPoints: [join(root, "agent/sea/main.ts")], bundle: true, platform: "node", target: "node20", format: "cjs",
    outfile: bundle, metafile: true, minify: false, legalComments: "none", logLevel: "warning",
    // runtime/wasm.ts finds build/ next to itself through import.meta.url (not used in the executable: the asset is)
    banner: { js: "const __hat_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    define: { "import.meta.url": "__hat_import_meta_url" },
  });
  const inputs = Object.keys(r.metafile.inputs);
  const bad = inputs.filter((p) => FORBIDDEN.test(p));
  if (bad.length) throw new Error(`the agent bundle must not include training, search or server code, or tfjs; it has:\n  ${bad.slice(0, 20).join("\n  ")}`);
  const bundleBytes = statSync(bundle).size;
  const pkgs = [...new Set(inputs.map((p) => /node_modules\/((@[^/]+\/)?[^/]+)/.exec(p)?.[1]).filter(Boolean))].sort();
  log(`bundle ${relative(root, bundle)}: ${mib(bundleBytes)}, ${inputs.length} inputs; packages: ${pkgs.join(", ")}`);

  // 2. the blob
  const config = join(work, "sea-config.json");
  const blob = join(work, "sea-prep.blob");
  writeFileSync(config, JSON.stringify({
    main: relative(root, bundle), output: relative(root, blob),
    disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false,
    assets: { "hat.wasm": relative(root, wasm), "hat-threads.wasm": relative(root, threadWasm) },
  }, null, 2) + "\n");
  const stampOf = (target: Target, node: string) => sha256([sha256(readFileSync(bundle)), sha256(readFileSync(wasm)), sha256(readFileSync(threadWasm)), version, target, node, statSync(node).size].join("\n"));

  // 3. one executable per target
  const require = createRequire(import.meta.url);
  const { inject } = require("postject") as { inject: (file: string, name: string, data: Buffer, o: { sentinelFuse: string }) => Promise<void> };
  let blobMade = false;
  const outputs: BuildResult["outputs"] = [];
  for (const target of targets) {
    const out = join(outDir, `hat-agent-linux-${target}`);
    let node: string;
    try {
      node = nodeBinary(target, version, log);
    } catch (e) {
      // offline, say: the host's own executable can still be built; never leave a stale one behind
      if (o.strict || target === process.arch) throw e;
      rmSync(out, { force: true });
      rmSync(`${out}.stamp`, { force: true });
      log(`${relative(root, out)}: skipped: no Node ${version} binary for linux-${target} (${(e as Error).message.split("\n")[0]})`);
      continue;
    }
    const stamp = stampOf(target, node);
    const stampFile = `${out}.stamp`;
    if (o.ifStale && existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
      log(`${relative(root, out)}: up to date`);
      outputs.push({ target, path: out, bytes: statSync(out).size, rebuilt: false });
      continue;
    }
    if (!blobMade) {
      execFileSync(process.execPath, ["--experimental-sea-config", relative(root, config)], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
      blobMade = true;
    }
    const t1 = performance.now();
    const tmp = `${out}.tmp`;
    rmSync(tmp, { force: true });
    copyFileSync(node, tmp);
    chmodSync(tmp, 0o755);
    await inject(tmp, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
    renameSync(tmp, out);
    writeFileSync(stampFile, stamp);
    const bytes = statSync(out).size;
    log(`${relative(root, out)}: ${mib(bytes)} (node ${version} linux-${target}) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    outputs.push({ target, path: out, bytes, rebuilt: true });
  }
  const ms = performance.now() - t0;
  log(`hat-agent built in ${(ms / 1000).toFixed(1)} s`);
  return { outputs, bundleBytes, ms };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const targets = args.filter((a) => a === "x64" || a === "arm64") as Target[];
  buildAgent({ ifStale: args.includes("--if-stale"), strict: args.includes("--strict"), targets: targets.length ? targets : undefined }).then(
    (r) => process.stdout.write(JSON.stringify({ outputs: r.outputs, bundle_bytes: r.bundleBytes, ms: Math.round(r.ms) }) + "\n"),
    (e) => { process.stderr.write(`agent/sea/build: ${(e as Error).message}\n`); process.exit(1); },
  );
}
