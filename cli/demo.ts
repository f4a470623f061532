/**
 * `hat demo`: the main job, as far as the project goes today (docs/STATUS.md). On the built-in
 * demo design space it creates a SuperTransformer (random weights: training arrives with the
 * training issue), measures the latency of SubTransformers of the space in this machine's wasm
 * runtime with HAT's protocol, exports the fastest as a compact model, and checks that the
 * compact model decodes exactly like its slice of the SuperTransformer.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { archParams, DEMO_SPACE, hatFeatures, largestArch, sampleArch, smallestArch } from "../runtime/arch.js";
import { beamSearch } from "../runtime/decode.js";
import { exportSubTransformer, HatModel, randomSuperTransformer, writeModelFile } from "../runtime/model.js";
import { decodeModel } from "../runtime/format.js";
import { profileArch } from "../runtime/profile.js";
import { mulberry32 } from "../runtime/rng.js";
import { SPECIALS, type Arch } from "../runtime/types.js";
import { loadWasm } from "../runtime/wasm.js";
import { intFlag } from "./args.js";
import type { Io } from "./main.js";

export async function demoCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string" }, samples: { type: "string" }, runs: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    io.out("usage: hat demo [--out DIR (demo-out)] [--samples 6] [--runs 40] [--seed 1] [--json]");
    return;
  }
  const out = values.out ?? "demo-out", seed = intFlag(values, "seed", 1, 0), runs = intFlag(values, "runs", 40), samples = intFlag(values, "samples", 6);
  const log = (s: string) => (values.json ? process.stderr.write(s + "\n") : io.out(s));
  const t0 = performance.now();
  mkdirSync(out, { recursive: true });
  const V = 1000;

  log(`[1/4] SuperTransformer over the demo space (vocabulary ${V}, random weights, seed ${seed})`);
  const superBytes = randomSuperTransformer(DEMO_SPACE, V, seed);
  const superPath = join(out, "supernet.hatm");
  await writeModelFile(superPath, superBytes);
  const wasm = loadWasm();
  const supernet = HatModel.fromBytes(superBytes, wasm);
  log(`      ${superPath}: ${(supernet.params / 1e6).toFixed(2)} M parameters`);

  log(`[2/4] latency of ${samples} SubTransformers in this machine's wasm runtime (HAT's protocol, ${runs} runs each)`);
  const rng = mulberry32(seed);
  const archs: Arch[] = [smallestArch(DEMO_SPACE), largestArch(DEMO_SPACE)];
  while (archs.length < samples) archs.push(sampleArch(DEMO_SPACE, rng));
  const measured = archs.map((arch) => {
    const r = profileArch(arch, { vocab: V, runs, warmup: 5, seed, wasm });
    log(`      ${r.total_ms.toFixed(2).padStart(7)} ms (enc ${r.encoder_ms.toFixed(2)}, dec ${r.decoder_ms.toFixed(2)})  features ${hatFeatures(arch).map((f) => +f.toFixed(2)).join(",")}`);
    return { arch, ms: r.total_ms, encoder_ms: r.encoder_ms, decoder_ms: r.decoder_ms };
  });
  const fastest = measured.reduce((a, b) => (b.ms < a.ms ? b : a));

  log("[3/4] export the fastest as a compact SubTransformer");
  const subBytes = exportSubTransformer(decodeModel(superBytes), fastest.arch);
  const subPath = join(out, "subtransformer.hatm");
  await writeModelFile(subPath, subBytes);
  const sub = HatModel.fromBytes(subBytes, wasm);
  log(`      ${subPath}: ${(sub.params / 1e6).toFixed(2)} M parameters (SuperTransformer: ${(supernet.params / 1e6).toFixed(2)} M)`);

  log("[4/4] beam search (beam 4, at least 5 tokens) with the compact model and with its slice of the SuperTransformer\n      (random weights: the output ids mean nothing yet; they must be the same for both)");
  const r2 = mulberry32(seed + 1);
  const src = Array.from({ length: 4 }, () => [...Array.from({ length: 6 + Math.floor(r2() * 10) }, () => 4 + Math.floor(r2() * (V - 4))), SPECIALS.eos]);
  const a = beamSearch(sub.subnet(), src, { beam: 4, lenpen: 0.6, maxLen: 20, minLen: 5 });
  const b = beamSearch(supernet.subnet(fastest.arch), src, { beam: 4, lenpen: 0.6, maxLen: 20, minLen: 5 });
  const same = a.every((h, i) => h.tokens.join() === b[i].tokens.join());
  a.forEach((h, i) => log(`      src ${src[i].length} tokens -> ${h.tokens.length} tokens [${h.tokens.slice(0, 8).join(" ")}${h.tokens.length > 8 ? " ..." : ""}]`));
  log(`      compact == sliced: ${same ? "yes" : "NO"}`);
  if (!same) throw new Error("the compact model decodes differently from its slice of the SuperTransformer");
  const summary = {
    supernet: superPath, subtransformer: subPath, fastest_arch: fastest.arch, fastest_ms: fastest.ms,
    latencies_ms: measured.map((m) => m.ms), sub_params: archParams(fastest.arch, V), super_params: supernet.params,
    compact_equals_sliced: same, wasm_memory_bytes: wasm.memoryBytes, wall_s: (performance.now() - t0) / 1000,
  };
  log(`done in ${summary.wall_s.toFixed(1)} s`);
  if (values.json) io.out(JSON.stringify(summary));
}
