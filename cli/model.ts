/** `hat init`, `hat export`, `hat info`: create, cut and inspect `.hatm` model files. */
import { parseArgs } from "node:util";
import { statSync } from "node:fs";
import { hatFeatures } from "../runtime/arch-features.js";
import { loadArch } from "../runtime/arch-files.js";
import { HatModel, randomSuperTransformer, readModelFile, writeModelFile, writeSubTransformer } from "../runtime/model.js";
import { intFlag, requireFlag, spaceArg } from "./args.js";
import type { Io } from "./io.js";

export async function initCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { space: { type: "string" }, vocab: { type: "string" }, seed: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    io.out("usage: hat init --space FILE|demo|wmt14|iwslt14 --out MODEL [--vocab 32768] [--seed 1]\n\nWrites a SuperTransformer of the space (project JSON or HAT space YAML) with random weights.");
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
  const m = await HatModel.fromFile(path);
  const h = m.header;
  const info = {
    path, bytes: statSync(path).size, kind: h.kind, vocab: h.vocab.size, params: m.params, tensors: h.tensors.length,
    arch: h.arch, space: h.space, features: h.arch ? hatFeatures(h.arch) : undefined, meta: h.meta,
    wasm_memory_bytes: m.weights.wasm.memoryBytes,
  };
  if (values.json) { io.out(JSON.stringify(info)); return; }
  io.out(`${path}: ${h.kind}, ${h.tensors.length} tensors, ${(m.params / 1e6).toFixed(2)} M parameters, vocabulary ${h.vocab.size}, checksum ok`);
  if (h.arch) io.out(`arch: ${JSON.stringify(h.arch)}`);
  if (h.space) io.out(`space: ${JSON.stringify(h.space)}`);
  io.out(`wasm memory after loading: ${(info.wasm_memory_bytes / 2 ** 20).toFixed(0)} MiB`);
}
