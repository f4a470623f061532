/**
 * The component's translation time against the Node host's, on the same model and sentences
 * (docs/runtime.md, "The component"): `npx tsx test/component/measure.ts [rounds]`. Three hosts,
 * interleaved round by round, medians of the rounds: the Node host (runtime/decode.ts beam search
 * on build/hat.wasm, in process), the component under wasmtime (Python, test/component/
 * wasmtime_driver.py in its line mode, one process for all rounds; the time of the calls only,
 * Python's marshalling included, not of starting Python or loading the models) and
 * the component under Node (jco transpile). Two models with random weights: the demo space's
 * SuperTransformer (text: tokenize, beam search, detokenize) and a mid-size one (512-wide, 3+3
 * layers, FFN 2048, vocabulary 8000, 105 MB; token ids in and out). Prints JSON.
 */
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { Bpe } from "../../data/bpe.js";
import { beamSearch, translateLines } from "../../runtime/decode.js";
import { encodeModel } from "../../runtime/format.js";
import { HatModel } from "../../runtime/model.js";
import { profileArch } from "../../runtime/profile.js";
import { protocolOf } from "../../runtime/protocol.js";
import { largestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { SPECIALS, type Space } from "../../runtime/types.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { randomTensors, superTensorShapes } from "../../runtime/weights.js";
import { repoRoot, rng } from "../helpers.js";
import { supernetWithTokenizer } from "../model-files.js";

const rounds = Number(process.argv[2] ?? 5);
const tmp = mkdtempSync(join(repoRoot, "build", "measure-"));
const COMPONENT = join(repoRoot, "build", "hat-component.wasm");
const hatWasm = new Uint8Array(readFileSync(join(repoRoot, "build", "hat.wasm")));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const texts = ["the cat sat on the mat", "a dog runs in the park", "hello world", "the quick brown fox jumps over the lazy dog"];
const bpe = Bpe.train(texts, { vocabSize: 330, byteFallback: true, minFrequency: 1 });
const demo = supernetWithTokenizer(DEMO_SPACE, bpe, 1);
const MID: Space = {
  encoderEmbedChoices: [512], decoderEmbedChoices: [512], encoderFfnChoices: [2048], decoderFfnChoices: [2048],
  encoderLayerChoices: [3], decoderLayerChoices: [3], encoderHeadChoices: [8], decoderSelfHeadChoices: [8],
  decoderCrossHeadChoices: [8], endeLayerChoices: [1], qkvDim: 512,
};
const midV = 8000;
const mid = encodeModel({
  kind: "supertransformer", space: MID, positionDims: { encoder: 512, decoder: 512 }, vocab: { size: midV, ...SPECIALS }, meta: {},
}, randomTensors(superTensorShapes(MID, midV), 2));
writeFileSync(join(tmp, "demo.hatm"), demo);
writeFileSync(join(tmp, "mid.hatm"), mid);

const sentences = ["the cat runs in the park", "hello dog", "over the mat the fox jumps", "a quick brown dog", "the lazy cat sat", "world of the dog"];
const r = rng(3);
const midSrc = Array.from({ length: 4 }, () => Array.from({ length: 20 }, () => 4 + Math.floor(r() * (midV - 4))));
const o = { beam: 4, lenpen: 0.6 };
const midO = { beam: 4, lenpen: 0.6, maxLen: 24 };

const nodeDemo = (() => { const m = HatModel.fromBytes(demo, loadWasm(hatWasm)); return m.subnet(m.defaultArch); })();
const nodeMid = (() => { const m = HatModel.fromBytes(mid, loadWasm(hatWasm)); return m.subnet(m.defaultArch); })();

// the wasmtime driver in its line mode: a job a line in, a result a line out
const driver = spawn("python3", [join(repoRoot, "test", "component", "wasmtime_driver.py"), COMPONENT, "-", `${tmp}=models`], { stdio: ["pipe", "pipe", "inherit"] });
const lines = createInterface({ input: driver.stdout })[Symbol.asyncIterator]();
async function call(job: Record<string, unknown>): Promise<{ ok?: unknown; err?: unknown; ms: number }> {
  driver.stdin.write(JSON.stringify(job) + "\n");
  const r = JSON.parse((await lines.next()).value as string);
  if (r.err || r.trap) throw new Error(JSON.stringify(r));
  return r;
}
const loadMs = { demo_load: (await call({ op: "load", path: join(tmp, "demo.hatm"), as: "demo" })).ms, mid_open: (await call({ op: "open", path: "models/mid.hatm", as: "mid" })).ms };
async function wasmtimeRound(): Promise<{ demo: number; mid: number }> {
  let demoMs = 0, midMs = 0;
  for (const text of sentences) demoMs += (await call({ op: "translate", model: "demo", text, ...o })).ms;
  for (const source of midSrc) midMs += (await call({ op: "decode", model: "mid", source, beam: 4, lenpen: 0.6, max_len: midO.maxLen })).ms;
  return { demo: demoMs, mid: midMs };
}

mkdirSync(join(tmp, "js"), { recursive: true });
execFileSync("npx", ["jco", "transpile", COMPONENT, "-o", join(tmp, "js"), "--quiet"], { cwd: repoRoot, stdio: "pipe" });
const jco = await import(pathToFileURL(join(tmp, "js", "hat-component.js")).href);
const jDemo = jco.load(demo), jMid = jco.load(mid);

const res: Record<string, number[]> = { node_demo: [], wasmtime_demo: [], jco_demo: [], node_mid: [], wasmtime_mid: [], jco_mid: [], node_profile_mid: [], wasmtime_profile_mid: [] };
// the latency protocol on the mid model's architecture: the Node host's profileArch against the component's profile
const prof = { runs: 10, warmup: 2, src_len: 30, tgt_len: 30, beam: 4, trim: 0.1 };
const protocol = protocolOf({ ...prof, vocab: midV });
for (let i = 0; i < rounds; i++) {
  let t = performance.now();
  for (const s of sentences) translateLines(nodeDemo, bpe, [s], { ...o, batch: 1 });
  res.node_demo.push(performance.now() - t);
  t = performance.now();
  for (const s of midSrc) beamSearch(nodeMid, [[...s, SPECIALS.eos]], midO);
  res.node_mid.push(performance.now() - t);
  const w = await wasmtimeRound();
  res.wasmtime_demo.push(w.demo);
  res.wasmtime_mid.push(w.mid);
  t = performance.now();
  for (const s of sentences) jco.translate(jDemo, s, o);
  res.jco_demo.push(performance.now() - t);
  t = performance.now();
  for (const s of midSrc) jco.decode(jMid, s, midO);
  res.jco_mid.push(performance.now() - t);
  res.node_profile_mid.push(profileArch(largestArch(MID), protocol, { wasm: loadWasm(hatWasm) }).total_ms);
  const p = (await call({ op: "profile", model: "mid", ...prof })).ok as Record<string, number>;
  res.wasmtime_profile_mid.push(p["total-ms"]);
}
driver.stdin.end();
rmSync(tmp, { recursive: true, force: true });
const med = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, +median(v).toFixed(2)]));
console.log(JSON.stringify({
  rounds, medians_ms: med, wasmtime_load_ms: loadMs, demo_bytes: demo.length, mid_bytes: mid.length,
  ratio_wasmtime_vs_node: { demo: +(med.wasmtime_demo / med.node_demo).toFixed(2), mid: +(med.wasmtime_mid / med.node_mid).toFixed(2) },
  ratio_profile_wasmtime_vs_node: +(med.wasmtime_profile_mid / med.node_profile_mid).toFixed(2),
  ratio_jco_vs_node: { demo: +(med.jco_demo / med.node_demo).toFixed(2), mid: +(med.jco_mid / med.node_mid).toFixed(2) },
  component_bytes: statSync(COMPONENT).size, component_gzip_bytes: gzipSync(readFileSync(COMPONENT)).length, core_module_bytes: statSync(join(repoRoot, "build", "hat.wasm")).size,
}, null, 1));
