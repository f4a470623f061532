/**
 * runtime/arch*.ts and spaces.ts: validation and its error messages, HAT's config form (and HAT's own config files
 * when ../shared is present), the 10 latency features against rows of HAT's latency datasets,
 * sampling, canonical keys and parameter counts. Also runtime/rng.ts.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { SPACE_LIMITS, superDims, validateArch, validateSpace } from "../../runtime/arch.js";
import { ArchError } from "../../runtime/arch-error.js";
import { archKey, archParams, hatFeatures } from "../../runtime/arch-features.js";
import { loadArch, loadSpace } from "../../runtime/arch-files.js";
import { archFromHatYaml, archToHatYaml, spaceFromHatYaml, spaceToHatYaml } from "../../runtime/arch-hat.js";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { parseArchText, parseSpaceText } from "../../runtime/arch-text.js";
import { DEMO_SPACE, HAT_IWSLT_SPACE, HAT_WMT_SPACE } from "../../runtime/spaces.js";
import { mulberry32, randn } from "../../runtime/rng.js";
import type { Arch, Space } from "../../runtime/types.js";
import { HAT_FEATURE_NAMES } from "../../runtime/types.js";
import { sharedData } from "../helpers.js";

const configsDir = join(sharedData, "hat-configs");
const latencyDir = join(sharedData, "hat-latency");
const SPACES: [string, Space][] = [["wmt", HAT_WMT_SPACE], ["iwslt", HAT_IWSLT_SPACE], ["demo", DEMO_SPACE]];

/** HAT's xeon@204.2ms WMT SubTransformer, in the project's form. */
const WMT_ARCH: Arch = {
  encoderEmbedDim: 512, decoderEmbedDim: 512, encoderLayers: 6, decoderLayers: 2,
  encoderFfnDims: [3072, 3072, 3072, 3072, 3072, 3072], encoderHeads: [4, 8, 8, 4, 8, 8],
  decoderFfnDims: [3072, 3072], decoderSelfHeads: [8, 8], decoderCrossHeads: [8, 8], decoderEndeLayers: [1, 2],
  qkvDim: 512,
};

/** Expects f to throw an ArchError on `field`; returns it for further checks. */
function archError(f: () => unknown, field: string): ArchError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ArchError);
    const err = e as ArchError;
    expect(err.field).toBe(field);
    if (field) expect(err.message).toContain(field);
    return err;
  }
  throw new Error(`expected an ArchError on ${field}`);
}

describe("validateArch", () => {
  it("accepts a valid arch and returns a copy in canonical key order", () => {
    const shuffled = Object.fromEntries(Object.entries(WMT_ARCH).reverse());
    const a = validateArch(shuffled, HAT_WMT_SPACE);
    expect(a).toEqual(WMT_ARCH);
    expect(Object.keys(a)).toEqual(Object.keys(WMT_ARCH));
    expect(a.encoderHeads).not.toBe(shuffled.encoderHeads);
  });

  it("rejects wrong types, naming the field", () => {
    archError(() => validateArch({ ...WMT_ARCH, encoderEmbedDim: "512" }), "encoderEmbedDim");
    archError(() => validateArch({ ...WMT_ARCH, decoderLayers: 0 }), "decoderLayers");
    archError(() => validateArch({ ...WMT_ARCH, encoderFfnDims: 3072 }), "encoderFfnDims");
    archError(() => validateArch({ ...WMT_ARCH, decoderFfnDims: [3072, 1.5] }), "decoderFfnDims[1]");
    archError(() => validateArch({ ...WMT_ARCH, decoderSelfHeads: [8, null] }), "decoderSelfHeads[1]");
    const { qkvDim: _, ...noQkv } = WMT_ARCH;
    expect(archError(() => validateArch(noQkv), "qkvDim").message).toContain("missing");
    archError(() => validateArch([WMT_ARCH]), "");
    archError(() => validateArch(null), "");
  });

  it("rejects unknown keys, naming them", () => {
    const err = archError(() => validateArch({ ...WMT_ARCH, dropout: 0.1, heads: 8 }), "dropout");
    expect(err.message).toContain('"heads"');
  });

  it("rejects lists whose length is not the layer count", () => {
    archError(() => validateArch({ ...WMT_ARCH, decoderFfnDims: [3072] }), "decoderFfnDims");
    archError(() => validateArch({ ...WMT_ARCH, encoderHeads: [8, 8, 8, 8, 8, 8, 8] }), "encoderHeads");
  });

  it("rejects head counts that do not divide qkvDim", () => {
    const err = archError(() => validateArch({ ...WMT_ARCH, encoderHeads: [4, 8, 3, 4, 8, 8] }), "encoderHeads[2]");
    expect(err.message).toContain("not divisible by 3");
  });

  it("rejects bad encoder-decoder attention", () => {
    archError(() => validateArch({ ...WMT_ARCH, decoderEndeLayers: [1, 4] }), "decoderEndeLayers[1]");
    archError(() => validateArch({ ...WMT_ARCH, decoderEndeLayers: [0, 1] }), "decoderEndeLayers[0]");
    const twoLayers = { ...WMT_ARCH, encoderLayers: 2, encoderFfnDims: [3072, 3072], encoderHeads: [8, 8], decoderEndeLayers: [3, 1] };
    archError(() => validateArch(twoLayers), "decoderEndeLayers[0]");
  });

  it("rejects values outside the space", () => {
    const err = archError(() => validateArch({ ...WMT_ARCH, decoderFfnDims: [3072, 4096] }, HAT_WMT_SPACE), "decoderFfnDims[1]");
    expect(err.message).toBe("decoderFfnDims[1]: 4096 is not one of the space's choices [1024, 2048, 3072]");
    archError(() => validateArch({ ...WMT_ARCH, encoderEmbedDim: 768 }, HAT_WMT_SPACE), "encoderEmbedDim");
    archError(() => validateArch({ ...WMT_ARCH, decoderCrossHeads: [8, 2] }, HAT_WMT_SPACE), "decoderCrossHeads[1]");
    archError(() => validateArch({ ...WMT_ARCH, qkvDim: 256 }, HAT_WMT_SPACE), "qkvDim");
    const fiveEncoderLayers = { ...WMT_ARCH, encoderLayers: 5, encoderFfnDims: [1024, 1024, 1024, 1024, 1024], encoderHeads: [4, 4, 4, 4, 4] };
    expect(validateArch(fiveEncoderLayers)).toEqual(fiveEncoderLayers);
    archError(() => validateArch(fiveEncoderLayers, HAT_WMT_SPACE), "encoderLayers");
  });

  it("puts the source in the message", () => {
    const err = archError(() => validateArch({ ...WMT_ARCH, encoderEmbedDim: -1 }, undefined, "a.json"), "encoderEmbedDim");
    expect(err.source).toBe("a.json");
    expect(err.message.startsWith("a.json: encoderEmbedDim: ")).toBe(true);
  });
});

describe("validateSpace", () => {
  it("accepts HAT's spaces and the demo space", () => {
    for (const [, s] of SPACES) expect(validateSpace(s)).toEqual(s);
  });

  it("rejects bad spaces, naming the field", () => {
    archError(() => validateSpace({ ...DEMO_SPACE, encoderFfnChoices: [] }), "encoderFfnChoices");
    archError(() => validateSpace({ ...DEMO_SPACE, encoderFfnChoices: [512, 256, 512] }), "encoderFfnChoices[2]");
    archError(() => validateSpace({ ...DEMO_SPACE, decoderSelfHeadChoices: [4, 3] }), "decoderSelfHeadChoices[1]");
    archError(() => validateSpace({ ...DEMO_SPACE, endeLayerChoices: [1, 2, 3] }), "endeLayerChoices[2]");
    archError(() => validateSpace({ ...HAT_WMT_SPACE, endeLayerChoices: [1, 4] }), "endeLayerChoices[1]");
    archError(() => validateSpace({ ...DEMO_SPACE, qkvDim: "128" }), "qkvDim");
    archError(() => validateSpace({ ...DEMO_SPACE, maxTokens: 4096 }), "maxTokens");
  });

  it("holds every field within SPACE_LIMITS, naming the field and the maximum (issue 15, 4)", () => {
    const over = (re: RegExp, f: () => unknown) => expect(f).toThrow(re);
    over(/encoderEmbedChoices\[1\]: 1000000 is above the maximum 4096 \(SPACE_LIMITS\.embedDim\)/, () => validateSpace({ ...DEMO_SPACE, encoderEmbedChoices: [128, 1e6] }));
    over(/qkvDim: 2147483648 is above the maximum 4096/, () => validateSpace({ ...DEMO_SPACE, qkvDim: 2 ** 31 }));
    over(/decoderFfnChoices\[0\]: 16385 is above the maximum 16384/, () => validateSpace({ ...DEMO_SPACE, decoderFfnChoices: [16385] }));
    over(/decoderLayerChoices\[0\]: 25 is above the maximum 24/, () => validateSpace({ ...DEMO_SPACE, decoderLayerChoices: [25] }));
    over(/encoderHeadChoices\[0\]: 128 is above the maximum 64/, () => validateSpace({ ...DEMO_SPACE, qkvDim: 256, encoderHeadChoices: [128] }));
    over(/encoderFfnChoices: has 65 choices, above the maximum 64/, () => validateSpace({ ...DEMO_SPACE, encoderFfnChoices: Array.from({ length: 65 }, (_, i) => i + 1) }));
    const a = smallestArch(DEMO_SPACE);
    over(/encoderEmbedDim: 8192 is above the maximum 4096/, () => validateArch({ ...a, encoderEmbedDim: 8192 }));
    over(/encoderFfnDims\[0\]: 1000000 is above the maximum 16384/, () => validateArch({ ...a, encoderFfnDims: a.encoderFfnDims.map(() => 1e6) }));
    over(/decoderLayers: 100 is above the maximum 24/, () => validateArch({ ...a, decoderLayers: 100 }));
    // at the limits: accepted
    const big: Space = { ...DEMO_SPACE, encoderEmbedChoices: [SPACE_LIMITS.embedDim], encoderFfnChoices: [SPACE_LIMITS.ffnDim], qkvDim: SPACE_LIMITS.qkvDim, encoderHeadChoices: [SPACE_LIMITS.heads] };
    expect(validateSpace(big)).toEqual(big);
  });

  it("superDims takes the largest of every choice", () => {
    expect(superDims(HAT_WMT_SPACE)).toEqual({
      encoderEmbedDim: 640, decoderEmbedDim: 640, encoderFfnDim: 3072, decoderFfnDim: 3072,
      encoderLayers: 6, decoderLayers: 6, qkvDim: 512,
    });
    expect(superDims(DEMO_SPACE).decoderLayers).toBe(2);
  });
});

describe("HAT's config form", () => {
  const hatYaml = (over: Record<string, unknown> = {}) => ({ ...parse(archToHatYaml(WMT_ARCH)), ...over });

  it("converts ende codes -1 / 1 / 2 to 1 / 2 / 3 layers and back", () => {
    const a = archFromHatYaml(hatYaml({ "decoder-arbitrary-ende-attn-all-subtransformer": [2, -1] }));
    expect(a.decoderEndeLayers).toEqual([3, 1]);
    expect(archToHatYaml(a)).toContain("decoder-arbitrary-ende-attn-all-subtransformer: [2, -1]");
  });

  it("uses the first n entries of longer lists, as HAT does", () => {
    const a = archFromHatYaml(hatYaml({
      "decoder-ffn-embed-dim-all-subtransformer": [2048, 1024, 3072, 3072, 3072, 3072],
      "decoder-arbitrary-ende-attn-all-subtransformer": [1, 2, -1, "unused", 0, 0],
    }), HAT_WMT_SPACE);
    expect(a.decoderFfnDims).toEqual([2048, 1024]);
    expect(a.decoderEndeLayers).toEqual([2, 3]);
  });

  it("defaults qkv-dim to HAT's 512, or the space's when given", () => {
    const { "qkv-dim": _, ...noQkv } = hatYaml();
    expect(archFromHatYaml(noQkv).qkvDim).toBe(512);
    const demo = archToHatYaml(smallestArch(DEMO_SPACE)).replace(/^qkv-dim.*$/m, "");
    expect(parseArchText(demo, "d.yml", DEMO_SPACE).qkvDim).toBe(DEMO_SPACE.qkvDim);
    expect(parseArchText(demo, "d.yml").qkvDim).toBe(512);
  });

  it("rejects short lists, bad codes and out-of-space values, naming HAT's key", () => {
    archError(() => archFromHatYaml(hatYaml({ "decoder-ffn-embed-dim-all-subtransformer": [3072] })), "decoder-ffn-embed-dim-all-subtransformer");
    archError(() => archFromHatYaml(hatYaml({ "decoder-arbitrary-ende-attn-all-subtransformer": [-1, 0] })), "decoder-arbitrary-ende-attn-all-subtransformer[1]");
    archError(() => archFromHatYaml(hatYaml({ "encoder-layer-num-subtransformer": "6" })), "encoder-layer-num-subtransformer");
    archError(() => archFromHatYaml(hatYaml({ "decoder-ffn-embed-dim-all-subtransformer": [4096, 3072] }), HAT_WMT_SPACE), "decoder-ffn-embed-dim-all-subtransformer[0]");
    archError(() => archFromHatYaml(hatYaml({ "qkv-dim": 256 }), HAT_WMT_SPACE), "qkv-dim");
    archError(() => archFromHatYaml(hatYaml({ "encoder-self-attention-heads-all-subtransformer": [3, 8, 8, 8, 8, 8] })), "encoder-self-attention-heads-all-subtransformer[0]");
    const { "decoder-embed-dim-subtransformer": _, ...missing } = hatYaml();
    archError(() => archFromHatYaml(missing), "decoder-embed-dim-subtransformer");
  });

  it("rejects configs mixing HAT's keys and the project's", () => {
    archError(() => parseArchText(JSON.stringify({ ...hatYaml(), qkvDim: 512 }), "a.json"), "qkvDim");
  });

  it("reads a space, with its SuperTransformer dims checked against the choices", () => {
    for (const [, s] of SPACES) expect(spaceFromHatYaml(parse(spaceToHatYaml(s)))).toEqual(s);
    const text = spaceToHatYaml(HAT_WMT_SPACE);
    archError(() => parseSpaceText(text.replace("encoder-ffn-embed-dim: 3072", "encoder-ffn-embed-dim: 2048"), "s.yml"), "encoder-ffn-embed-dim");
    archError(() => parseSpaceText(text.replace("decoder-arbitrary-ende-attn-choice: [-1, 1, 2]", "decoder-arbitrary-ende-attn-choice: [-1, 3]"), "s.yml"), "decoder-arbitrary-ende-attn-choice[1]");
    archError(() => parseSpaceText(text.replace("encoder-embed-choice: [640, 512]", "encoder-embed-choice: []"), "s.yml"), "encoder-embed-choice");
  });
});

describe("text and files", () => {
  it("round-trips the project's JSON, with and without a file name", () => {
    for (const [, s] of SPACES) {
      const a = sampleArch(s, mulberry32(3));
      expect(parseArchText(JSON.stringify(a, null, 2), "a.json", s)).toEqual(a);
      expect(parseArchText(JSON.stringify(a))).toEqual(a);
      expect(parseSpaceText(JSON.stringify(s), "s.json")).toEqual(s);
    }
  });

  it("round-trips HAT's YAML, with and without a file name", () => {
    for (const [, s] of SPACES) {
      for (const a of [largestArch(s), smallestArch(s), sampleArch(s, mulberry32(5))]) {
        expect(parseArchText(archToHatYaml(a), "a.yml", s)).toEqual(a);
        expect(parseArchText(archToHatYaml(a), undefined, s)).toEqual(a);
      }
      expect(parseSpaceText(spaceToHatYaml(s), "s.yaml")).toEqual(s);
      expect(parseSpaceText(spaceToHatYaml(s))).toEqual(s);
    }
  });

  it("accepts HAT's keys in JSON and the project's keys in YAML", () => {
    expect(parseArchText(JSON.stringify(parse(archToHatYaml(WMT_ARCH))), "a.json")).toEqual(WMT_ARCH);
    const yaml = Object.entries(WMT_ARCH).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("\n");
    expect(parseArchText(yaml, "a.yml")).toEqual(WMT_ARCH);
  });

  it("reports malformed JSON with file, line and column", () => {
    const err = archError(() => parseArchText('{\n  "encoderEmbedDim": 512,\n  "decoderEmbedDim" 512\n}', "bad.json"), "");
    expect(err.message).toMatch(/^bad\.json:3:\d+: malformed JSON/);
    expect(archError(() => parseArchText('{"encoderEmbedDim": 512,'), "").message).toMatch(/^input:1:\d+: malformed JSON/);
  });

  it("reports malformed YAML with file, line and column", () => {
    const err = archError(() => parseArchText("encoder-embed-dim-subtransformer: 512\nencoder-ffn-embed-dim-all-subtransformer: [1024, 2048\nx: 1\n", "bad.yml"), "");
    expect(err.message).toMatch(/^bad\.yml:3:\d+: malformed YAML/);
    const dup = archError(() => parseSpaceText("qkv-dim: 512\nqkv-dim: 256\n", "dup.yml"), "");
    expect(dup.message).toMatch(/^dup\.yml:2:1: malformed YAML: Map keys must be unique/);
  });

  it("reports an empty input and a missing file", () => {
    archError(() => parseArchText("", "empty.yml"), "");
    const err = archError(() => loadArch("/nonexistent/arch.json"), "");
    expect(err.source).toBe("/nonexistent/arch.json");
  });
});

describe("hatFeatures", () => {
  it("gives the 10 features in HAT_FEATURE_NAMES order", () => {
    expect(HAT_FEATURE_NAMES).toHaveLength(10);
    expect(hatFeatures(WMT_ARCH)).toEqual([512, 6, 3072, 20 / 3, 512, 2, 3072, 8, 8, 1.5]);
  });

  // Rows of HAT's latency datasets (their first 10 columns, as printed in the CSV) and an
  // architecture built by hand to have exactly those features. Those datasets were sampled from a
  // wider space than space0.yml (FFN 512, 2 heads), so the archs are checked without a space.
  const ROWS: { csv: string; row: string; arch: Arch }[] = [
    {
      csv: "iwslt14deen_gpu_titanxp_all.csv",
      row: "640,6,1962.6666666666667,6.0,512,4,1920.0,2.5,5.5,1.5",
      arch: {
        encoderEmbedDim: 640, decoderEmbedDim: 512, encoderLayers: 6, decoderLayers: 4,
        encoderFfnDims: [3072, 3072, 3072, 1024, 1024, 512], encoderHeads: [8, 8, 8, 4, 4, 4],
        decoderFfnDims: [3072, 2048, 2048, 512], decoderSelfHeads: [4, 2, 2, 2], decoderCrossHeads: [8, 8, 4, 2],
        decoderEndeLayers: [1, 2, 1, 2], qkvDim: 512,
      },
    },
    {
      csv: "wmt14ende_cpu_raspberrypi_all.csv",
      row: "512,6,1877.3333333333333,6.0,640,3,1706.6666666666667,6.0,2.6666666666666665,1.3333333333333333",
      arch: {
        encoderEmbedDim: 512, decoderEmbedDim: 640, encoderLayers: 6, decoderLayers: 3,
        encoderFfnDims: [3072, 3072, 2048, 1024, 1024, 1024], encoderHeads: [8, 8, 8, 4, 4, 4],
        decoderFfnDims: [3072, 1024, 1024], decoderSelfHeads: [8, 8, 2], decoderCrossHeads: [4, 2, 2],
        decoderEndeLayers: [1, 1, 2], qkvDim: 512,
      },
    },
    {
      csv: "wmt14ende_gpu_titanxp_all.csv",
      row: "640,6,938.6666666666666,6.666666666666667,640,2,1536.0,8.0,8.0,2.5",
      arch: {
        encoderEmbedDim: 640, decoderEmbedDim: 640, encoderLayers: 6, decoderLayers: 2,
        encoderFfnDims: [1024, 1024, 1024, 1024, 1024, 512], encoderHeads: [8, 8, 8, 8, 4, 4],
        decoderFfnDims: [2048, 1024], decoderSelfHeads: [8, 8], decoderCrossHeads: [8, 8],
        decoderEndeLayers: [2, 3], qkvDim: 512,
      },
    },
    {
      csv: "wmt14ende_cpu_xeon_all.csv",
      row: "640,6,1194.6666666666667,4.666666666666667,640,3,1877.3333333333333,4.0,5.333333333333333,2.0",
      arch: {
        encoderEmbedDim: 640, decoderEmbedDim: 640, encoderLayers: 6, decoderLayers: 3,
        encoderFfnDims: [2048, 1024, 1024, 1024, 1024, 1024], encoderHeads: [8, 4, 4, 4, 4, 4],
        decoderFfnDims: [3072, 2048, 512], decoderSelfHeads: [4, 4, 4], decoderCrossHeads: [8, 4, 4],
        decoderEndeLayers: [1, 2, 3], qkvDim: 512,
      },
    },
  ];

  it.each(ROWS)("matches a row of $csv exactly", ({ row, arch }) => {
    expect(hatFeatures(validateArch(arch))).toEqual(row.split(",").map(Number));
  });

  describe.skipIf(!existsSync(latencyDir))("with HAT's latency datasets", () => {
    it.each(ROWS)("the row is in $csv", ({ csv, row }) => {
      const lines = readFileSync(join(latencyDir, csv), "utf8").split("\n");
      expect(lines[0].split(",").slice(0, 10)).toEqual([...HAT_FEATURE_NAMES]);
      expect(lines.some((l) => l.startsWith(row + ","))).toBe(true);
    });
  });
});

describe("sampling", () => {
  it("is deterministic per seed", () => {
    const draw = (seed: number) => Array.from({ length: 10 }, ((r) => () => sampleArch(HAT_WMT_SPACE, r))(mulberry32(seed)));
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1).map(archKey)).not.toEqual(draw(2).map(archKey));
  });

  it.each(SPACES)("1000 samples of the %s space validate and cover every choice", (_, space) => {
    const rng = mulberry32(42);
    const seen = new Map<string, Set<number>>();
    for (let n = 0; n < 1000; n++) {
      const a = sampleArch(space, rng);
      expect(validateArch(a, space)).toEqual(a);
      for (const [k, v] of Object.entries(a)) {
        const set = seen.get(k) ?? new Set<number>();
        for (const x of [v].flat()) set.add(x);
        seen.set(k, set);
      }
    }
    expect([...seen.get("decoderLayers")!].sort()).toEqual([...space.decoderLayerChoices].sort());
    expect([...seen.get("decoderFfnDims")!].sort()).toEqual([...space.decoderFfnChoices].sort());
    expect([...seen.get("decoderEndeLayers")!].sort()).toEqual([...space.endeLayerChoices].sort());
    expect([...seen.get("encoderHeads")!].sort()).toEqual([...space.encoderHeadChoices].sort());
  });

  it("largest and smallest archs are in the space and bound every dim", () => {
    for (const [, s] of SPACES) {
      const big = validateArch(largestArch(s), s), small = validateArch(smallestArch(s), s);
      expect(big.encoderEmbedDim).toBe(superDims(s).encoderEmbedDim);
      expect(big.decoderLayers).toBe(superDims(s).decoderLayers);
      expect(small.decoderLayers).toBe(Math.min(...s.decoderLayerChoices));
      expect(archParams(big, 1000)).toBeGreaterThan(archParams(small, 1000));
    }
  });
});

describe("archKey and archParams", () => {
  it("archKey is canonical: same for the same arch whatever the key order", () => {
    const shuffled = Object.fromEntries(Object.entries(WMT_ARCH).reverse()) as unknown as Arch;
    expect(archKey(shuffled)).toBe(archKey(WMT_ARCH));
    expect(archKey({ ...WMT_ARCH, decoderEndeLayers: [2, 1] })).not.toBe(archKey(WMT_ARCH));
    expect(JSON.parse(archKey(WMT_ARCH))).toEqual(WMT_ARCH);
  });

  it("counts Transformer-Base (fairseq: 3,152,384 per encoder layer, 4,204,032 per decoder layer)", () => {
    const base: Arch = {
      encoderEmbedDim: 512, decoderEmbedDim: 512, encoderLayers: 6, decoderLayers: 6,
      encoderFfnDims: Array(6).fill(2048), encoderHeads: Array(6).fill(8),
      decoderFfnDims: Array(6).fill(2048), decoderSelfHeads: Array(6).fill(8), decoderCrossHeads: Array(6).fill(8),
      decoderEndeLayers: Array(6).fill(1), qkvDim: 512,
    };
    expect(archParams(base, 32768)).toBe(32768 * 512 + 6 * 3_152_384 + 6 * 4_204_032);
  });

  it("counts the shared embedding once at max(De, Dd), cross K/V at De and heads not at all", () => {
    const a: Arch = {
      encoderEmbedDim: 8, decoderEmbedDim: 6, encoderLayers: 1, decoderLayers: 1,
      encoderFfnDims: [5], encoderHeads: [2], decoderFfnDims: [3], decoderSelfHeads: [1], decoderCrossHeads: [4],
      decoderEndeLayers: [1], qkvDim: 4,
    };
    const enc = 3 * (8 * 4 + 4) + (4 * 8 + 8) + 2 * 8 + (8 * 5 + 5) + (5 * 8 + 8) + 2 * 8;
    const dec = 3 * (6 * 4 + 4) + (4 * 6 + 6) + 2 * 6 // self
      + (6 * 4 + 4) + 2 * (8 * 4 + 4) + (4 * 6 + 6) + 2 * 6 // cross
      + (6 * 3 + 3) + (3 * 6 + 6) + 2 * 6; // ffn
    expect(archParams(a, 10)).toBe(10 * 8 + enc + dec);
    expect(archParams({ ...a, encoderHeads: [4], decoderEndeLayers: [1] }, 10)).toBe(archParams(a, 10));
  });
});

describe("rng", () => {
  it("mulberry32 is deterministic, in [0, 1) and differs across seeds", () => {
    const a = mulberry32(7), b = mulberry32(7), c = mulberry32(8);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(c()).not.toBe(xs[0]);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it("randn has mean about 0 and variance about 1", () => {
    const r = mulberry32(11), n = 20000;
    const xs = Array.from({ length: n }, () => randn(r));
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(xs.every(Number.isFinite)).toBe(true);
  });
});

describe.skipIf(!existsSync(configsDir))("HAT's config files (../shared/data/hat-configs)", () => {
  const dirs = existsSync(configsDir) ? readdirSync(configsDir).filter((d) => !d.startsWith(".")) : [];
  const filesOf = (dir: string) => readdirSync(join(configsDir, dir)).filter((f) => f.endsWith(".yml"));
  const spaceFileOf = (dir: string) => {
    const s = filesOf(dir).filter((f) => /^space\d*\.yml$/.test(f));
    expect(s).toHaveLength(1);
    return join(configsDir, dir, s[0]);
  };

  it("the space files equal HAT_WMT_SPACE and HAT_IWSLT_SPACE", () => {
    expect(loadSpace(join(configsDir, "wmt14.en-de", "space0.yml"))).toEqual(HAT_WMT_SPACE);
    expect(loadSpace(join(configsDir, "iwslt14.de-en", "space1.yml"))).toEqual(HAT_IWSLT_SPACE);
  });

  it.each(dirs)("%s: common.yml holds the space's SuperTransformer dims", (dir) => {
    const common = parse(readFileSync(join(configsDir, dir, "common.yml"), "utf8"));
    const d = superDims(loadSpace(spaceFileOf(dir)));
    expect([common["encoder-embed-dim"], common["decoder-embed-dim"], common["encoder-ffn-embed-dim"],
      common["decoder-ffn-embed-dim"], common["encoder-layers"], common["decoder-layers"], common["qkv-dim"]])
      .toEqual([d.encoderEmbedDim, d.decoderEmbedDim, d.encoderFfnDim, d.decoderFfnDim, d.encoderLayers, d.decoderLayers, d.qkvDim]);
  });

  it.each(dirs)("%s: every SubTransformer config validates against the space and round-trips", (dir) => {
    const space = loadSpace(spaceFileOf(dir));
    const subs = filesOf(dir).filter((f) => f.startsWith("HAT_"));
    expect(subs.length).toBeGreaterThan(0);
    for (const f of subs) {
      const a = loadArch(join(configsDir, dir, f), space);
      expect(parseArchText(archToHatYaml(a), f, space)).toEqual(a);
      expect(parseArchText(JSON.stringify(a), "a.json", space)).toEqual(a);
    }
  });

  it("converts HAT_wmt14ende_xeon@204.2ms_bleu@27.6.yml", () => {
    const a = loadArch(join(configsDir, "wmt14.en-de", "HAT_wmt14ende_xeon@204.2ms_bleu@27.6.yml"), HAT_WMT_SPACE);
    expect(a.decoderLayers).toBe(2);
    expect(a.decoderEndeLayers).toEqual([1, 2]);
    expect(a).toEqual(WMT_ARCH);
  });

  it("common.yml is not a space: the error names the missing choice key and the file", () => {
    const file = join(configsDir, "wmt14.en-de", "common.yml");
    expect(archError(() => loadSpace(file), "encoder-embed-choice").source).toBe(file);
  });
});
