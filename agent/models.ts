/**
 * Deployments (DeployWork): download the model with the agent's token, check its size and
 * sha256, load it into its own wasm instance with the form and threads of the work's protocol
 * (quant: f32, int8 products, or a quantized file's form, runtime/model.ts LoadOptions; threads:
 * agent/runtimes.ts; the deployment serves and measures what it says), check
 * it carries a tokenizer, warm it up on one line, store it (models/<sha256>.hatm, atomically), then switch to it with a single reference swap
 * (the old model serves until that moment), measure its latency with the work's protocol, steady
 * (runtime/steady.ts: a measurement taken while the machine runs slow is taken again, bounded;
 * the report carries the machine's `speed`), and report. Any failure before the switch reports `failed` and leaves the old model serving.
 * On start the last active model is reloaded from the state directory.
 */
import { Bpe } from "../data/bpe.js";
import { translateLines } from "../runtime/decode.js";
import type { DeploymentReport, DeployWork } from "../runtime/fleet-protocol.js";
import { HatModel } from "../runtime/model.js";
import type { Quant } from "../runtime/protocol.js";
import { measureSteady, primeGauge, SpeedGauge } from "../runtime/steady.js";
import type { ValidArch } from "../runtime/types.js";
import type { HatWasm } from "../runtime/wasm.js";
import type { WasmSubTransformer } from "../runtime/wasm-model.js";
import type { Runtimes } from "./runtimes.js";
import { AgentClient, StoppedError, UnauthorizedError } from "./client.js";
import { errText, type Log } from "./log.js";
import { SLICE_MS, warmUpOn } from "./profiler.js";
import { sha256Hex, type AgentState } from "./state.js";

/** The model serving /translate. */
export interface Serving {
  deploymentId: string;
  sha256: string;
  arch: ValidArch;
  vocabSize: number;
  sub: WasmSubTransformer;
  bpe: Bpe;
  /** The products it runs (the deployment's protocol.quant), on how many threads (protocol.threads). */
  quant: Quant;
  threads: number;
  /** Its wasm instance (closed when the model is replaced: its worker threads stop). */
  wasm: HatWasm;
}

/** Load `bytes` into a fresh wasm instance, running `quant` products, and check it can translate (throws otherwise). */
export function loadServing(bytes: Uint8Array, wasm: HatWasm, deploymentId: string, sha256: string, quant: Quant = "f32"): Serving {
  try {
    return loadOn(bytes, wasm, deploymentId, sha256, quant);
  } catch (e) {
    wasm.close();
    throw e;
  }
}

function loadOn(bytes: Uint8Array, wasm: HatWasm, deploymentId: string, sha256: string, quant: Quant): Serving {
  const model = HatModel.fromBytes(bytes, wasm, { quant });
  const h = model.header;
  if (!h.tokenizer) throw new Error("the model carries no tokenizer: it cannot translate text");
  const bpe = Bpe.fromJSON(h.tokenizer);
  if (bpe.vocabSize > model.vocabSize) throw new Error(`the tokenizer has ${bpe.vocabSize} tokens, the model only ${model.vocabSize}`);
  const arch = model.defaultArch;
  const sub = model.subnet(arch);
  const s: Serving = { deploymentId, sha256, arch, vocabSize: model.vocabSize, sub, bpe, quant, threads: wasm.threads, wasm };
  translateLines(sub, bpe, ["warm up"], { beam: 2, maxLen: 8 }); // warm-up: the first decode compiles and allocates
  return s;
}

/** The deployed model's latency: an unrecorded warm-up this long, then the fastest of the protocol's rounds. */
const MEASURE_WARMUP_MS = 1500;
/**
 * Its rounds this far apart (ms): taken at different moments, as a campaign's rounds are (they go
 * across the lease's batch), not back to back in one slow spell (a demo with a CPU hog and other
 * sessions beside it: the loop's candidate measured 4.03 ms in its campaign, the same model 8.66 ms
 * deployed, its three rounds back to back).
 */
export const DEPLOYMENT_ROUND_GAP_MS = 1000;

export interface ModelsOptions {
  state: AgentState;
  client: AgentClient;
  log: Log;
  /** A fresh wasm instance per loaded model (so an old model's memory and threads go with it),
   *  and the instances latency measurements run in, with their builds' names. */
  runtimes: Runtimes;
  /** The machine's speed gauge (runtime/steady.ts), shared with the profiler (default a new one). */
  gauge?: SpeedGauge;
}

export class Models {
  /** The model serving now; replaced by a single assignment. */
  current: Serving | undefined;
  private readonly gauge: SpeedGauge;

  constructor(private readonly o: ModelsOptions) {
    this.gauge = o.gauge ?? new SpeedGauge();
  }

  /** Serve the last active model kept in the state directory again, if any. */
  async restore(): Promise<void> {
    const a = this.o.state.activeModel();
    if (!a) return;
    const bytes = this.o.state.readModel(a.model_sha256);
    if (!bytes) {
      this.o.log(`the last active model ${a.model_sha256.slice(0, 12)} is not in ${this.o.state.modelsDir}: waiting for a deployment`);
      return;
    }
    try {
      const threads = a.threads ?? 1;
      this.current = loadServing(bytes, await this.o.runtimes.serving(threads), a.deployment_id, a.model_sha256, a.quant);
      this.o.log(`serving model ${a.model_sha256.slice(0, 12)} of deployment ${a.deployment_id} again (${a.quant ?? "f32"} products, ${threads} thread${threads === 1 ? "" : "s"})`);
    } catch (e) {
      this.o.log(`the last active model ${a.model_sha256.slice(0, 12)} does not load: ${errText(e)}`);
    }
  }

  /** Carry out a deployment and report it; returns the report (undefined when the agent stopped). */
  async deploy(work: DeployWork): Promise<DeploymentReport | undefined> {
    const { log, client } = this.o;
    log(`deployment ${work.deployment_id}: model ${work.model_sha256.slice(0, 12)} (${work.model_bytes} bytes)`);
    let report: DeploymentReport;
    try {
      report = await this.install(work);
    } catch (e) {
      if (e instanceof StoppedError || e instanceof UnauthorizedError) throw e;
      report = { state: "failed", error: errText(e).slice(0, 2000) };
    }
    log(`deployment ${work.deployment_id}: ${report.state}${report.measured_ms !== undefined ? `, ${report.measured_ms.toFixed(2)} ms` : ""}${report.error ? `: ${report.error}` : ""}`);
    try {
      await client.reportDeployment(work.deployment_id, report);
    } catch (e) {
      if (e instanceof StoppedError || e instanceof UnauthorizedError) throw e;
      log(`deployment ${work.deployment_id}: report not accepted: ${errText(e)}`);
    }
    return report;
  }

  private async install(work: DeployWork): Promise<DeploymentReport> {
    const { state, client, log } = this.o;
    const sha = work.model_sha256, quant = work.protocol.quant, threads = work.protocol.threads;
    if (this.current?.sha256 !== sha || this.current.quant !== quant || this.current.threads !== threads) {
      let bytes = state.readModel(sha);
      const stored = !!bytes;
      if (!bytes) {
        bytes = await client.download(work.model_url, work.model_bytes);
        const got = sha256Hex(bytes);
        if (bytes.byteLength !== work.model_bytes) throw new Error(`downloaded ${bytes.byteLength} bytes, the deployment says ${work.model_bytes}: the old model keeps serving`);
        if (got !== sha) throw new Error(`sha256 mismatch: expected ${sha}, got ${got}: the old model keeps serving`);
      }
      const next = loadServing(bytes, await this.o.runtimes.serving(threads), work.deployment_id, sha, quant);
      if (!stored) state.writeModel(sha, bytes); // before the switch, so a restart finds what is serving
      const old = this.current;
      this.current = next; // the switch
      setTimeout(() => old?.wasm.close(), 5000).unref(); // a request still decoding on it finishes first
    } else {
      this.current = { ...this.current, deploymentId: work.deployment_id };
    }
    state.saveActiveModel({ deployment_id: work.deployment_id, model_sha256: sha, quant, threads });
    state.pruneModels([sha]); // the old model's file is no longer needed: the new one is active
    log(`deployment ${work.deployment_id}: serving model ${sha.slice(0, 12)} (${quant} products, ${threads} thread${threads === 1 ? "" : "s"}); measuring its latency`);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const s = this.current, p = { ...work.protocol, vocab: s.vocabSize }; // the model's own vocabulary
    try {
      const { wasm, build } = await this.o.runtimes.measure(threads);
      const opts = { wasm, build, sliceMs: SLICE_MS, roundGapMs: DEPLOYMENT_ROUND_GAP_MS };
      // as a campaign's rows: an unrecorded warm-up first (right after loading and switching, the
      // first runs measured 2x slow: 6.1 ms against 3.0 ms a minute later), then the fastest of
      // rounds, steady (runtime/steady.ts: measured again while the reference runs slow)
      const first = await warmUpOn(s.arch, p, opts, MEASURE_WARMUP_MS);
      await primeGauge(this.gauge, p, { profile: opts });
      const st = await measureSteady(s.arch, p, { gauge: this.gauge, profile: opts, log: (l) => this.o.log(`deployment ${work.deployment_id}: ${l}`) });
      const m = st.result;
      this.o.log(`deployment ${work.deployment_id}: warm-up measured ${first.toFixed(2)} ms, then the fastest of ${p.rounds}: ${m.total_ms.toFixed(2)} ms (speed ${st.speed.toFixed(2)}${st.remeasured ? `, ${st.remeasured} re-measurement(s)` : ""})`);
      return { state: "active", measured_ms: m.total_ms, encoder_ms: m.encoder_ms, decoder_ms: m.decoder_ms, protocol: m.protocol, speed: st.speed, ref_ms: st.ref_ms };
    } catch (e) {
      return { state: "active", error: `serving, but the latency measurement failed: ${errText(e)}`.slice(0, 2000) };
    }
  }
}
