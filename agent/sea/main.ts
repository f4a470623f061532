/**
 * The single executable's entry (`hat-agent`, built by agent/sea/build.ts): the `hat agent`
 * command with the wasm runtime read from the executable's own assets (hat.wasm, and
 * hat-threads.wasm for work on several threads), plus
 * `--version` and `--self-test` (load the runtime, profile a tiny architecture of the demo space,
 * print one JSON line). Run from the source tree (node --import tsx agent/sea/main.ts) it uses
 * build/hat*.wasm instead.
 */
import * as sea from "node:sea";
import { isInputError } from "../../runtime/errors.js";
import { agentCommand, AGENT_USAGE } from "../command.js";
import { smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { profileArch } from "../../runtime/profile.js";
import { protocolOf } from "../../runtime/protocol.js";
import { loadWasm, wasmBuild } from "../../runtime/wasm-node.js";
import { AGENT_VERSION, wasmFeatures } from "../hardware.js";

/** The runtime's bytes and build name, single-threaded and threaded: the executable's assets, or the source tree's builds (undefined). */
function runtimeWasm(): { bytes?: Uint8Array<ArrayBuffer>; build: string; threadBytes?: Uint8Array<ArrayBuffer>; threadBuild?: string } {
  if (sea.isSea()) {
    return { bytes: new Uint8Array(sea.getAsset("hat.wasm")), build: "hat.wasm", threadBytes: new Uint8Array(sea.getAsset("hat-threads.wasm")), threadBuild: "hat-threads.wasm" };
  }
  return { build: wasmBuild() };
}

function selfTest(): Record<string, unknown> {
  const w = runtimeWasm();
  const f = wasmFeatures();
  const arch = smallestArch(DEMO_SPACE);
  const t0 = performance.now();
  const m = profileArch(arch, protocolOf({ vocab: 1000, src_len: 8, tgt_len: 8, beam: 2, runs: 5, warmup: 1 }), { wasm: w.bytes ? loadWasm(w.bytes) : loadWasm(), build: w.build });
  return {
    ok: Number.isFinite(m.total_ms) && m.total_ms > 0, version: AGENT_VERSION, node: process.version, platform: process.platform, arch: process.arch,
    sea: sea.isSea(), build: w.build, wasm_simd: f.simd, wasm_relaxed_simd: f.relaxedSimd,
    encoder_ms: m.encoder_ms, decoder_ms: m.decoder_ms, total_ms: m.total_ms, params: m.params, runs: m.protocol.runs,
    self_test_ms: performance.now() - t0,
  };
}

async function main(argv: string[]): Promise<number> {
  const io = { out: (s: string) => process.stdout.write(s + "\n"), err: (s: string) => process.stderr.write(s + "\n") };
  if (argv[0] === "--version" || argv[0] === "-v") {
    io.out(`hat-agent ${AGENT_VERSION} (node ${process.version}, ${process.platform}-${process.arch})`);
    return 0;
  }
  if (argv[0] === "--help" || argv[0] === "-h") {
    io.out(AGENT_USAGE.replace(/hat agent/g, "hat-agent") + "\n\nhat-agent --version | --self-test (profile a tiny architecture, print one JSON line)");
    return 0;
  }
  try {
    if (argv[0] === "--self-test") {
      const r = selfTest();
      io.out(JSON.stringify(r));
      return r.ok ? 0 : 1;
    }
    const w = runtimeWasm();
    await agentCommand(argv, io, { wasmBytes: w.bytes, build: w.build, threadWasmBytes: w.threadBytes, threadBuild: w.threadBuild });
    return 0;
  } catch (e) {
    io.err(`hat-agent: ${(e as Error).message}`);
    return isInputError(e) ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  process.stderr.write(`hat-agent: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
