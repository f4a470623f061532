/**
 * runtime/crc32.ts and runtime/format.ts: CRC-32 against known vectors and node:zlib, the `.hatm`
 * round trip, every ModelFormatError code on a crafted file, atomic file writes, and the check
 * of a model's tensors against an architecture.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { crc32 } from "../../runtime/crc32.js";
import { checkTensorsFor, decodeModel, encodeModel, ModelFormatError, type ModelFormatErrorCode, type ModelHeader, type ModelHeaderInput } from "../../runtime/format.js";
import { readModelFile, writeModelFile } from "../../runtime/model-files.js";
import type { Arch, Space } from "../../runtime/types.js";
import { SPECIALS } from "../../runtime/types.js";
import { randomTensors, sliceSubTensors, superTensorShapes, type TensorMap } from "../../runtime/weights.js";
import { rng } from "../helpers.js";
import { codeOf, headerOf } from "../model-files.js";

const ascii = (s: string) => new TextEncoder().encode(s);

describe("crc32", () => {
  it("matches the standard check values", () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(ascii("a"))).toBe(0xe8b7be43);
    expect(crc32(ascii("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
    expect(crc32(new Uint8Array(32))).toBe(0x190a55ad);
    expect(crc32(new Uint8Array(32).fill(0xff))).toBe(0xff6cab0b);
  });

  it("continues from a seed: crc32(b, crc32(a)) = crc32(a + b)", () => {
    const all = ascii("hello, hardware-aware transformers");
    for (const cut of [0, 1, 7, 8, 20, all.length]) {
      expect(crc32(all.subarray(cut), crc32(all.subarray(0, cut)))).toBe(crc32(all));
    }
  });

  const zcrc = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  it.skipIf(!zcrc)("agrees with node:zlib on every length and alignment", () => {
    const r = rng(11), buf = new Uint8Array(1 << 20);
    for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(r() * 256);
    for (let off = 0; off < 8; off++) {
      for (const len of [0, 1, 3, 7, 8, 9, 15, 63, 64, 65, 200, 1000]) {
        const b = buf.subarray(off, off + len);
        expect(crc32(b), `offset ${off} length ${len}`).toBe(zcrc!(b));
      }
    }
    expect(crc32(buf)).toBe(zcrc!(buf));
    expect(crc32(buf.subarray(3), 0x12345678)).toBe(zcrc!(buf.subarray(3), 0x12345678));
  });
});

// ---- fixtures ---------------------------------------------------------------------------------

const V = 29;
const space: Space = {
  encoderEmbedChoices: [32, 24], decoderEmbedChoices: [36, 28],
  encoderFfnChoices: [48, 20], decoderFfnChoices: [44, 24],
  encoderLayerChoices: [2], decoderLayerChoices: [2, 1],
  encoderHeadChoices: [4, 2], decoderSelfHeadChoices: [4, 2], decoderCrossHeadChoices: [4, 1],
  endeLayerChoices: [1, 2], qkvDim: 16,
};
const arch: Arch = {
  encoderEmbedDim: 24, decoderEmbedDim: 28, encoderLayers: 2, decoderLayers: 2,
  encoderFfnDims: [48, 20], encoderHeads: [2, 4],
  decoderFfnDims: [24, 44], decoderSelfHeads: [4, 2], decoderCrossHeads: [1, 4], decoderEndeLayers: [2, 1],
  qkvDim: 16,
};
const vocab = { size: V, ...SPECIALS, tokens: Array.from({ length: V }, (_, i) => `tok${i}`) };
const superHeader: ModelHeaderInput = {
  kind: "supertransformer", space, positionDims: { encoder: 32, decoder: 36 }, vocab,
  tokenizer: { type: "bpe", merges: ["a b"] }, meta: { note: "some text to flip", steps: 40000 },
};
const superT = randomTensors(superTensorShapes(space, V), 1);
const subT = sliceSubTensors(superT, arch, V);
const subHeader: ModelHeaderInput = { kind: "subtransformer", space, arch, positionDims: { encoder: 32, decoder: 36 }, vocab };
const superBytes = encodeModel(superHeader, superT);

/**
 * A file with header text `json` and the data region of `from`, at `dataOffset` (which the text
 * should state), a correct CRC and trailer: only what the test breaks is broken.
 */
function craft(json: string, from: Uint8Array, dataOffset: number): Uint8Array {
  const h = headerOf(from), text = ascii(json);
  const data = from.subarray(h.dataOffset, h.dataOffset + h.dataBytes);
  expect(12 + text.length).toBeLessThanOrEqual(dataOffset);
  const out = new Uint8Array(dataOffset + data.length + 8), view = new DataView(out.buffer);
  out.set(ascii("HATM"));
  view.setUint32(4, 1, true);
  view.setUint32(8, text.length, true);
  out.set(text, 12);
  out.set(data, dataOffset);
  view.setUint32(out.length - 8, crc32(out.subarray(0, out.length - 8)), true);
  out.set(ascii("MTAH"), out.length - 4);
  return out;
}

/** `from` with its header JSON changed by `edit` (dataOffset kept consistent), CRC recomputed. */
function patchHeader(from: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const h = headerOf(from);
  edit(h);
  for (let off = h.dataOffset; ; off += 64) {
    h.dataOffset = off;
    const json = JSON.stringify(h);
    if (12 + ascii(json).length <= off) return craft(json, from, off);
  }
}

/** Same bits (NaN-safe, -0-safe). */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(Float32Array.from(a).buffer);
}

// ---- round trip ---------------------------------------------------------------------------------

describe("encodeModel / decodeModel", () => {
  it("round-trips header and tensors bit-exactly", () => {
    const m = decodeModel(superBytes);
    const { dataOffset, dataBytes, tensors, ...rest } = m.header;
    expect(rest).toEqual(superHeader);
    expect(dataOffset % 64).toBe(0);
    expect(m.dataOffset).toBe(dataOffset);
    expect(superBytes.length).toBe(dataOffset + dataBytes + 8);
    expect(tensors.map((t) => t.name)).toEqual([...superT.keys()]);
    expect([...m.tensors.keys()]).toEqual([...superT.keys()]);
    for (const e of tensors) {
      expect(e.offset % 64).toBe(0);
      const t = m.tensors.get(e.name)!, src = superT.get(e.name)!;
      expect(t.shape).toEqual(src.shape);
      expect(bits(t.data)).toEqual(bits(src.data));
      // aligned: a view onto the file, no copy
      expect(t.data.buffer).toBe(superBytes.buffer);
    }
    expect(encodeModel(superHeader, superT)).toEqual(superBytes); // deterministic
  });

  it("round-trips a compact subtransformer with special float values", () => {
    const t: TensorMap = new Map(subT);
    t.set("extra", { shape: [2, 3], data: new Float32Array([NaN, -0, Infinity, -Infinity, 1e-45, 3.4e38]) });
    const m = decodeModel(encodeModel(subHeader, t));
    expect(m.header.kind).toBe("subtransformer");
    expect(m.header.arch).toEqual(arch);
    for (const [name, src] of t) expect(bits(m.tensors.get(name)!.data), name).toEqual(bits(src.data));
  });

  it("copies tensors out of a buffer that is not 4-byte aligned", () => {
    const shifted = new Uint8Array(superBytes.length + 1).subarray(1);
    shifted.set(superBytes);
    const m = decodeModel(shifted);
    const a = m.tensors.get("dec.1.ffn.fc1.w")!;
    expect(a.data.buffer).not.toBe(shifted.buffer);
    expect(bits(a.data)).toEqual(bits(superT.get("dec.1.ffn.fc1.w")!.data));
  });

  it("handles a model without tensors", () => {
    const m = decodeModel(encodeModel(superHeader, new Map()));
    expect(m.header.tensors).toEqual([]);
    expect(m.header.dataBytes).toBe(0);
    expect(m.tensors.size).toBe(0);
  });

  it("refuses to encode a tensor whose data does not match its shape", () => {
    const bad: TensorMap = new Map([["x", { shape: [2, 3], data: new Float32Array(5) }]]);
    expect(() => encodeModel(superHeader, bad)).toThrow(/tensor x of shape \[2, 3\] holds 5 values, not 6/);
  });
});

// ---- fields that size an allocation (issue 15, 3) ------------------------------------------------

describe("header fields that size an allocation are bounded by what the file holds", () => {
  it("positionDims: at most the embedding width limit, the space's largest embed choice and a SuperTransformer's embedding", () => {
    const wide = (encoder: number, decoder = 36) => codeOf(patchHeader(superBytes, (x) => { x.positionDims = { encoder, decoder }; }));
    expect(wide(1e6)).toEqual({ code: "bad-header", message: "bad model header: field positionDims.encoder = 1000000 is above the maximum embedding width 4096" });
    expect(wide(33).message).toMatch(/positionDims\.encoder = 33 is wider than the space's largest encoder embedding 32/);
    expect(wide(32, 37).message).toMatch(/positionDims\.decoder = 37 is wider than the space's largest decoder embedding 36/);
    // a compact model cut from a wider SuperTransformer keeps the super's widths: accepted
    expect(decodeModel(encodeModel(subHeader, subT)).header.positionDims).toEqual({ encoder: 32, decoder: 36 });
  });

  it("vocab.size: the embedding's rows", () => {
    const r = codeOf(patchHeader(superBytes, (x) => { x.vocab = { size: 1e8, ...SPECIALS }; }));
    expect(r).toEqual({ code: "arch-mismatch", message: `field vocab.size = 100000000 but tensor embed.tokens has ${V} rows (shape [${V}, 36])` });
  });
});

// ---- every error code -------------------------------------------------------------------------------

describe("decodeModel errors", () => {
  const n = superBytes.length, h = headerOf(superBytes);
  const H = new DataView(superBytes.buffer).getUint32(8, true);

  it("truncated: at any point, with the sizes in the message", () => {
    const cuts = [0, 2, 4, 11, 12, 13, 12 + (H >> 1), 12 + H, h.dataOffset, h.dataOffset + 1,
      h.dataOffset + (h.dataBytes >> 1), n - 8, n - 5, n - 1];
    for (const cut of cuts) {
      expect(codeOf(superBytes.subarray(0, cut)).code, `cut at ${cut}`).toBe("truncated");
    }
    expect(codeOf(superBytes.subarray(0, 5)).message).toMatch(/file is truncated: 5 bytes, a model needs at least 20/);
    expect(codeOf(superBytes.subarray(0, 12 + (H >> 1))).message).toMatch(new RegExp(`${H}-byte header`));
    expect(codeOf(superBytes.subarray(0, n - 100)).message).toBe(
      `file is truncated: expected ${n} bytes (data at ${h.dataOffset}, ${h.dataBytes} bytes, then 8 of trailer), got ${n - 100}`,
    );
  });

  it("bad-magic: says what the file starts with", () => {
    const b = superBytes.slice();
    b.set(ascii("GGUF"));
    const e = codeOf(b);
    expect(e.code).toBe("bad-magic");
    expect(e.message).toContain("not a hat-edge model");
    expect(e.message).toContain('0x47 0x47 0x55 0x46 ("GGUF")');
    expect(codeOf(ascii("{}")).code).toBe("bad-magic"); // short and foreign: not "truncated"
  });

  it("bad-version: names the supported versions", () => {
    const b = superBytes.slice();
    new DataView(b.buffer).setUint32(4, 99, true);
    const e = codeOf(b);
    expect(e.code).toBe("bad-version");
    expect(e.message).toMatch(/version 99 is not supported: this hat-edge reads version 1/);
  });

  it("bad-header: garbage JSON, missing or mistyped fields (with a valid CRC)", () => {
    const garbage = craft("{not json", superBytes, h.dataOffset);
    expect(codeOf(garbage)).toMatchObject({ code: "bad-header", message: expect.stringMatching(/not UTF-8 JSON/) });
    expect(codeOf(craft("[1, 2]", superBytes, h.dataOffset)).code).toBe("bad-header");
    const cases: [(x: Record<string, any>) => void, RegExp][] = [
      [(x) => { delete x.vocab; }, /field vocab must be an object, got undefined/],
      [(x) => { x.kind = "gpt"; }, /field kind must be/],
      [(x) => { x.positionDims.encoder = "32"; }, /positionDims\.encoder must be an integer >= 1, got "32"/],
      [(x) => { delete x.space; }, /field space must be an object/],
      [(x) => { x.space.encoderFfnChoices = [1, "x"]; }, /space\.encoderFfnChoices must be a list of integers/],
      [(x) => { x.vocab.eos = V; }, /vocab\.eos = 29 is outside the vocabulary of 29/],
      [(x) => { x.vocab.tokens = ["a"]; }, /vocab\.tokens has 1 entries but vocab\.size is 29/],
      [(x) => { x.tensors = {}; }, /field tensors must be a list, got object/],
      [(x) => { x.tensors[3].shape = "32x16"; }, /tensors\[3\]\.shape .* must be a list of numbers/],
      [(x) => { delete x.tensors[0].offset; }, /tensors\[0\]\.offset \(embed\.tokens\) must be a number/],
      [(x) => { x.dataBytes = -1; }, /dataBytes must be an integer >= 0/],
    ];
    for (const [edit, msg] of cases) {
      const e = codeOf(patchHeader(superBytes, edit));
      expect(e.code, String(msg)).toBe("bad-header");
      expect(e.message).toMatch(msg);
    }
    // a subtransformer needs its arch
    const sub = encodeModel(subHeader, subT);
    expect(codeOf(patchHeader(sub, (x) => { delete x.arch; })).message).toMatch(/field arch must be an object/);
    expect(codeOf(patchHeader(sub, (x) => { x.arch.decoderLayers = 0; })).message).toMatch(/arch\.decoderLayers must be an integer >= 1/);
    // dataOffset inside the header, or not aligned
    const j = headerOf(superBytes);
    j.dataOffset = 64;
    expect(codeOf(craft(JSON.stringify(j), superBytes, h.dataOffset)).message).toMatch(/dataOffset = 64 must be a multiple of 64 at or after the header's end/);
  });

  it("bad-length: junk after the trailer", () => {
    const b = new Uint8Array(n + 3);
    b.set(superBytes);
    expect(codeOf(b)).toMatchObject({ code: "bad-length", message: expect.stringMatching(/3 unexpected bytes at the end/) });
  });

  it("bad-trailer", () => {
    const b = superBytes.slice();
    b[n - 1] ^= 0xff;
    expect(codeOf(b)).toMatchObject({ code: "bad-trailer", message: expect.stringMatching(/does not end with "MTAH"/) });
  });

  it("checksum: a flipped data byte, a flipped header string byte, a flipped CRC byte", () => {
    for (const at of [h.dataOffset, h.dataOffset + (h.dataBytes >> 1), n - 9]) {
      const b = superBytes.slice();
      b[at] ^= 0x10;
      const e = codeOf(b);
      expect(e.code, `byte ${at}`).toBe("checksum");
      expect(e.message).toMatch(/^corrupt: checksum mismatch/);
    }
    const b = superBytes.slice(), noteAt = 12 + new TextDecoder().decode(b.subarray(12, 12 + H)).indexOf("some text");
    b[noteAt] = "S".charCodeAt(0); // header still valid JSON: only the CRC can tell
    expect(codeOf(b).code).toBe("checksum");
    const c = superBytes.slice();
    c[n - 6] ^= 1;
    expect(codeOf(c).code).toBe("checksum");
  });

  it("tensor-bounds: outside the data, misaligned, overlapping (with a valid CRC)", () => {
    const last = h.tensors.length - 1;
    const past = codeOf(patchHeader(superBytes, (x) => { x.tensors[last].offset += 64; }));
    expect(past.code).toBe("tensor-bounds");
    expect(past.message).toMatch(new RegExp(`tensor ${h.tensors[last].name.replace(/\./g, "\\.")} of shape .* but the data holds ${h.dataBytes} bytes`));
    expect(codeOf(patchHeader(superBytes, (x) => { x.tensors[2].shape = [1000, 1000]; })).code).toBe("tensor-bounds");
    expect(codeOf(patchHeader(superBytes, (x) => { x.tensors[2].offset += 4; })).message).toMatch(/multiples of 64/);
    expect(codeOf(patchHeader(superBytes, (x) => { x.tensors[2].offset = -64; })).code).toBe("tensor-bounds");
    const overlap = codeOf(patchHeader(superBytes, (x) => { x.tensors[2].offset = x.tensors[1].offset; }));
    expect(overlap).toMatchObject({ code: "tensor-bounds", message: expect.stringMatching(/overlaps/) });
  });

  it("tensor-shape and tensor-duplicate in the header", () => {
    expect(codeOf(patchHeader(superBytes, (x) => { x.tensors[1].shape = [0, 16]; })).code).toBe("tensor-shape");
    expect(codeOf(patchHeader(superBytes, (x) => { x.tensors[1].shape = [2.5]; })).code).toBe("tensor-shape");
    expect(codeOf(patchHeader(superBytes, (x) => { x.tensors[1].shape = []; })).code).toBe("tensor-shape");
    const dup = codeOf(patchHeader(superBytes, (x) => { x.tensors[2].name = x.tensors[1].name; }));
    expect(dup).toMatchObject({ code: "tensor-duplicate", message: `tensor ${h.tensors[1].name} appears twice in the header` });
  });
});

// ---- files ----------------------------------------------------------------------------------------

describe("readModelFile / writeModelFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "hatm-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes atomically (no temp file left) and reads back", async () => {
    const path = join(dir, "super.hatm");
    writeFileSync(path, "old contents");
    await writeModelFile(path, superBytes);
    expect(readdirSync(dir)).toEqual(["super.hatm"]);
    const m = await readModelFile(path);
    expect(m.header.tensors).toEqual(decodeModel(superBytes).header.tensors);
    expect(bits(m.tensors.get("embed.tokens")!.data)).toEqual(bits(superT.get("embed.tokens")!.data));
  });

  it("names the path in format errors and leaves no temp file on failure", async () => {
    const path = join(dir, "bad.hatm");
    await writeModelFile(path, superBytes.subarray(0, 100));
    await expect(readModelFile(path)).rejects.toMatchObject({ code: "truncated", message: expect.stringContaining(`${path}: file is truncated`) });
    await expect(writeModelFile(join(dir, "no-such-dir", "x.hatm"), superBytes)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir).sort()).toEqual(["bad.hatm", "super.hatm"]);
  });
});

// ---- against an architecture -------------------------------------------------------------------

describe("checkTensorsFor", () => {
  const sup = decodeModel(superBytes), sub = decodeModel(encodeModel(subHeader, subT));
  const err = (header: ModelHeader, t: TensorMap, a: Arch, v = V) => {
    try {
      checkTensorsFor(header, t, a, v);
    } catch (e) {
      if (e instanceof ModelFormatError) return { code: e.code, message: e.message };
      throw e;
    }
    return undefined;
  };

  it("accepts the SuperTransformer for any arch of its space, the compact model for its arch", () => {
    expect(err(sup.header, sup.tensors, arch)).toBeUndefined();
    const biggest: Arch = { ...arch, encoderEmbedDim: 32, decoderEmbedDim: 36, encoderFfnDims: [48, 48], decoderFfnDims: [44, 44] };
    expect(err(sup.header, sup.tensors, biggest)).toBeUndefined();
    expect(err(sub.header, sub.tensors, arch)).toBeUndefined();
    const smaller: Arch = { ...arch, decoderLayers: 1, decoderFfnDims: [20], decoderSelfHeads: [2], decoderCrossHeads: [2], decoderEndeLayers: [1] };
    expect(err(sub.header, sub.tensors, smaller)).toBeUndefined();
  });

  it("tensor-shape: a tensor smaller than the arch needs, naming both shapes", () => {
    const bigger: Arch = { ...arch, decoderFfnDims: [24, 48] };
    expect(err(sub.header, sub.tensors, bigger)).toEqual({
      code: "tensor-shape",
      message: "tensor dec.1.ffn.fc1.w has shape [28, 44] but the architecture needs at least [28, 48]",
    });
  });

  it("tensor-missing: a layer the compact model does not have, or a tensor removed", () => {
    const deeper: Arch = { ...arch, encoderLayers: 3, encoderFfnDims: [20, 20, 20], encoderHeads: [2, 2, 2] };
    expect(err(sub.header, sub.tensors, deeper)).toEqual({
      code: "tensor-missing",
      message: "tensor enc.2.self.q.w is missing from the model but the architecture needs it with shape at least [24, 16]",
    });
    const t = new Map(sup.tensors);
    t.delete("dec.0.cross_ln.g");
    expect(err(sup.header, t, arch)?.code).toBe("tensor-missing");
  });

  it("arch-mismatch: vocabulary size, position tables", () => {
    expect(err(sup.header, sup.tensors, arch, V + 1)?.code).toBe("arch-mismatch");
    const narrow = { ...sub.header, positionDims: { encoder: 24, decoder: 24 } };
    expect(err(narrow, sub.tensors, arch)).toMatchObject({ code: "arch-mismatch", message: expect.stringMatching(/position tables .* \[24, 28\]/) });
  });
});
