/** `hat train` -> `hat translate` -> `hat bleu` on the demo task, tiny budget; and bad flags. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hat } from "./hat.js";
import { main } from "../../cli/main.js";
import { demoTask } from "../../data/demo-task.js";
import { smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";

const dir = mkdtempSync(join(tmpdir(), "hat-train-cli-"));

describe("hat train / translate / bleu", () => {
  it("trains on the demo task, the model translates, BLEU is computed", async () => {
    const model = join(dir, "m.hatm");
    const t = await hat("train", "--demo", "--space", "demo", "--steps", "2", "--max-tokens", "300", "--vocab-size", "400", "--out", model, "--json");
    expect(t.code, t.err).toBe(0);
    const j = JSON.parse(t.out.trim().split("\n").pop()!);
    expect(j.steps).toBe(2);
    expect(Number.isFinite(j.valid_loss)).toBe(true);
    const info = JSON.parse((await hat("info", "--model", model, "--json")).out);
    expect(info.kind).toBe("supertransformer");

    const test = demoTask({ seed: 1, train: 10, valid: 10, test: 3 }).test;
    writeFileSync(join(dir, "src.txt"), test.src.join("\n") + "\n");
    writeFileSync(join(dir, "ref.txt"), test.tgt.join("\n") + "\n");
    let hyp = "";
    const code = await main(["translate", "--model", model, "--input", join(dir, "src.txt"), "--beam", "2"], { out: (s) => { hyp += s + "\n"; }, err: () => {} });
    expect(code).toBe(0);
    expect(hyp.split("\n").length - 1).toBe(3); // one line out per line in
    writeFileSync(join(dir, "hyp.txt"), hyp);
    const b = await hat("bleu", "--ref", join(dir, "ref.txt"), "--hyp", join(dir, "hyp.txt"), "--json");
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out).bleu).toBeGreaterThanOrEqual(0);
    // --lowercase: a hypothesis that differs from its reference only in case scores 100 only so
    writeFileSync(join(dir, "upper.txt"), test.tgt.map((s) => s.toUpperCase()).join("\n") + "\n");
    const cased = await hat("bleu", "--ref", join(dir, "ref.txt"), "--hyp", join(dir, "upper.txt"), "--json");
    const lower = await hat("bleu", "--ref", join(dir, "ref.txt"), "--hyp", join(dir, "upper.txt"), "--lowercase", "--json");
    expect(JSON.parse(cased.out).bleu).toBeLessThan(100);
    expect(JSON.parse(lower.out).bleu).toBeCloseTo(100, 6);
    // the checkpoint sits beside the model
    expect(readFileSync(model + ".ckpt").subarray(0, 4).toString()).toBe("HATM");
  });

  it("--init: a SuperTransformer's SubTransformer fine-tuned, then that compact model trained further as itself", async () => {
    const supernet = join(dir, "s.hatm"), arch = join(dir, "small.json"), ft = join(dir, "ft.hatm"), more = join(dir, "more.hatm");
    expect((await hat("train", "--demo", "--space", "demo", "--steps", "1", "--max-tokens", "300", "--vocab-size", "400", "--threads", "1", "--out", supernet)).code).toBe(0);
    writeFileSync(arch, JSON.stringify(smallestArch(DEMO_SPACE)));
    const a = await hat("train", "--demo", "--arch", arch, "--init", supernet, "--steps", "1", "--max-tokens", "300", "--threads", "1", "--out", ft, "--json");
    expect(a.code, a.err).toBe(0);
    const b = await hat("train", "--demo", "--init", ft, "--steps", "2", "--max-tokens", "300", "--threads", "1", "--out", more, "--json");
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out.trim().split("\n").pop()!).steps).toBe(2);
    const info = JSON.parse((await hat("info", "--model", more, "--json")).out);
    expect(info).toMatchObject({ kind: "subtransformer", arch: smallestArch(DEMO_SPACE) });
    for (const [argv, re] of [
      [["--init", supernet], /is a SuperTransformer: say which SubTransformer/],
      [["--init", ft, "--distill"], /--distill needs a teacher/],
      [["--init", ft, "--space", "demo"], /give exactly one of --space|--init goes with --arch/],
    ] as const) {
      const r = await hat("train", "--demo", "--steps", "1", "--out", join(dir, "bad.hatm"), ...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(re);
    }
  });

  it("bad flags are refused with exit code 2", async () => {
    const out = join(dir, "x.hatm");
    for (const argv of [
      ["train", "--demo", "--space", "demo", "--steps", "1", "--schedule", "linear", "--out", out],
      ["train", "--demo", "--space", "demo", "--arch", "a.json", "--steps", "1", "--out", out],
      ["train", "--src", "missing.en", "--tgt", "missing.de", "--valid-src", "v.en", "--valid-tgt", "v.de", "--space", "demo", "--steps", "1", "--out", out],
      ["train", "--demo", "--space", "demo", "--steps", "1"],
      ["bleu", "--ref", join(dir, "nope.txt"), "--hyp", join(dir, "nope.txt")],
    ]) {
      const r = await hat(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(2);
    }
  });
});
