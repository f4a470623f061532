/** `hat quantize`: a model file with its weight matrices quantized (K-means as in HAT, or linear). */
import { parseArgs } from "node:util";
import { readModelFile, writeQuantizedModel } from "../runtime/model-files.js";
import { KMEANS_INITS, QUANT_BITS, QUANT_METHODS, type KmeansInit, type QuantBits, type QuantMethod } from "../runtime/quant.js";
import { requireFlag } from "./args.js";
import { UsageError, type Io } from "./io.js";

const HELP = `usage: hat quantize --model IN --bits 4|8 [--method kmeans|linear] [--embed-bits 4|8|32] [--init uniform|quantile] --out OUT [--json]

Writes IN with every weight matrix (projections, FFN, embedding) quantized; biases and layer norms
stay f32. kmeans (default, HAT's): 2^bits centroids per matrix, initialised uniformly over
[min, max], at most 300 iterations. linear: a scale and zero point per output channel.
--embed-bits: the shared embedding's bits (default --bits; 32 keeps it f32): it is also the output
projection, the matrix 4 bits hurt most.
--init quantile (k-means): the centroids start at the values' quantiles instead of HAT's uniform
spacing; a lower squared error, but at 4 bits it loses the rare large weights and cost 1.4 BLEU more
on the demo model (docs/runtime.md).
The runtime dequantizes at load, so translate, profile, info and the agent run OUT unchanged.`;

export async function quantizeCommand(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: "string" }, bits: { type: "string" }, method: { type: "string" }, "embed-bits": { type: "string" }, init: { type: "string" }, out: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    io.out(HELP);
    return;
  }
  const bits = Number(requireFlag(values, "bits"));
  if (!QUANT_BITS.includes(bits as QuantBits)) throw new UsageError(`--bits must be ${QUANT_BITS.join(" or ")}, got '${values.bits}'`);
  const method = (values.method ?? "kmeans") as QuantMethod;
  if (!QUANT_METHODS.includes(method)) throw new UsageError(`--method must be ${QUANT_METHODS.join(" or ")}, got '${values.method}'`);
  const embedBits = values["embed-bits"] === undefined ? bits : Number(values["embed-bits"]);
  if (![...QUANT_BITS, 32].includes(embedBits)) throw new UsageError(`--embed-bits must be 4, 8 or 32, got '${values["embed-bits"]}'`);
  const init = (values.init ?? "uniform") as KmeansInit;
  if (!KMEANS_INITS.includes(init)) throw new UsageError(`--init must be ${KMEANS_INITS.join(" or ")}, got '${values.init}'`);
  if (values.init !== undefined && method !== "kmeans") throw new UsageError("--init goes with --method kmeans");
  const input = requireFlag(values, "model"), out = requireFlag(values, "out");
  const file = await readModelFile(input);
  const t0 = performance.now();
  const q = await writeQuantizedModel(file, { bits: bits as QuantBits, method, embedBits: embedBits as QuantBits | 32, init }, out);
  const seconds = (performance.now() - t0) / 1000;
  const r = {
    out, method, bits, embed_bits: embedBits, bytes: q.bytes, in_bytes: file.bytes.length, f32_bytes: q.f32Bytes, ratio: q.f32Bytes / q.bytes,
    quantized_tensors: q.quantized, f32_tensors: q.kept, quantized_params: q.quantizedParams, params: q.params, rel_rmse: q.relRmse, seconds,
  };
  if (values.json) io.out(JSON.stringify(r));
  else {
    io.out(`wrote ${out} (${(r.bytes / 2 ** 20).toFixed(2)} MiB, ${r.ratio.toFixed(1)}x smaller than its f32 tensors): ${method} ${bits} bits${embedBits !== bits ? ` (the embedding ${embedBits === 32 ? "f32" : `${embedBits} bits`})` : ""}, ` +
      `${q.quantized} matrices quantized, ${q.kept} tensors kept f32, relative RMS error ${q.relRmse.toExponential(2)}, ${seconds.toFixed(1)} s`);
  }
}
