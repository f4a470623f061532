/** `hat init`, `hat export`, `hat info`: create, cut and inspect `.hatm` model files. */
import { parseArgs } from "node:util";
import { statSync } from "node:fs";
import { hatFeatures } from "../runtime/arch-features.js";
import { loadArch } from "../runtime/arch-files.js";
import { HatModel, randomSuperTransformer } from "../runtime/model.js";
import { loadModelFile, readModelFile, writeModelFile, writeSubTransformer } from "../runtime/model-files.js";
import { intFlag, requireFlag, spaceArg } from "./args.js";
import type { Io } from "./io.js";

export async function initCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { space: { type: "string" }, vocab: { type: "string" }, seed: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    io.out("usage: hat init --space FILE|demo|wmt14|iwslt14|multi30k|cpu-server --out MODEL [--vocab 32768] [--seed 1]\n\nWrites a SuperTransformer of the space (project JSON or HAT space YAML) with random weights.");
    return;
  }
  const space = spaceArg(requireFlag(values, "space"));
  const out = requireFlag(values, "out");
  const bytes = randomSuperTransformer(space, intFlag(values, "vocab", 32768, 8), intFlag(values, "seed", 1, 0));
  await writeModelFile(out, bytes);
  io.out(`wrote ${out} (${(bytes.length / 2 ** 20).toFixed(1)} MiB, SuperTransformer with random weights)`);
}

export async function exportCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: "string" }, arch: { type: "string" }, out: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    io.out("usage: hat export --model SUPERNET --arch FILE --out MODEL [--json]\n\nWrites the SubTransformer FILE as a compact standalone model: only its slices of the weights.");
    return;
  }
  const file = await readModelFile(requireFlag(values, "model"));
  const arch = loadArch(requireFlag(values, "arch"), file.header.space);
  const out = requireFlag(values, "out");
  const r = await writeSubTransformer(file, arch, out);
  if (values.json) io.out(JSON.stringify(r));
  else io.out(`wrote ${out} (${(r.bytes / 2 ** 20).toFixed(1)} MiB, ${(r.params / 1e6).toFixed(2)} M parameters)`);
}

export async function infoCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    io.out("usage: hat info --model FILE [--json]\n\nChecks a model file (header, checksum, tensors) and describes it.");
    return;
  }
  const path = requireFlag(values, "model");
  const m = await loadModelFile(path);
  const h = m.header;
  // quantized tensors by form ("kmeans4": count and parameters); the rest f32
  const forms = new Map<string, { method: string; bits: number; tensors: number; params: number }>();
  for (const e of h.tensors) {
    if (!e.quant) continue;
    const key = `${e.quant.method}${e.quant.bits}`, f = forms.get(key) ?? { method: e.quant.method, bits: e.quant.bits, tensors: 0, params: 0 };
    f.tensors++;
    f.params += m.file.tensors.get(e.name)!.data.length;
    forms.set(key, f);
  }
  const bytes = statSync(path).size;
  const info = {
    path, bytes, f32_bytes: 4 * m.params, quantization: [...forms.values()], format_version: h.tensors.some((e) => e.quant) ? 2 : 1,
    kind: h.kind, vocab: h.vocab.size, params: m.params, tensors: h.tensors.length,
    arch: h.arch, space: h.space, features: h.arch ? hatFeatures(h.arch) : undefined, meta: h.meta,
    wasm_memory_bytes: m.weights.wasm.memoryBytes,
  };
  if (values.json) { io.out(JSON.stringify(info)); return; }
  io.out(`${path}: ${h.kind}, ${h.tensors.length} tensors, ${(m.params / 1e6).toFixed(2)} M parameters, vocabulary ${h.vocab.size}, checksum ok`);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
  const q = [...forms.values()].map((f) => `${f.method} ${f.bits} bits: ${f.tensors} matrices, ${(f.params / 1e6).toFixed(2)} M parameters`).join("; ");
  io.out(`size: ${mib(bytes)} on disk, ${mib(info.f32_bytes)} as f32 (${(info.f32_bytes / bytes).toFixed(1)}x)${q ? `; quantized ${q}; the rest f32` : "; all tensors f32"}`);
  if (h.arch) io.out(`arch: ${JSON.stringify(h.arch)}`);
  if (h.space) io.out(`space: ${JSON.stringify(h.space)}`);
  io.out(`wasm memory after loading: ${(info.wasm_memory_bytes / 2 ** 20).toFixed(0)} MiB`);
}
