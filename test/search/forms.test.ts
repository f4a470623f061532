/**
 * search/forms.ts and `hat report --model` (issue 14, 5): the searched model's file in each form
 * (hat quantize's sizes) and its latency measured at the form, in the HTML report.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { superDims } from "../../runtime/arch.js";
import { smallestArch } from "../../runtime/arch-sample.js";
import { decodeModel, encodeModel } from "../../runtime/format.js";
import { exportSubTransformer, quantizeModel } from "../../runtime/model.js";
import { protocolOf } from "../../runtime/protocol.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { SPECIALS } from "../../runtime/types.js";
import { randomTensors, superTensorShapes } from "../../runtime/weights.js";
import { formBytes, measureForms, modelArch } from "../../search/forms.js";
import { renderReport, type SearchRecord } from "../../search/report.js";
import { hat } from "../cli/hat.js";

const V = 60, d = superDims(DEMO_SPACE), arch = smallestArch(DEMO_SPACE);
const superFile = decodeModel(encodeModel({
  kind: "supertransformer", space: DEMO_SPACE, positionDims: { encoder: d.encoderEmbedDim, decoder: d.decoderEmbedDim },
  vocab: { size: V, pad: SPECIALS.pad, bos: SPECIALS.bos, eos: SPECIALS.eos, unk: SPECIALS.unk }, meta: {},
}, randomTensors(superTensorShapes(DEMO_SPACE, V), 5)));
const subBytes = exportSubTransformer(superFile, arch);
const sub = decodeModel(subBytes);
const protocol = protocolOf({ vocab: V, src_len: 3, tgt_len: 2, beam: 2, runs: 2, warmup: 0 });

describe("the model in each form", () => {
  it("sizes are hat quantize's files (int8: the linear8 file), latencies measured at each form", () => {
    const forms = measureForms(sub, modelArch(sub), { protocol, rounds: 2 });
    expect(forms.map((f) => f.quant)).toEqual(["f32", "int8", "linear8", "kmeans8", "kmeans4"]);
    const by = Object.fromEntries(forms.map((f) => [f.quant, f]));
    expect(by.f32.bytes).toBe(subBytes.length); // an f32 file is itself
    expect(by.kmeans4.bytes).toBe(quantizeModel(sub, { bits: 4, method: "kmeans" }).bytes.length);
    expect(by.int8.bytes).toBe(by.linear8.bytes);
    expect(by.kmeans4.bytes).toBeLessThan(by.kmeans8.bytes);
    expect(by.kmeans8.bytes).toBeLessThan(by.f32.bytes);
    for (const f of forms) {
      expect(f.protocol.quant).toBe(f.quant);
      expect(f.totalMs).toBeCloseTo(f.encoderMs + f.decoderMs, 9);
      expect(f.totalMs).toBeGreaterThan(0);
      expect(f.smaller).toBeCloseTo(by.f32.bytes / f.bytes, 9);
    }
    expect(modelArch(superFile)).toMatchObject({ decoderLayers: 2, encoderFfnDims: [256, 256] }); // a SuperTransformer: its largest
    expect(() => measureForms(sub, arch, { protocol, forms: ["int4" as never] })).toThrow(/form must be one of/);
  });

  it("the report shows each form's file and measured latency; hat report --model measures them", async () => {
    const rec: SearchRecord = { version: 1, createdAt: "2026-01-01T00:00:00Z", space: DEMO_SPACE, devices: [{ name: "here" }], settings: {}, wallSeconds: 1 };
    expect(renderReport(rec)).not.toMatch(/in each form/);
    const dir = mkdtempSync(join(tmpdir(), "hat-forms-"));
    writeFileSync(join(dir, "rec.json"), JSON.stringify(rec));
    writeFileSync(join(dir, "m.hatm"), subBytes);
    const r = await hat("report", "--record", join(dir, "rec.json"), "--out", join(dir, "r.html"), "--model", join(dir, "m.hatm"), "--forms", "f32,kmeans4", "--runs", "2", "--rounds", "1");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/kmeans4 .* KiB .*x smaller .* ms/);
    const html = readFileSync(join(dir, "r.html"), "utf8");
    expect(html).toMatch(/The model in each form/);
    expect(html).toMatch(new RegExp(`<td>f32</td><td>${(formBytes(sub, "f32") / 1024).toFixed(1)} KiB</td><td>1.00x</td>`));
    expect(html).toMatch(new RegExp(`<td>kmeans4</td><td>${(formBytes(sub, "kmeans4") / 1024).toFixed(1)} KiB</td>`));
    const bad = await hat("report", "--record", join(dir, "rec.json"), "--out", join(dir, "r2.html"), "--model", join(dir, "m.hatm"), "--forms", "f32,int3");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--quant must be one of/);
  });
});
