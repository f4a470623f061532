/**
 * build/hat-component.wasm (wit/hat.wit, assembly/component/) driven from wasmtime, the reference
 * non-JS host, through the Python `wasmtime` package (test/component/wasmtime_driver.py), against
 * the Node host on the same model files: tokens equal data/bpe.ts's, translations token for token
 * equal runtime/decode.ts's beam search, scores within 1e-5 of runtime/decode.ts score, latency
 * by the protocol; bad model files and bad calls are error results with runtime/format.ts's
 * codes, and the component keeps working after them (no trap). Skips when python3 cannot import
 * wasmtime (`pip install wasmtime`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Bpe } from "../../data/bpe.js";
import { superDims } from "../../runtime/arch.js";
import { largestArch, sampleArch } from "../../runtime/arch-sample.js";
import { crc32 } from "../../runtime/crc32.js";
import { beamSearch, score, translateLines } from "../../runtime/decode.js";
import { decodeModel, encodeModel, ModelFormatError } from "../../runtime/format.js";
import { exportSubTransformer, HatModel, quantizeModel } from "../../runtime/model.js";
import { SPECIALS, type Space } from "../../runtime/types.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { randomTensors, superTensorShapes } from "../../runtime/weights.js";
import { headerOf, supernetWithTokenizer } from "../model-files.js";
import { repoRoot, rng, TINY_SPACE } from "../helpers.js";
import { unicodeTablesSource, UNICODE_FILE } from "./unicode-gen.js";
import { hat } from "../cli/hat.js";
import { COMPONENT, ensureComponent } from "./build.js";

const python = spawnSync("python3", ["-c", "from wasmtime.component import Linker; Linker.add_wasip2"], { encoding: "utf8" });
const hasWasmtime = python.status === 0;
if (!hasWasmtime) console.warn("skipping the wasmtime component tests: python3 cannot import the wasmtime package with its component API (pip install wasmtime)");

const DRIVER = join(repoRoot, "test", "component", "wasmtime_driver.py");

type Job = Record<string, unknown> & { op: string };
type Outcome = { ok?: any; err?: { code: string; message: string }; trap?: string; ms: number };

const dir = mkdtempSync(join(tmpdir(), "hat-component-"));
let jobCount = 0;

/** Run jobs in one component instance under wasmtime, `dir` preopened as "models"; one outcome each (a trap ends the list). */
function drive(jobs: Job[], preopens: string[] = [`${dir}=models`]): Outcome[] {
  const file = join(dir, `jobs-${jobCount++}.json`);
  writeFileSync(file, JSON.stringify(jobs));
  const r = spawnSync("python3", [DRIVER, COMPONENT, file, ...preopens], { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`wasmtime driver failed (${r.status}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as Outcome[];
  for (const o of out) if (o.trap) throw new Error(`the component trapped: ${o.trap}`);
  expect(out).toHaveLength(jobs.length);
  return out;
}

// ---- models -----------------------------------------------------------------------------------

/** TINY_SPACE with 3 encoder layers, so that decoder layers may attend the last 1..3 (and validateSpace accepts it). */
const SPACE: Space = { ...TINY_SPACE, encoderLayerChoices: [3] };
const texts = [
  "the cat sat on the mat", "a dog runs in the park", "hello world", "the quick brown fox jumps over the lazy dog",
  "Grüße aus Köln, 2024!", "naïve café", "one two three four five",
];
const bpe = Bpe.train(texts, { vocabSize: 330, byteFallback: true, minFrequency: 1 });
const V = bpe.vocabSize;
const d = superDims(SPACE);
/** Random weights with the eos row of the embedding (so the eos logit) scaled up 4x: hypotheses end at
 *  different lengths, so the length penalty and the finished-hypothesis rules decide the output. */
const superTensors = randomTensors(superTensorShapes(SPACE, V), 3);
{
  const e = superTensors.get("embed.tokens")!, D = e.shape[1];
  for (let j = 0; j < D; j++) e.data[SPECIALS.eos * D + j] *= 4;
}
const superBytes = supernetWithTokenizer(SPACE, bpe, superTensors);
const subArch = sampleArch(SPACE, rng(11));
const subBytes = exportSubTransformer(decodeModel(superBytes), subArch);
const quantBytes = quantizeModel(decodeModel(subBytes), { bits: 4, method: "kmeans" }).bytes;
const linearBytes = quantizeModel(decodeModel(subBytes), { bits: 8, method: "linear" }).bytes;
const noTokBytes = encodeModel({
  kind: "supertransformer", space: SPACE, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
  vocab: { size: V, ...SPECIALS }, meta: {},
}, randomTensors(superTensorShapes(SPACE, V), 4));

const files: Record<string, Uint8Array> = { super: superBytes, sub: subBytes, kmeans4: quantBytes, linear8: linearBytes, notok: noTokBytes };
const paths: Record<string, string> = {};
for (const [name, b] of Object.entries(files)) writeFileSync((paths[name] = join(dir, `${name}.hatm`)), b);
/** Every model opened (`open`, through WASI: much faster from Python than `load`'s list<u8>). */
const loadJobs = (): Job[] => Object.keys(files).map((name) => ({ op: "open", path: `models/${name}.hatm`, as: name }));

/** The Node host on build/hat.wasm (the baseline SIMD build, the kernels the component holds). */
const hatWasm = new Uint8Array(readFileSync(join(repoRoot, "build", "hat.wasm")));
// `hat translate` in this process runs the same build (not the relaxed-SIMD one, whose fused multiply-adds round differently)
process.env.HAT_WASM = join(repoRoot, "build", "hat.wasm");
function nodeModel(name: string) {
  const m = HatModel.fromBytes(files[name], loadWasm(hatWasm));
  return m.subnet(m.defaultArch);
}

const sentences = [
  "the cat runs", "hello dog", "over the mat", "Köln café naïve", "a quick brown dog jumps in the park",
  "2024 and 1999", "zebra!", "the the the the", "x", "emoji 🙂 and 日本語",
];

// ---- a file's header rewritten (CRC recomputed), to make it lie ---------------------------------

function withHeader(from: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const h = headerOf(from), data = from.subarray(h.dataOffset, h.dataOffset + h.dataBytes);
  const version = new DataView(from.buffer, from.byteOffset).getUint32(4, true);
  edit(h);
  for (let off = Math.ceil((12 + 16) / 64) * 64; ; off += 64) {
    const text = new TextEncoder().encode(JSON.stringify({ ...h, dataOffset: off }));
    if (12 + text.length > off) continue;
    const out = new Uint8Array(off + data.length + 8), view = new DataView(out.buffer);
    out.set(new TextEncoder().encode("HATM"));
    view.setUint32(4, version, true);
    view.setUint32(8, text.length, true);
    out.set(text, 12);
    out.set(data, off);
    view.setUint32(out.length - 8, crc32(out.subarray(0, out.length - 8)), true);
    out.set(new TextEncoder().encode("MTAH"), out.length - 4);
    return out;
  }
}

/** The code the Node host's load gives a file (a ModelFormatError's code, bad-arch for an ArchError). */
function nodeCode(bytes: Uint8Array): string {
  try {
    HatModel.fromBytes(bytes, loadWasm(hatWasm));
  } catch (e) {
    if (e instanceof ModelFormatError) return e.code;
    if ((e as Error).name === "ArchError") return "bad-arch";
    return `(${(e as Error).name}: ${(e as Error).message})`;
  }
  return "(loaded)";
}

describe.skipIf(!hasWasmtime)("the component under wasmtime", () => {
  beforeAll(() => ensureComponent(), 200_000);

  it("is a component of the world in wit/hat.wit (jco wit)", () => {
    const wit = execFileSync("npx", ["jco", "wit", COMPONENT], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    for (const f of ["load", "open", "unload", "info", "tokenize", "decode", "translate", "score", "profile"]) expect(wit).toContain(`export ${f}: func(`);
    expect(wit).toContain("import wasi:clocks/monotonic-clock@0.2.0;");
    expect(wit).toContain("import wasi:filesystem/preopens@0.2.0;");
  });

  it("tokenizes exactly as data/bpe.ts (chunks, merges, byte fallback, long runs)", () => {
    const r = rng(5), pool = ["a", "b", "é", "ß", " ", "  ", "\t", "\n", "7", "٣", "!", "?", "🙂", "日", "e\u0301", "-", "'"];
    const cases = [
      "", " ", "  two leading", "trailing  ", "tab\tand\nnewline", "Grüße aus Köln", "日本語のテキスト", "🙂🙂 emoji",
      "2024abc", "x".repeat(250), "é".repeat(99) + "🙂" + "é".repeat(120), "!".repeat(130) + "🙂",
      ...Array.from({ length: 40 }, () => Array.from({ length: 1 + Math.floor(r() * 30) }, () => pool[Math.floor(r() * pool.length)]).join("")),
    ];
    const out = drive([{ op: "load", path: paths.super, as: "m" }, ...cases.map((text) => ({ op: "tokenize", model: "m", text }))]);
    cases.forEach((text, i) => expect(out[i + 1].ok, JSON.stringify(text)).toEqual(bpe.encode(text)));
  });

  it("the tokenizer's character classes are this Node's (assembly/component/unicode.ts is current)", () => {
    expect(readFileSync(UNICODE_FILE, "utf8"), "regenerate: npx tsx test/component/unicode-gen.ts").toBe(unicodeTablesSource());
  }, 30_000);

  it("translates token for token as the Node host's beam search (SuperTransformer, compact, 4- and 8-bit quantized)", () => {
    const jobs: Job[] = loadJobs();
    const want: { tokens: number[]; text: string }[] = [];
    for (const name of ["super", "sub", "kmeans4", "linear8"]) {
      const sub = nodeModel(name);
      for (const [beam, lenpen, maxLen] of [[4, 0.6, undefined], [2, 1.5, undefined], [1, 1, undefined], [5, 0.6, 7]] as const) {
        for (const text of sentences) {
          const src = [...bpe.encode(text), SPECIALS.eos];
          const o = { beam, lenpen, maxLen };
          want.push({ tokens: beamSearch(sub, [src], o)[0].tokens, text: translateLines(sub, bpe, [text], { ...o, batch: 1 })[0] });
          jobs.push({ op: "decode", model: name, source: src.slice(0, -1), beam, lenpen, max_len: maxLen ?? null });
          jobs.push({ op: "translate", model: name, text, beam, lenpen, max_len: maxLen ?? null });
        }
      }
    }
    const out = drive(jobs).slice(loadJobs().length);
    for (const o of out.slice(0, loadJobs().length)) expect(o.err).toBeUndefined();
    want.forEach((w, i) => {
      expect(out[2 * i].ok, `decode ${i}`).toEqual(w.tokens);
      expect(out[2 * i + 1].ok, `translate ${i}`).toBe(w.text);
    });
    // the outputs depend on the options: the length penalty changes some, hypotheses end early and late
    const n = sentences.length;
    expect(want.slice(0, n).some((w, i) => w.text !== want[n + i].text)).toBe(true);
    expect(want.some((w) => w.tokens.length === 0) && want.some((w) => w.tokens.length > 10)).toBe(true);
  }, 120_000);

  it("examples/translate-component.py prints what `hat translate --batch 1` prints, line for line", async () => {
    const input = join(dir, "in.txt");
    writeFileSync(input, sentences.join("\n") + "\n");
    const cli = await hat("translate", "--model", paths.super, "--input", input, "--batch", "1");
    expect(cli.code, cli.err).toBe(0);
    const py = spawnSync("python3", [join(repoRoot, "examples", "translate-component.py"), paths.super, "--component", COMPONENT], { input: readFileSync(input), encoding: "utf8" });
    expect(py.status, py.stderr).toBe(0);
    expect(py.stdout).toBe(cli.out);
    writeFileSync(join(dir, "cut.hatm"), subBytes.subarray(0, 1000));
    const bad = spawnSync("python3", [join(repoRoot, "examples", "translate-component.py"), join(dir, "cut.hatm"), "--component", COMPONENT], { input: "x\n", encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("hat component: truncated: model/cut.hatm: file is truncated");
  });

  it("a blank line translates to an empty line; max-len caps the output", () => {
    const out = drive([
      { op: "open", path: "models/sub.hatm", as: "m" },
      { op: "translate", model: "m", text: "  \t " }, { op: "translate", model: "m", text: "" },
      { op: "decode", model: "m", source: [300, 301], max_len: 2 },
    ]);
    expect(out[1].ok).toBe("");
    expect(out[2].ok).toBe("");
    expect(out[3].ok.length).toBeLessThanOrEqual(1);
  });

  it("scores within 1e-5 of runtime/decode.ts score (per-token log-probs, their sum)", () => {
    const pairs = [["the cat runs", "a dog sat"], ["hello", "Köln 🙂"], ["x", ""], ["over the lazy dog", "the quick brown fox jumps"]];
    const out = drive([...loadJobs(), ...pairs.map(([source, target]) => ({ op: "score", model: "sub", source, target }))]).slice(loadJobs().length);
    const sub = nodeModel("sub");
    pairs.forEach(([s, t], i) => {
      const ref = score(sub, [[...bpe.encode(s), SPECIALS.eos]], [bpe.encode(t)], 0);
      const got = out[i].ok;
      expect(got["token-log-probs"]).toHaveLength(ref.tokenLogProbs[0].length);
      got["token-log-probs"].forEach((x: number, j: number) => expect(Math.abs(x - ref.tokenLogProbs[0][j])).toBeLessThan(1e-5));
      expect(Math.abs(got["log-prob"] + ref.nll)).toBeLessThan(1e-5 * ref.tokens);
    });
  });

  it("describes the model (info) and measures latency by the protocol (profile), for its arch or another of its space", () => {
    const other = largestArch({ ...SPACE, encoderFfnChoices: [20], decoderLayerChoices: [1] });
    const out = drive([
      { op: "open", path: "models/super.hatm", as: "m" }, { op: "open", path: "models/sub.hatm", as: "s" },
      { op: "info", model: "m" }, { op: "info", model: "s" },
      { op: "profile", model: "m", runs: 5, warmup: 1, src_len: 12, tgt_len: 8, beam: 2, trim: 0.2 },
      { op: "profile", model: "m", arch: JSON.stringify(other), runs: 3, warmup: 0, src_len: 12, tgt_len: 8, beam: 2 },
      { op: "profile", model: "s", arch: JSON.stringify(largestArch(SPACE)) }, // a compact model holds only its own slices
      { op: "profile", model: "m", arch: JSON.stringify({ ...other, qkvDim: 12 }) },
      { op: "profile", model: "m", arch: "{\"encoderEmbedDim\": 32," },
      { op: "profile", model: "m", runs: 0 },
      { op: "profile", model: "m", trim: 0.5 },
    ]);
    expect(out[2].ok).toMatchObject({ kind: "supertransformer", "vocab-size": V, "has-tokenizer": true, "format-version": 1 });
    expect(JSON.parse(out[2].ok.arch)).toEqual(largestArch(SPACE));
    expect(JSON.parse(out[3].ok.arch)).toEqual(subArch);
    expect(out[3].ok.kind).toBe("subtransformer");
    expect(out[3].ok.params).toBe(HatModel.fromBytes(subBytes, loadWasm(hatWasm)).params);
    for (const o of [out[4], out[5]]) {
      const l = o.ok;
      expect(l["encoder-ms"]).toBeGreaterThan(0);
      expect(l["decoder-ms"]).toBeGreaterThan(0);
      expect(l["total-ms"]).toBeCloseTo(l["encoder-ms"] + l["decoder-ms"], 9);
    }
    expect(out[6].err?.code).toMatch(/tensor-shape|tensor-missing/);
    expect(out[7].err?.code).toBe("bad-arch");
    expect(out[7].err?.message).toContain("qkvDim");
    expect(out[8].err?.code).toBe("bad-arch");
    expect(out[9].err).toMatchObject({ code: "bad-input", message: expect.stringContaining("runs") });
    expect(out[10].err).toMatchObject({ code: "bad-input", message: expect.stringContaining("trim") });
  });

  it("a truncated, damaged or lying model file is an error result with the Node host's code, and the component keeps working", () => {
    const h = headerOf(subBytes);
    const flip = subBytes.slice();
    flip[h.dataOffset + 100] ^= 1;
    const lengthLie = subBytes.slice();
    new DataView(lengthLie.buffer).setUint32(8, 0x7fffffff, true);
    const bad: [string, Uint8Array, string][] = [
      ["cut in half", subBytes.subarray(0, subBytes.length >> 1), "truncated"],
      ["cut to 10 bytes", subBytes.subarray(0, 10), "truncated"],
      ["empty", new Uint8Array(0), "truncated"],
      ["not a model", new TextEncoder().encode("GIF89a........................"), "bad-magic"],
      ["a byte flipped", flip, "checksum"],
      ["junk appended", new Uint8Array([...subBytes, 1, 2, 3]), "bad-length"],
      ["a header length past the end", lengthLie, "truncated"],
      ["a tensor bigger than the data", withHeader(subBytes, (x) => { x.tensors[3].shape = [4096, 4096]; }), "tensor-bounds"],
      ["two tensors overlapping", withHeader(subBytes, (x) => { x.tensors[2].offset = x.tensors[1].offset; }), "tensor-bounds"],
      ["a tensor missing", withHeader(subBytes, (x) => { x.tensors.splice(5, 1); }), "tensor-missing"],
      ["a shape too small", withHeader(subBytes, (x) => { x.tensors.find((t: any) => t.name === "embed.tokens").shape[1] = 8; }), "tensor-shape"],
      ["the vocabulary lying", withHeader(subBytes, (x) => { x.vocab.size = 9999; delete x.vocab.tokens; }), "arch-mismatch"],
      ["dataBytes lying", withHeader(subBytes, (x) => { x.dataBytes += 64; }), "truncated"],
      ["a bad kind", withHeader(subBytes, (x) => { x.kind = "transformer"; }), "bad-header"],
      ["an arch with heads not dividing qkv", withHeader(subBytes, (x) => { x.arch.encoderHeads[0] = 3; }), "bad-arch"],
      ["a space endeLayer beyond its encoder", withHeader(superBytes, (x) => { x.space.endeLayerChoices = [1, 4]; }), "bad-arch"],
      ["a quantized tensor's parts not fitting", withHeader(quantBytes, (x) => { x.tensors.find((t: any) => t.quant).quant.codebook = 8; }), "tensor-quant"],
    ];
    // header JSON the parser must refuse without recursing or allocating beyond its bytes
    const deep = "[".repeat(5000) + "]".repeat(5000);
    const badJson = ["{\"kind\": \"subtransformer\",", "{\"a\": \"\\ud800\\u12\"}", deep, "{\"x\": 1e999999, \"y\": \"\u0001\"}"];
    for (const j of badJson) {
      const text = new TextEncoder().encode(j), off = Math.ceil((12 + text.length) / 64) * 64;
      const out = new Uint8Array(off + 8), view = new DataView(out.buffer);
      out.set(new TextEncoder().encode("HATM"));
      view.setUint32(4, 1, true);
      view.setUint32(8, text.length, true);
      out.set(text, 12);
      view.setUint32(out.length - 8, crc32(out.subarray(0, out.length - 8)), true);
      out.set(new TextEncoder().encode("MTAH"), out.length - 4);
      bad.push([`header ${j.slice(0, 20)}`, out, "bad-header"]);
    }
    const jobs: Job[] = [{ op: "load", path: paths.sub, as: "good" }];
    // through `open` (fast), the small ones through `load` too: both end in the same checks
    bad.forEach(([name, bytes], i) => {
      writeFileSync(join(dir, `bad${i}.hatm`), bytes);
      jobs.push(bytes.length < 4096 ? { op: "load", path: join(dir, `bad${i}.hatm`), note: name } : { op: "open", path: `models/bad${i}.hatm`, note: name });
    });
    jobs.push({ op: "translate", model: "good", text: "the cat runs" }, { op: "load", path: paths.sub });
    const out = drive(jobs);
    bad.forEach(([name, bytes, code], i) => {
      expect(out[i + 1].err?.code, name).toBe(code);
      expect(out[i + 1].err?.message.length, name).toBeGreaterThan(10);
      if (bytes.length >= 4096) expect(out[i + 1].err?.message, name).toContain(`models/bad${i}.hatm: `);
      expect(nodeCode(bytes), `the Node host on: ${name}`).toBe(code);
    });
    expect(out[bad.length + 1].ok).toBe(translateLines(nodeModel("sub"), bpe, ["the cat runs"], { beam: 4, lenpen: 0.6 })[0]);
    expect(out[bad.length + 2].ok).toBeGreaterThan(out[0].ok);
  }, 60_000);

  it("random edits of the header (CRC recomputed): never a trap, and the Node host's verdict", () => {
    const r = rng(21), H = new DataView(subBytes.buffer, subBytes.byteOffset).getUint32(8, true);
    const alphabet = new TextEncoder().encode("{}[]\":,0123456789-.eE \\tnul");
    const cases: Uint8Array[] = [];
    for (let k = 0; k < 300; k++) {
      const b = subBytes.slice();
      for (let e = 0; e < 1 + Math.floor(r() * 3); e++) {
        const at = 12 + Math.floor(r() * H);
        b[at] = r() < 0.8 ? alphabet[Math.floor(r() * alphabet.length)] : Math.floor(r() * 256);
      }
      new DataView(b.buffer).setUint32(b.length - 8, crc32(b.subarray(0, b.length - 8)), true);
      cases.push(b);
    }
    cases.forEach((b, i) => writeFileSync(join(dir, `fuzz${i}.hatm`), b));
    const out = drive(cases.map((_, i) => ({ op: "open", path: `models/fuzz${i}.hatm` })));
    let errors = 0;
    cases.forEach((b, i) => {
      const node = nodeCode(b);
      if (node === "(loaded)") expect(out[i].ok, `case ${i}: the Node host loads it`).toBeGreaterThan(0);
      else { errors++; expect(out[i].err?.code, `case ${i}: ${node}`).toBe(node); }
    });
    expect(errors).toBeGreaterThan(150);
  }, 60_000);

  it("opens a model file through WASI's filesystem (a preopened directory), refusing paths outside it", () => {
    writeFileSync(join(dir, "cut.hatm"), subBytes.subarray(0, 1000));
    const out = drive([
      { op: "open", path: "models/sub.hatm", as: "m" }, { op: "translate", model: "m", text: "the cat runs" },
      { op: "open", path: "models/missing.hatm" }, { op: "open", path: "models/../escape.hatm" }, { op: "open", path: "other/sub.hatm" },
      { op: "open", path: "models/cut.hatm" }, { op: "open", path: "models" },
    ]);
    expect(out[0].ok).toBe(1);
    expect(out[1].ok).toBe(translateLines(nodeModel("sub"), bpe, ["the cat runs"], { beam: 4, lenpen: 0.6 })[0]);
    expect(out[2].err).toMatchObject({ code: "io", message: expect.stringContaining("no-entry") });
    expect(out[3].err).toMatchObject({ code: "io", message: expect.stringContaining("not-permitted") });
    expect(out[4].err).toMatchObject({ code: "io", message: expect.stringContaining("preopened: \"models\"") });
    expect(out[5].err).toMatchObject({ code: "truncated", message: expect.stringContaining("models/cut.hatm") });
    expect(out[6].err?.code).toBe("io");
  });

  it("bad calls are error results: handles, options, token ids, a model without a tokenizer", () => {
    writeFileSync(join(dir, "badtok.hatm"), withHeader(subBytes, (x) => { x.tokenizer.merges.push(99999, 5); }));
    const out = drive([
      { op: "open", path: "models/sub.hatm", as: "m" }, { op: "open", path: "models/notok.hatm", as: "n" },
      { op: "translate", handle: 99, text: "x" },
      { op: "decode", model: "m", source: [5, 6], beam: 0 },
      { op: "decode", model: "m", source: [5, 6], beam: 200 },
      { op: "decode", model: "m", source: [5, V] },
      { op: "decode", model: "m", source: Array(1024).fill(5) },
      { op: "decode", model: "m", source: [] },
      { op: "translate", model: "n", text: "the cat" },
      { op: "score", model: "n", source: "a", target: "b" },
      { op: "decode", model: "n", source: [5, 6, 7], beam: 2 },
      { op: "unload", model: "m" }, { op: "unload", model: "m" }, { op: "info", model: "m" },
      // a tokenizer that fails Bpe.fromJSON's checks: the model loads (as on the Node host), text calls fail
      { op: "open", path: "models/badtok.hatm", as: "b" }, { op: "translate", model: "b", text: "the cat" },
      { op: "decode", model: "b", source: [5, 6], beam: 2 },
    ]);
    expect(out[2].err?.code).toBe("bad-handle");
    expect(out[3].err).toMatchObject({ code: "bad-input", message: expect.stringContaining("beam") });
    expect(out[4].err).toMatchObject({ code: "bad-input", message: expect.stringContaining("beam") });
    expect(out[5].err).toMatchObject({ code: "bad-input", message: expect.stringContaining(`${V} is not a token id`) });
    expect(out[6].err).toMatchObject({ code: "bad-input", message: expect.stringContaining("1024") });
    expect(out[7].ok).toEqual(beamSearch(nodeModel("sub"), [[SPECIALS.eos]], { beam: 4, lenpen: 0.6 })[0].tokens);
    expect(out[8].err?.code).toBe("no-tokenizer");
    expect(out[9].err?.code).toBe("no-tokenizer");
    expect(out[10].ok).toEqual(beamSearch(nodeModel("notok"), [[5, 6, 7, SPECIALS.eos]], { beam: 2, lenpen: 0.6 })[0].tokens);
    expect(out[11].ok).toBeNull();
    expect(out[12].err?.code).toBe("bad-handle");
    expect(out[13].err?.code).toBe("bad-handle");
    expect(out[14].err).toBeUndefined();
    expect(out[15].err).toMatchObject({ code: "no-tokenizer", message: expect.stringContaining("merge") });
    expect(() => Bpe.fromJSON(headerOf(readFileSync(join(dir, "badtok.hatm"))).tokenizer)).toThrow(/merge/);
    expect(out[16].ok).toEqual(beamSearch(nodeModel("sub"), [[5, 6, SPECIALS.eos]], { beam: 2, lenpen: 0.6 })[0].tokens);
  });
});
