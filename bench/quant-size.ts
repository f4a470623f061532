/**
 * Quantizing a WMT-sized SubTransformer (random weights, V 32768): file sizes and the time each
 * form takes, the paper's size column (Table 7) on our format.
 *
 *   node --import tsx bench/quant-size.ts [ARCH.yml]   (default HAT's wmt14.en-de xeon@137.9ms)
 */
import { fileURLToPath } from "node:url";
import { loadArch } from "../runtime/arch-files.js";
import { decodeModel, encodeModel } from "../runtime/format.js";
import { quantizeModel } from "../runtime/model.js";
import type { QuantBits, QuantMethod } from "../runtime/quant.js";
import { SPECIALS } from "../runtime/types.js";
import { archTensorShapes, randomTensors } from "../runtime/weights.js";

const path = process.argv[2] ?? fileURLToPath(new URL("../../shared/data/hat-configs/wmt14.en-de/HAT_wmt14ende_xeon@137.9ms_bleu@25.8.yml", import.meta.url));
const arch = loadArch(path), V = 32768;
const f32 = encodeModel({
  kind: "subtransformer", arch, positionDims: { encoder: arch.encoderEmbedDim, decoder: arch.decoderEmbedDim }, vocab: { size: V, ...SPECIALS },
}, randomTensors(archTensorShapes(arch, V), 1));
const file = decodeModel(f32);
console.log(`${path.split("/").pop()}: V ${V}, ${(f32.length / 2 ** 20).toFixed(1)} MiB f32\n`);
console.log("| form | file | smaller | rel. RMS error | quantize time |\n|---|---|---|---|---|");
for (const [method, bits] of [["kmeans", 8], ["linear", 8], ["kmeans", 4], ["linear", 4]] as [QuantMethod, QuantBits][]) {
  const t0 = performance.now();
  const q = quantizeModel(file, { method, bits });
  const s = (performance.now() - t0) / 1000;
  console.log(`| ${method}${bits} | ${(q.bytes.length / 2 ** 20).toFixed(1)} MiB | ${(f32.length / q.bytes.length).toFixed(2)}x | ${q.relRmse.toExponential(2)} | ${s.toFixed(1)} s |`);
}
