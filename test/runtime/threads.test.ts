/**
 * The threaded runtime (runtime/threads.ts, assembly/threads.ts): products split by columns over
 * 2..4 threads sharing one memory.
 *
 * - Kernels: f32 matmul (gemv, few rows, tiles), matmul_nt and int8 products at shapes with odd
 *   tails, split at every size (minWork 1), against a float64 reference (f32: relative 1e-5 of
 *   Σ|x·w|; int8: the bound of test/assembly/int8.test.ts) and equal, bit for bit, to the same
 *   product on one thread (each output column is computed by the same code either way).
 * - A model: beam decoding of a random SuperTransformer's largest and smallest SubTransformers,
 *   f32 and int8, gives the same logits on 1, 2 and 3 threads.
 * - Faults: a worker's trap fails the leader's call as a WasmTrapError naming it (no hang), and
 *   later split products fail too; threads outside 1..16 and a single-threaded build refused.
 */
import { describe, expect, it } from "vitest";
import { loadWasm, loadWasmThreads, readWasmBuilds } from "../../runtime/wasm-node.js";
import { ThreadsError, MAX_THREADS } from "../../runtime/threads.js";
import { WasmTrapError, type HatWasm } from "../../runtime/wasm.js";
import { HatModel, randomSuperTransformer } from "../../runtime/model.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { SPECIALS, type ValidArch } from "../../runtime/types.js";
import { packQ8, q8Source } from "../../runtime/int8.js";
import { rng } from "../helpers.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { profileArch, profileArchYielding } from "../../runtime/profile.js";
import { DEFAULT_PROTOCOL } from "../../runtime/protocol.js";
import { prepareThreads } from "../../runtime/wasm-node.js";
import { hat } from "../cli/hat.js";
import { supernetWithTokenizer } from "../model-files.js";
import { Bpe } from "../../data/bpe.js";

const builds = readWasmBuilds(true).filter((b) => WebAssembly.validate(b.bytes));
const OP_MATMUL = 0, OP_MATMUL_NT = 1, OP_Q8 = 2;

function rand(n: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** One product on `wasm` (op, W as the op stores it), y returned as a copy. */
function product(wasm: HatWasm, op: number, M: number, K: number, N: number, X: Float32Array, W: Float32Array | Uint8Array, bias: Float32Array): Float32Array {
  const m = wasm.mark();
  const px = wasm.putF32(X), pb = wasm.putF32(bias), py = wasm.alloc(M * N * 4);
  let pw: number;
  if (W instanceof Uint8Array) { pw = wasm.alloc(W.length); new Uint8Array(wasm.x.memory.buffer, pw, W.length).set(W); }
  else pw = wasm.putF32(W);
  const ldw = op === OP_MATMUL_NT ? K : N;
  wasm.call("product", () => wasm.x.product_op(op, py, px, pw, pb, M, K, N, K, ldw, N));
  const y = wasm.f32(py, M * N).slice();
  wasm.release(m);
  return y;
}

const SHAPES: [number, number, number][] = [[1, 37, 203], [3, 64, 100], [5, 512, 2048], [8, 33, 1003], [17, 96, 130], [40, 128, 520]];

for (const build of builds) describe(`${build.name}: products split over threads`, () => {
  for (const threads of [2, 4]) {
    it(`f32 matmul, matmul_nt and int8 on ${threads} threads equal one thread's and the float64 reference`, async () => {
      const wasm = await loadWasmThreads(threads, { bytes: build.bytes, minWork: 1 });
      const one = await loadWasmThreads(1, { bytes: build.bytes }); // the same build, no workers
      try {
        expect(wasm.threads).toBe(threads);
        const r = rng(threads);
        for (const [M, K, N] of SHAPES) {
          const X = rand(M * K, r), W = rand(K * N, r), bias = rand(N, r);
          // W [K, N] for matmul; its transpose [N, K] for matmul_nt: the same product
          const WT = new Float32Array(N * K);
          for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) WT[n * K + k] = W[k * N + n];
          const packed = packQ8(q8Source({ shape: [K, N], data: W }, 1), K, N);
          for (const [op, w] of [[OP_MATMUL, W], [OP_MATMUL_NT, WT], [OP_Q8, packed]] as const) {
            const y = product(wasm, op, M, K, N, X, w, bias);
            expect(product(one, op, M, K, N, X, w, bias)).toEqual(y);
            let worst = 0;
            for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
              let ref = bias[n], mag = Math.abs(bias[n]);
              for (let k = 0; k < K; k++) { ref += X[m * K + k] * W[k * N + n]; mag += Math.abs(X[m * K + k] * W[k * N + n]); }
              worst = Math.max(worst, Math.abs(y[m * N + n] - ref) / mag);
            }
            // int8: activations at 1/127 of their range and weights at 1/255 of theirs
            expect(worst, `op ${op} ${M}x${K}x${N}`).toBeLessThan(op === OP_Q8 ? 2.5e-2 : 1e-5);
          }
        }
      } finally { wasm.close(); one.close(); }
    });
  }

  it("a model decodes to the same logits on 1, 2 and 3 threads (f32 and int8; largest and smallest)", async () => {
    const V = 300, bytes = randomSuperTransformer(DEMO_SPACE, V, 3);
    const logits = (model: HatModel, arch: ValidArch) => {
      const r = rng(5);
      const tok = () => 4 + Math.floor(r() * (V - 4));
      const s = model.subnet(arch).begin([[tok(), tok(), tok(), tok(), SPECIALS.eos], [tok(), tok(), SPECIALS.eos]], { beam: 3, maxLen: 6 });
      const out: number[] = [];
      const tokens = new Int32Array(s.rows).fill(SPECIALS.eos);
      for (let t = 0; t < 5; t++) {
        out.push(...s.step(tokens, t));
        s.reorder(Int32Array.from({ length: s.rows }, (_, b) => (b + t) % s.rows), t);
        for (let b = 0; b < s.rows; b++) tokens[b] = tok();
      }
      s.release();
      return Float32Array.from(out);
    };
    for (const quant of ["f32", "int8"] as const) {
      const ref = new Map<string, Float32Array>();
      for (const threads of [1, 2, 3]) {
        const wasm = await loadWasmThreads(threads, { bytes: build.bytes, minWork: 1 });
        try {
          const model = HatModel.fromBytes(bytes, wasm, { quant });
          for (const [name, arch] of [["largest", largestArch(DEMO_SPACE)], ["smallest", smallestArch(DEMO_SPACE)]] as const) {
            const l = logits(model, arch);
            if (!ref.has(name)) ref.set(name, l);
            else expect(l, `${quant} ${name} on ${threads} threads`).toEqual(ref.get(name));
          }
        } finally { wasm.close(); }
      }
    }
  });

  it("a worker's trap fails the leader's call with a WasmTrapError, and later split products fail too", async () => {
    const wasm = await loadWasmThreads(2, { bytes: build.bytes, minWork: 1 });
    try {
      const N = 256, K = 8;
      const px = wasm.putF32(new Float32Array(K)), pw = wasm.putF32(new Float32Array(K * N));
      // y placed so that the leader's half of the row ends at the end of memory: the worker's
      // half is out of bounds
      const end = wasm.memoryBytes, py = end - (N / 2) * 4;
      expect(() => wasm.call("product", () => wasm.x.product_op(OP_MATMUL, py, px, pw, 0, 1, K, N, K, N, N))).toThrow(WasmTrapError);
      await new Promise((r) => setTimeout(r, 50)); // the worker's fault message
      const py2 = wasm.alloc(N * 4);
      expect(() => wasm.call("product", () => wasm.x.product_op(OP_MATMUL, py2, px, pw, 0, 1, K, N, K, N, N))).toThrow(/worker thread trapped/);
    } finally { wasm.close(); }
  });
});

describe("measurements on threads (profileArch, hat profile, hat translate)", () => {
  it("profileArch on 2 threads runs in this process's threaded instance once prepared, and says so; an instance of other threads is refused", async () => {
    const arch = smallestArch(DEMO_SPACE);
    const p = { ...DEFAULT_PROTOCOL, vocab: 64, src_len: 3, tgt_len: 3, beam: 2, runs: 2, warmup: 0, threads: 2 };
    await prepareThreads(2);
    const m = profileArch(arch, p);
    expect(m.protocol.threads).toBe(2);
    expect(m.protocol.build).toMatch(/^hat-threads/);
    expect(() => profileArch(arch, p, { wasm: loadWasm() })).toThrow(/measures on 2 threads but the runtime instance runs 1/);
    expect(() => profileArch(arch, { ...p, threads: 3 })).toThrow(/prepareThreads\(3\)/);
    const y = await profileArchYielding(arch, { ...p, threads: 3 }); // the yielding form starts it
    expect(y.protocol.threads).toBe(3);
  });

  it("hat profile --threads 2 says threads 2; hat translate --threads 2 prints what --threads 1 prints", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hat-threads-"));
    const archFile = join(dir, "arch.json");
    writeFileSync(archFile, JSON.stringify(smallestArch(DEMO_SPACE)));
    const r = await hat("profile", "--arch", archFile, "--vocab", "64", "--src-len", "3", "--tgt-len", "3", "--runs", "3", "--warmup", "0", "--threads", "2", "--json");
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ threads: 2 });
    const bpe = Bpe.train(["the cat sat on the mat", "a dog runs in the park", "hello world"], { vocabSize: 60, byteFallback: false, minFrequency: 1 });
    const path = join(dir, "super.hatm"), input = join(dir, "in.txt");
    writeFileSync(path, supernetWithTokenizer(DEMO_SPACE, bpe, 2));
    writeFileSync(input, "the cat runs\nhello dog\n");
    const one = await hat("translate", "--model", path, "--input", input, "--threads", "1");
    const two = await hat("translate", "--model", path, "--input", input, "--threads", "2");
    expect(one.code, one.err).toBe(0);
    expect(two.code, two.err).toBe(0);
    expect(two.out).toBe(one.out);
    expect(one.out.split("\n").length - 1).toBe(2);
    const bad = await hat("translate", "--model", path, "--input", input, "--threads", "17");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--threads must be an integer in 1\.\.16/);
  });
});

describe("threads: refused settings", () => {
  it("threads outside 1..16, and a single-threaded build asked for threads", async () => {
    for (const bad of [0, -1, 1.5, MAX_THREADS + 1, Number.NaN]) await expect(loadWasmThreads(bad)).rejects.toThrow(ThreadsError);
    const single = readWasmBuilds().find((b) => b.name === "hat.wasm")!;
    await expect(loadWasmThreads(2, { bytes: single.bytes })).rejects.toThrow(/no threads/);
    expect(loadWasm().threads).toBe(1);
  });
});
