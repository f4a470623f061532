/**
 * Candidates measured on this machine (`hat search --measure`): each in this process's wasm
 * runtime with the predictor's protocol, as a latency row of this machine (docs/method.md §11).
 */
import { loadavg } from "node:os";
import { hatFeatures } from "../runtime/arch-features.js";
import type { Protocol } from "../runtime/protocol.js";
import { deviceLabel, thisDevice, type LatencyRow } from "../latency/dataset.js";
import { measureWinner } from "./after.js";
import type { CandidateMeasurer } from "./closed-loop.js";

export function hereMeasurer(protocol: Protocol): CandidateMeasurer {
  const device = thisDevice();
  return {
    where: `this machine (${deviceLabel(device)})`,
    measure(archs) {
      return Promise.resolve(archs.map((arch): LatencyRow => {
        const m = measureWinner(arch, protocol);
        return {
          features: hatFeatures(arch), encoder_ms: m.encoder_ms, decoder_ms: m.decoder_ms, encoder_std_ms: m.encoder_std_ms, decoder_std_ms: m.decoder_std_ms,
          arch, protocol: m.protocol, device, load1: loadavg()[0], measured_at: new Date().toISOString(),
        };
      }));
    },
  };
}
