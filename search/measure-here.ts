/**
 * Candidates measured on this machine (`hat search --measure`): each in this process's wasm
 * runtime with the predictor's protocol, steadily (runtime/steady.ts: framed by the reference
 * architecture, measured again while the machine runs slow), as a latency row of this machine
 * with its speed factor (docs/method.md §11).
 */
import { loadavg } from "node:os";
import { hatFeatures } from "../runtime/arch-features.js";
import type { Protocol } from "../runtime/protocol.js";
import { measureSteady, primeGauge, SpeedGauge } from "../runtime/steady.js";
import { deviceLabel, thisDevice, type LatencyRow } from "../latency/dataset.js";
import type { CandidateMeasurer } from "./closed-loop.js";

/** The rounds of a candidate this far apart (ms): at different moments, as a campaign's (runtime/profile.ts roundGapMs). */
const ROUND_GAP_MS = 500;

export function hereMeasurer(protocol: Protocol, log?: (line: string) => void): CandidateMeasurer {
  const device = thisDevice(), gauge = new SpeedGauge();
  return {
    where: `this machine (${deviceLabel(device)})`,
    async measure(archs) {
      await primeGauge(gauge, protocol);
      const rows: LatencyRow[] = [];
      for (const arch of archs) {
        const s = await measureSteady(arch, protocol, { gauge, log, profile: { roundGapMs: ROUND_GAP_MS } });
        const m = s.result;
        rows.push({
          features: hatFeatures(arch), encoder_ms: m.encoder_ms, decoder_ms: m.decoder_ms, encoder_std_ms: m.encoder_std_ms, decoder_std_ms: m.decoder_std_ms,
          arch, protocol: m.protocol, device, load1: loadavg()[0], measured_at: new Date().toISOString(), speed: s.speed, ref_ms: s.ref_ms,
        });
      }
      return rows;
    },
  };
}
